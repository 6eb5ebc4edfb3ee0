"""Quality gates on canonical master data: a GX suite per table and SQL checks GX cannot express.

Contracts feed every expected charge, so their checks block: a run that finds an unusable
contract stops before anything downstream computes money from it.
"""


import great_expectations.expectations as gxe

from checks.factories import checks_for

#: Governed code lists for master data (ISO 4217 currencies Waybill invoices in; location kinds).
CURRENCIES = ["USD", "EUR", "CAD", "GBP", "MXN"]
LOCATION_KINDS = ["WAREHOUSE", "CUSTOMER_SITE"]


def _id_rules(column: str) -> list:
    return [gxe.ExpectColumnValuesToNotBeNull(column=column), gxe.ExpectColumnValuesToBeUnique(column=column)]


SUITES: dict[str, tuple[str, list]] = {
    "customers": (
        "customer_id",
        [
            *_id_rules("customer_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="name"),
            gxe.ExpectColumnValuesToBeInSet(column="currency", value_set=CURRENCIES),
            gxe.ExpectColumnValuesToBeBetween(column="payment_terms_days", min_value=0, max_value=180),
        ],
    ),
    "items": (
        "sku",
        [
            *_id_rules("sku"),
            gxe.ExpectColumnValuesToNotBeNull(column="uom"),
            gxe.ExpectColumnValuesToBeBetween(column="unit_cost", min_value=0),
        ],
    ),
    "locations": (
        "location_id",
        [
            *_id_rules("location_id"),
            gxe.ExpectColumnValuesToBeInSet(column="kind", value_set=LOCATION_KINDS),
            gxe.ExpectColumnValuesToNotBeNull(column="timezone"),
            gxe.ExpectColumnValuesToBeBetween(column="latitude", min_value=-90, max_value=90),
            gxe.ExpectColumnValuesToBeBetween(column="longitude", min_value=-180, max_value=180),
            gxe.ExpectColumnValuesToNotBeNull(column="geofence_id"),
        ],
    ),
    "contracts": (
        "contract_id",
        [
            *_id_rules("contract_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="valid_from"),
            gxe.ExpectColumnValuesToBeInSet(column="currency", value_set=CURRENCIES),
            gxe.ExpectColumnValuesToBeBetween(column="rate_per_km", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="min_charge", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="fuel_surcharge_pct", min_value=0, max_value=100),
            gxe.ExpectColumnValuesToBeBetween(column="detention_free_minutes", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="detention_rate_per_hour", min_value=0),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="valid_to", column_B="valid_from", or_equal=True, ignore_row_if="either_value_is_missing"
            ),
        ],
    ),
}

#: SQL checks: (asset, name, description, query returning the offending ids).
SQL_CHECKS = (
    (
        "contracts",
        "one_contract_per_customer_per_day",
        "At most one contract is valid per customer per day (LANDSCAPE §1); two would make a price ambiguous.",
        """
        SELECT DISTINCT a.contract_id FROM canonical.contracts a JOIN canonical.contracts b
          ON a.customer_id = b.customer_id AND a.contract_id <> b.contract_id
         AND daterange(a.valid_from, a.valid_to, '[]') && daterange(b.valid_from, b.valid_to, '[]')
        ORDER BY 1
        """,
    ),
    (
        "locations",
        "warehouses_have_wms_site",
        "Every ERP warehouse has a WMS site in the crosswalk; without it WMS times and stock cannot be placed.",
        "SELECT location_id FROM canonical.locations WHERE kind = 'WAREHOUSE' AND wms_site_code IS NULL ORDER BY 1",
    ),
    (
        "locations",
        "timezones_are_iana",
        "Every location's timezone is a zone PostgreSQL knows, so local times convert to UTC.",
        """
        SELECT location_id FROM canonical.locations
        WHERE timezone IS NULL OR timezone NOT IN (SELECT name FROM pg_timezone_names) ORDER BY 1
        """,
    ),
)

#: Checks that stop downstream money work when they fail.
BLOCKING_ASSETS = {"contracts"}


MASTER_DATA_CHECKS = checks_for(SUITES, SQL_CHECKS, BLOCKING_ASSETS)
