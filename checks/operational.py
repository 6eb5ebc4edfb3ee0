"""Quality gates on the canonical operational model: GX suites per table and SQL checks for what a
column expectation cannot say (milestone order, references). Charges and milestones feed money,
so their checks block whatever runs downstream of them in the same run."""

import great_expectations.expectations as gxe

from checks.factories import checks_for
from sync_assets.shipments.canonical import CHARGE_CODES, CHARGE_STATUSES

#: LANDSCAPE §5, in order.
MILESTONES = ["ORDERED", "RELEASED", "LOADED", "DEPARTED", "ARRIVED", "DELIVERED", "INVOICE_READY", "INVOICED"]
ORDER_STATUSES = ["OPEN", "RELEASED", "SHIPPED", "CLOSED", "CANCELLED"]

SUITES: dict[str, tuple[str, list]] = {
    "shipments": (
        "shipment_id",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="shipment_id"),
            gxe.ExpectColumnValuesToBeUnique(column="shipment_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
            gxe.ExpectColumnValuesToBeInSet(column="order_status", value_set=ORDER_STATUSES),
            gxe.ExpectColumnValuesToNotBeNull(column="correlation_id"),
        ],
    ),
    "shipment_milestones": (
        "shipment_id",
        [
            gxe.ExpectColumnValuesToBeInSet(column="milestone", value_set=MILESTONES),
            gxe.ExpectColumnValuesToNotBeNull(column="occurred_at"),
            gxe.ExpectColumnValuesToBeInSet(column="source", value_set=["erp", "wms", "fleet", "edi", "waybill"]),
        ],
    ),
    "charges": (
        "charge_id",
        [
            gxe.ExpectColumnValuesToBeInSet(column="charge_code", value_set=list(CHARGE_CODES)),
            gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(CHARGE_STATUSES)),
            # Shape only: `charge_lines.currency` is any char(3); a line in another currency than the
            # contract's is a CURRENCY_MISMATCH of its shipment (LANDSCAPE §5), not a stopped night.
            gxe.ExpectColumnValuesToMatchRegex(column="currency", regex="^[A-Z]{3}$"),
            gxe.ExpectColumnValuesToNotBeNull(column="amount"),
            gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=0),
        ],
    ),
    "inventory_positions": (
        "sku",
        [
            gxe.ExpectColumnValuesToNotBeNull(column="sku"),
            gxe.ExpectColumnValuesToNotBeNull(column="location_id"),
        ],
    ),
}

#: Shipments with two milestones whose times contradict LANDSCAPE order (ORDERED ≤ … ≤ DELIVERED).
_OUT_OF_ORDER = f"""
        SELECT DISTINCT a.shipment_id FROM canonical.shipment_milestones a
        JOIN canonical.shipment_milestones b ON b.shipment_id = a.shipment_id
         AND array_position(ARRAY{MILESTONES[:6]}::text[], b.milestone) > array_position(ARRAY{MILESTONES[:6]}::text[], a.milestone)
         AND b.occurred_at < a.occurred_at
        ORDER BY 1
"""

#: (asset, check name, description, query naming offending ids[, blocking]); blocking defaults to
#: whether the asset is in BLOCKING_ASSETS.
SQL_CHECKS = (
    (
        "shipment_milestones",
        "milestones_in_order",
        "A shipment's milestones happen in LANDSCAPE order (ORDERED ≤ RELEASED ≤ LOADED ≤ DEPARTED ≤ "
        "ARRIVED ≤ DELIVERED); names the shipments whose times contradict it. A warning, not a gate: "
        "each milestone's time comes from a different clock (a WMS clerk's, a truck's device, a carrier's "
        "214 to the minute), and no money rule depends on their order, so a contradiction is reported "
        "for the shipment without stopping every other shipment's reconciliation and invoice.",
        _OUT_OF_ORDER,
        False,
    ),
    (
        "charges",
        "charges_reference_known_shipments",
        "Every charge of a known shipment points at a shipment with a customer; orphans are reported by reconciliation.",
        """
        SELECT c.charge_id FROM canonical.charges c JOIN canonical.shipments s USING (shipment_id)
        WHERE s.customer_id IS NULL OR NOT EXISTS (SELECT 1 FROM canonical.customers k WHERE k.customer_id = s.customer_id)
        ORDER BY 1
        """,
    ),
)

BLOCKING_ASSETS = {"charges", "shipment_milestones"}

OPERATIONAL_CHECKS = checks_for(SUITES, SQL_CHECKS, BLOCKING_ASSETS)
