"""The invoices asset: post the day's invoice-ready shipments to the ERP, exactly once (posting.py)."""

import time

import dagster as dg

from resources.erp_posting import ErpPosting
from resources.warehouse import Warehouse
from sync_assets.invoicing.posting import post_invoices
from sync_assets.partitions import NIGHTLY_PARTITIONS, run_params
from sync_assets.reconciliation.assets import invoice_readiness


@dg.asset(
    group_name="invoicing",
    kinds={"postgres"},
    owners=["team:finance-data"],
    partitions_def=NIGHTLY_PARTITIONS,
    deps=[invoice_readiness, "charges", "customers"],
)
def invoices(context: dg.AssetExecutionContext, warehouse: Warehouse, erp_posting: ErpPosting) -> dg.MaterializeResult:
    """One invoice per invoice-ready shipment, posted with its lines (one per RATED charge line) to
    ERP `invoice_postings` / `invoice_posting_lines` in one transaction, recorded in
    invoicing.invoices. Idempotent by invoice_id (`INV-<order id>`): a rerun posts nothing new."""
    params = run_params(context.partition_key)
    started = time.perf_counter()

    def progress(result) -> None:
        context.log.info(f"{context.partition_key}: {result.posted} invoices posted, {result.found_posted} found already posted")

    result = post_invoices(warehouse.engine(), erp_posting.engine(), params, progress)
    context.log.info(
        f"{context.partition_key}: posted {result.posted} invoices ({result.lines} lines); "
        f"{result.found_posted} were already in the ERP and are now recorded"
    )
    return dg.MaterializeResult(
        metadata={
            "posted": dg.MetadataValue.int(result.posted),
            "found_posted": dg.MetadataValue.int(result.found_posted),
            "lines": dg.MetadataValue.int(result.lines),
            **{f"amount_{currency}": dg.MetadataValue.float(float(amount)) for currency, amount in sorted(result.amount.items())},
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )
