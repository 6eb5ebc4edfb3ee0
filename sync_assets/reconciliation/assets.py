"""Reconciliation assets (LANDSCAPE §5), one partition per UTC day, evaluated at its as-of instant.

The asset functions only run the named queries of rules.py in one warehouse transaction and
report; the checks that protect money are declared here as blocking check specs, evaluated by
the asset itself because they are about the day it has just computed.
"""

import time

import dagster as dg

from checks import results

from resources.warehouse import Warehouse
from sync_assets.partitions import NIGHTLY_PARTITIONS, run_params
from sync_assets.reconciliation import rules

CONTRACT_CHECK = "one_contract_per_delivery"
BILLABLE_CHECK = "ready_shipments_are_billable"


def _offending(cursor, query: str, params: dict) -> list[str]:
    return [row[0] for row in cursor.execute(query, params).fetchall()]


def _check(context, warehouse: Warehouse, asset: str, name: str, offending: list[str], description: str) -> dg.AssetCheckResult:
    """The result of a blocking check this asset evaluates itself, recorded for the report."""
    result = results.offending_result(offending, asset=asset, check=name, description=description)
    return results.record(warehouse.engine(), asset, name, result, blocking=True, description=description,
                          run_id=context.run_id)


@dg.asset(
    group_name="reconciliation",
    kinds={"postgres"},
    owners=["team:finance-data"],
    partitions_def=NIGHTLY_PARTITIONS,
    deps=["shipments", "proofs_of_delivery", "vehicle_events", "dispatches", "contracts", "locations", "charges"],
    check_specs=[
        dg.AssetCheckSpec(
            CONTRACT_CHECK,
            asset="expected_charges",
            blocking=True,
            description="Every shipment with a POD has exactly one contract valid on the POD's UTC date: "
            "without it nothing can be priced or invoiced.",
        )
    ],
)
def expected_charges(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """What each delivered shipment should have been charged, per code (LANDSCAPE §5 formulas),
    with the facts they come from in reconciliation.shipment_facts (POD, ARRIVED, dwell, distance,
    contract) so every amount can be traced."""
    params = run_params(context.partition_key)
    started = time.perf_counter()
    with warehouse.engine().begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        rows = rules.compute_expected_charges(cursor, params)
        unpriced = _offending(
            cursor,
            "SELECT shipment_id || ' (' || contracts_valid || ' contracts)' FROM reconciliation.shipment_facts "
            "WHERE run_date = %(run_date)s AND pod_signed_at IS NOT NULL AND contracts_valid <> 1 ORDER BY shipment_id",
            params,
        )
        delivered = cursor.execute(
            "SELECT count(*) FROM reconciliation.shipment_facts WHERE run_date = %(run_date)s AND pod_signed_at IS NOT NULL",
            params,
        ).fetchone()[0]
    context.log.info(f"{context.partition_key}: {delivered} delivered shipments, {rows} expected charges")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(rows),
            "delivered_shipments": dg.MetadataValue.int(delivered),
            "as_of": dg.MetadataValue.text(params["as_of"].isoformat()),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )
    yield _check(context, warehouse, "expected_charges", CONTRACT_CHECK, unpriced, "delivered shipments without exactly one valid contract")


@dg.asset(
    group_name="reconciliation",
    kinds={"postgres"},
    owners=["team:finance-data"],
    partitions_def=NIGHTLY_PARTITIONS,
    deps=[expected_charges, "inventory_positions", "loads", "carrier_charges", "shipments", "dispatches", "charges"],
)
def reconciliation_exceptions(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Every LANDSCAPE §5 exception open at the day's as-of instant, one row per (type, key), with
    amounts at risk and correlation ids: what finance reads each morning (CSV in the report)."""
    params = run_params(context.partition_key)
    started = time.perf_counter()
    with warehouse.engine().begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        counts = rules.compute_exceptions(cursor, params)
        at_risk = cursor.execute(
            "SELECT coalesce(sum(amount_at_risk), 0) FROM reconciliation.reconciliation_exceptions "
            "WHERE run_date = %(run_date)s",
            params,
        ).fetchone()[0]
    context.log.info(f"{context.partition_key}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(counts.values())),
            **{kind.lower(): dg.MetadataValue.int(n) for kind, n in counts.items()},
            "amount_at_risk": dg.MetadataValue.float(float(at_risk)),
            "as_of": dg.MetadataValue.text(params["as_of"].isoformat()),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(
    group_name="reconciliation",
    kinds={"postgres"},
    owners=["team:finance-data"],
    partitions_def=NIGHTLY_PARTITIONS,
    deps=[reconciliation_exceptions, "disputes", "customers"],
    check_specs=[
        dg.AssetCheckSpec(
            BILLABLE_CHECK,
            asset="invoice_readiness",
            blocking=True,
            description="Every invoice-ready shipment has a known customer with payment terms and a "
            "positive RATED total in its contract's currency: otherwise its invoice would be wrong.",
        )
    ],
)
def invoice_readiness(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Every delivered shipment judged against LANDSCAPE §5's invoice-ready rule (POD, a RATED BASE
    line, no OPEN dispute, no open exception on it), with the reason when it is not ready."""
    params = run_params(context.partition_key)
    with warehouse.engine().begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        delivered, ready = rules.compute_readiness(cursor, params)
        unbillable = _offending(
            cursor,
            """
            SELECT r.shipment_id FROM reconciliation.invoice_readiness r
            LEFT JOIN canonical.customers c ON c.customer_id = r.customer_id
            LEFT JOIN (SELECT shipment_id, sum(amount) AS total FROM rated_lines GROUP BY shipment_id) l ON l.shipment_id = r.shipment_id
            WHERE r.run_date = %(run_date)s AND r.ready
              AND (c.payment_terms_days IS NULL OR r.currency IS NULL OR coalesce(l.total, 0) <= 0)
            ORDER BY 1
            """,
            params,
        )
    context.log.info(f"{context.partition_key}: {delivered} delivered shipments, {ready} invoice-ready")
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(delivered),
            "invoice_ready": dg.MetadataValue.int(ready),
            "held": dg.MetadataValue.int(delivered - ready),
        }
    )
    yield _check(context, warehouse, "invoice_readiness", BILLABLE_CHECK, unbillable, "invoice-ready shipments that cannot be billed")


RECONCILIATION_ASSETS = [expected_charges, reconciliation_exceptions, invoice_readiness]
