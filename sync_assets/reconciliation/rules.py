"""LANDSCAPE §5 as set-based SQL over the canonical model: one named query per rule.

Everything is evaluated at the run's as-of instant (`%(as_of)s`, the next midnight UTC after the
run's day), never the wall clock, so a day can be re-run and gives the same answer:
- a fact that carries its own business time counts only when that time is not after the as-of
  instant: PODs by `signed_at`, telematics by device time `occurred_at`, charge lines by
  `rated_at`, disputes by `opened_at`;
- stock is a balance, not an event: inventory compares the current ERP balance with the whole
  WMS ledger (filtering only one side by time would invent mismatches).

The rows of one run are tagged with its UTC day (`run_date`); writing a day replaces that day's
rows in one transaction, so a rerun leaves the same tables.

Where LANDSCAPE is silent, these choices are written down here and in the README:
- a REFUSED POD is no POD for every rule (it is not a delivery);
- the contract is the customer's contract valid on the POD's UTC date; for MISSING_POD (no POD
  yet) on the ARRIVED UTC date; several valid contracts are a data error (a blocking check) and the
  lowest contract_id is used meanwhile;
- "latest non-cancelled dispatch" is the one with the highest dispatch_id (ids grow with time);
- every charge rule, DUPLICATE_CHARGE and CURRENCY_MISMATCH included, waits for a POD
  ("charges on a shipment without a POD are not checked until it has one");
- `expected`/`actual` hold amounts as text with two decimals (RATE_MISMATCH: `CODE:amount`);
  INVENTORY_MISMATCH: expected = WMS ledger on-hand, actual = ERP qty_on_hand; DUPLICATE_CHARGE:
  actual = the duplicate lines' charge_ids; CURRENCY_MISMATCH: expected = contract currency,
  actual = the lines' currency; ORPHAN_RECORD: actual = `system:table:id`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_assets.shipments import scope as shipment_scope

#: LANDSCAPE §5, in the order of its table.
EXCEPTION_TYPES = (
    "UNBILLED_DELIVERY",
    "DETENTION_NOT_BILLED",
    "RATE_MISMATCH",
    "DUPLICATE_CHARGE",
    "CURRENCY_MISMATCH",
    "MISSING_POD",
    "INVENTORY_MISMATCH",
    "ORPHAN_RECORD",
)

#: Exception types that hold no shipment, so they never hold an invoice.
NOT_SHIPMENT_KEYED = ("INVENTORY_MISMATCH", "ORPHAN_RECORD")

ACCESSORIAL_CODES = ("LIFT", "INSD", "RESI")

DDL = """
CREATE SCHEMA IF NOT EXISTS reconciliation;
CREATE TABLE IF NOT EXISTS reconciliation.shipment_facts (
    run_date            date NOT NULL,
    shipment_id         text NOT NULL,
    customer_id         text,
    pod_id              text,
    pod_signed_at       timestamptz,
    arrived_at          timestamptz,
    exited_at           timestamptz,
    dwell_minutes       numeric,
    dispatch_id         text,
    distance_km         numeric(10,2),
    contract_id         text,
    contracts_valid     int NOT NULL,
    currency            char(3),
    expected_base       numeric(12,2),
    expected_fuel       numeric(12,2),
    expected_det        numeric(12,2),
    correlation_id      text,
    PRIMARY KEY (run_date, shipment_id)
);
CREATE TABLE IF NOT EXISTS reconciliation.expected_charges (
    run_date         date NOT NULL,
    shipment_id      text NOT NULL,
    charge_code      text NOT NULL,
    expected_amount  numeric(12,2) NOT NULL,
    currency         char(3),
    contract_id      text,
    correlation_id   text,
    PRIMARY KEY (run_date, shipment_id, charge_code)
);
CREATE TABLE IF NOT EXISTS reconciliation.reconciliation_exceptions (
    run_date        date NOT NULL,
    exception_type  text NOT NULL,
    exception_key   text NOT NULL,
    shipment_id     text,
    sku             text,
    location_id     text,
    expected        text,
    actual          text,
    amount_at_risk  numeric(14,2),
    currency        char(3),
    correlation_id  text,
    detected_at     timestamptz NOT NULL,
    PRIMARY KEY (run_date, exception_type, exception_key)
);
CREATE TABLE IF NOT EXISTS reconciliation.invoice_readiness (
    run_date          date NOT NULL,
    shipment_id       text NOT NULL,
    customer_id       text,
    pod_signed_at     timestamptz NOT NULL,
    contract_id       text,
    currency          char(3),
    rated_base_lines  int NOT NULL,
    open_disputes     int NOT NULL,
    open_exceptions   text[] NOT NULL,
    ready             bool NOT NULL,
    reason            text,
    correlation_id    text,
    PRIMARY KEY (run_date, shipment_id)
);
"""

#: The charge lines every rule sees: RATED, of a known shipment, rated by the as-of instant.
RATED_LINES = (
    """CREATE TEMP TABLE IF NOT EXISTS rated_lines ON COMMIT DROP AS
       SELECT charge_id, shipment_id, charge_code, quantity, amount, currency, correlation_id
       FROM canonical.charges
       WHERE status = 'RATED' AND NOT is_orphan AND rated_at <= %(as_of)s""",
    "CREATE INDEX IF NOT EXISTS rated_lines_shipment ON rated_lines (shipment_id, charge_code)",
    "ANALYZE rated_lines",
    """CREATE TEMP TABLE IF NOT EXISTS billed ON COMMIT DROP AS
       SELECT shipment_id, charge_code, sum(amount) AS total, count(*) AS lines
       FROM rated_lines GROUP BY shipment_id, charge_code""",
    "CREATE INDEX IF NOT EXISTS billed_shipment ON billed (shipment_id, charge_code)",
    "ANALYZE billed",
)

#: Per shipment with a POD or an arrival: the facts the money rules need, and BASE/FUEL/DET.
SHIPMENT_FACTS = """
    INSERT INTO reconciliation.shipment_facts
    WITH pod AS (
        SELECT DISTINCT ON (shipment_id) shipment_id, pod_id, signed_at
        FROM canonical.proofs_of_delivery
        WHERE is_delivery AND signed_at <= %(as_of)s
        ORDER BY shipment_id, signed_at, pod_id
    ),
    arrival AS (
        SELECT DISTINCT ON (e.shipment_id) e.shipment_id, e.geofence_id, e.occurred_at AS arrived_at
        FROM canonical.vehicle_events e
        JOIN canonical.shipments s ON s.shipment_id = e.shipment_id
        JOIN canonical.locations l ON l.location_id = s.ship_to AND l.geofence_id = e.geofence_id
        WHERE e.event_type = 'GEOFENCE_ENTER' AND e.occurred_at <= %(as_of)s
        ORDER BY e.shipment_id, e.occurred_at, e.event_uid
    ),
    departure AS (
        SELECT a.shipment_id, min(e.occurred_at) AS exited_at
        FROM arrival a
        JOIN canonical.vehicle_events e ON e.shipment_id = a.shipment_id AND e.geofence_id = a.geofence_id
        WHERE e.event_type = 'GEOFENCE_EXIT' AND e.occurred_at > a.arrived_at AND e.occurred_at <= %(as_of)s
        GROUP BY a.shipment_id
    ),
    dispatch AS (
        SELECT DISTINCT ON (shipment_id) shipment_id, dispatch_id, distance_km
        FROM canonical.dispatches WHERE NOT is_orphan AND status <> 'CANCELLED'
        ORDER BY shipment_id, dispatch_id DESC
    ),
    facts AS (
        SELECT s.shipment_id, s.customer_id, pod.pod_id, pod.signed_at, a.arrived_at, x.exited_at,
               d.dispatch_id, d.distance_km, s.correlation_id,
               (coalesce(pod.signed_at, a.arrived_at) AT TIME ZONE 'UTC')::date AS contract_day
        FROM canonical.shipments s
        LEFT JOIN pod ON pod.shipment_id = s.shipment_id
        LEFT JOIN arrival a ON a.shipment_id = s.shipment_id
        LEFT JOIN departure x ON x.shipment_id = s.shipment_id
        LEFT JOIN dispatch d ON d.shipment_id = s.shipment_id
        WHERE pod.shipment_id IS NOT NULL OR a.shipment_id IS NOT NULL
    ),
    valid_contracts AS (
        SELECT f.shipment_id, k.contract_id, count(*) OVER (PARTITION BY f.shipment_id) AS valid,
               row_number() OVER (PARTITION BY f.shipment_id ORDER BY k.contract_id) AS rank
        FROM facts f
        JOIN canonical.contracts k ON k.customer_id = f.customer_id
         AND f.contract_day BETWEEN k.valid_from AND coalesce(k.valid_to, 'infinity'::date)
    ),
    priced AS (
        SELECT f.*, k.contract_id, coalesce(v.valid, 0) AS contracts_valid, k.currency,
               k.fuel_surcharge_pct, k.detention_free_minutes, k.detention_rate_per_hour,
               round(greatest(k.min_charge, k.rate_per_km * f.distance_km), 2) AS base,
               extract(epoch FROM f.exited_at - f.arrived_at) AS dwell_seconds
        FROM facts f
        LEFT JOIN valid_contracts v ON v.shipment_id = f.shipment_id AND v.rank = 1
        LEFT JOIN canonical.contracts k ON k.contract_id = v.contract_id
    )
    SELECT %(run_date)s, shipment_id, customer_id, pod_id, signed_at, arrived_at, exited_at,
           dwell_seconds / 60, dispatch_id, distance_km, contract_id, contracts_valid, currency,
           base, round(base * fuel_surcharge_pct / 100, 2),
           -- (dwell - free minutes) / 60 x rate, multiplied before dividing so only the end rounds
           round(greatest(0, dwell_seconds - detention_free_minutes * 60) * detention_rate_per_hour / 3600, 2),
           correlation_id
    FROM priced
"""

EXPECTED_CHARGES = """
    INSERT INTO reconciliation.expected_charges
    SELECT run_date, shipment_id, code, amount, currency, contract_id, correlation_id
    FROM reconciliation.shipment_facts f,
         LATERAL (VALUES ('BASE', f.expected_base), ('FUEL', f.expected_fuel), ('DET', f.expected_det)) AS e(code, amount)
    WHERE f.run_date = %(run_date)s AND f.pod_signed_at IS NOT NULL AND f.contract_id IS NOT NULL
      AND (e.code <> 'DET' OR e.amount > 0)
    UNION ALL
    -- accessorials: quantity x the contract's rate per billed line (a code the contract lacks is 0)
    SELECT f.run_date, f.shipment_id, r.charge_code,
           sum(round(r.quantity * coalesce((k.accessorial_rates ->> r.charge_code)::numeric, 0), 2)),
           f.currency, f.contract_id, f.correlation_id
    FROM reconciliation.shipment_facts f
    JOIN canonical.contracts k ON k.contract_id = f.contract_id
    JOIN rated_lines r ON r.shipment_id = f.shipment_id AND r.charge_code IN ('LIFT', 'INSD', 'RESI')
    WHERE f.run_date = %(run_date)s AND f.pod_signed_at IS NOT NULL
    GROUP BY f.run_date, f.shipment_id, r.charge_code, f.currency, f.contract_id, f.correlation_id
"""


@dataclass(frozen=True)
class ExceptionRule:
    """One exception type of LANDSCAPE §5: a query yielding (exception_key, shipment_id, sku,
    location_id, expected, actual, amount_at_risk, currency, correlation_id)."""

    exception_type: str
    query: str


def _delivered(joins: str = "") -> str:
    """FROM … WHERE over the day's shipments with a POD, with extra joins."""
    return f"reconciliation.shipment_facts f {joins} WHERE f.run_date = %(run_date)s AND f.pod_signed_at IS NOT NULL"

RULES = (
    ExceptionRule(
        "UNBILLED_DELIVERY",
        f"""
        SELECT f.shipment_id, f.shipment_id, NULL, NULL, (f.expected_base + f.expected_fuel)::text, NULL,
               f.expected_base + f.expected_fuel, f.currency, f.correlation_id
        FROM {_delivered()}
          AND NOT EXISTS (SELECT 1 FROM billed b WHERE b.shipment_id = f.shipment_id AND b.charge_code = 'BASE')
        """,
    ),
    ExceptionRule(
        "DETENTION_NOT_BILLED",
        f"""
        SELECT f.shipment_id, f.shipment_id, NULL, NULL, f.expected_det::text, coalesce(b.total, 0)::numeric(12,2)::text,
               f.expected_det - coalesce(b.total, 0), f.currency, f.correlation_id
        FROM {_delivered("LEFT JOIN billed b ON b.shipment_id = f.shipment_id AND b.charge_code = 'DET'")}
          AND f.expected_det > 0 AND coalesce(b.total, 0) < f.expected_det - 0.01
        """,
    ),
    ExceptionRule(
        "RATE_MISMATCH",
        f"""
        SELECT f.shipment_id || ':' || b.charge_code, f.shipment_id, NULL, NULL,
               b.charge_code || ':' || coalesce(e.expected_amount, 0)::numeric(12,2),
               b.charge_code || ':' || b.total::numeric(12,2),
               abs(b.total - coalesce(e.expected_amount, 0)), f.currency, f.correlation_id
        FROM {_delivered(
            "JOIN billed b ON b.shipment_id = f.shipment_id "
            "LEFT JOIN reconciliation.expected_charges e "
            "ON e.run_date = f.run_date AND e.shipment_id = f.shipment_id AND e.charge_code = b.charge_code"
        )}
          AND f.contract_id IS NOT NULL
          AND abs(b.total - coalesce(e.expected_amount, 0)) > 0.01
          AND NOT (b.charge_code = 'DET' AND b.total < coalesce(e.expected_amount, 0))
        """,
    ),
    ExceptionRule(
        "DUPLICATE_CHARGE",
        f"""
        SELECT f.shipment_id, f.shipment_id, NULL, NULL, NULL, string_agg(d.charge_id, ',' ORDER BY d.charge_id),
               sum(d.amount), f.currency, f.correlation_id
        FROM {_delivered(
            "JOIN (SELECT *, row_number() OVER (PARTITION BY shipment_id, charge_code ORDER BY charge_id) AS n "
            "      FROM rated_lines WHERE charge_code IN ('BASE', 'FUEL')) d "
            "ON d.shipment_id = f.shipment_id AND d.n > 1"
        )}
        GROUP BY f.shipment_id, f.currency, f.correlation_id
        """,
    ),
    ExceptionRule(
        "CURRENCY_MISMATCH",
        f"""
        SELECT f.shipment_id, f.shipment_id, NULL, NULL, f.currency, string_agg(DISTINCT r.currency, ','),
               sum(r.amount), min(r.currency), f.correlation_id
        FROM {_delivered("JOIN rated_lines r ON r.shipment_id = f.shipment_id")}
          AND r.currency <> f.currency
        GROUP BY f.shipment_id, f.currency, f.correlation_id
        """,
    ),
    ExceptionRule(
        "MISSING_POD",
        """
        SELECT f.shipment_id, f.shipment_id, NULL, NULL, (f.expected_base + f.expected_fuel)::text, NULL,
               f.expected_base + f.expected_fuel, f.currency, f.correlation_id
        FROM reconciliation.shipment_facts f
        WHERE f.run_date = %(run_date)s AND f.pod_signed_at IS NULL
          AND f.arrived_at < %(as_of)s - interval '24 hours'
        """,
    ),
    ExceptionRule(
        "INVENTORY_MISMATCH",
        """
        SELECT sku || '@' || location_id, NULL, sku, location_id, wms_qty::text, erp_qty::text,
               round(abs(difference) * unit_cost, 2), NULL, NULL
        FROM canonical.inventory_positions WHERE difference <> 0
        """,
    ),
    ExceptionRule(
        "ORPHAN_RECORD",
        """
        SELECT DISTINCT ON (ref) ref, NULL, NULL, NULL, NULL, ref, amount, currency, NULL
        FROM (
            SELECT 'wms:loads:' || load_id AS ref, NULL::numeric AS amount, NULL AS currency
            FROM canonical.loads WHERE is_orphan
            UNION ALL
            SELECT 'fleet:dispatches:' || dispatch_id, NULL, NULL FROM canonical.dispatches WHERE is_orphan
            UNION ALL
            SELECT 'billing:charge_lines:' || charge_id, amount, currency
            FROM canonical.charges WHERE is_orphan AND rated_at <= %(as_of)s
            UNION ALL
            SELECT 'edi:' || file_name || ':' || shipment_ref, NULL, NULL
            FROM landing.raw_edi_status_events e  -- neither B10-02 nor B10-01 names an order
            WHERE shipment_ref IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM canonical.shipments s
                WHERE s.shipment_id IN (canonical.shipment_id(e.shipment_ref), canonical.shipment_id(e.carrier_ref)))
            UNION ALL
            SELECT 'edi:' || file_name || ':' || shipment_ref, NULL, NULL
            FROM canonical.carrier_charges WHERE is_orphan AND shipment_ref IS NOT NULL
        ) orphans
        ORDER BY ref
        """,
    ),
)

READINESS = """
    INSERT INTO reconciliation.invoice_readiness
    WITH base_lines AS (
        SELECT shipment_id, lines FROM billed WHERE charge_code = 'BASE'
    ),
    disputed AS (
        SELECT shipment_id, count(*) AS open FROM canonical.disputes
        WHERE status = 'OPEN' AND NOT is_orphan AND opened_at <= %(as_of)s GROUP BY shipment_id
    ),
    held AS (
        SELECT shipment_id, array_agg(DISTINCT exception_type ORDER BY exception_type) AS types
        FROM reconciliation.reconciliation_exceptions
        WHERE run_date = %(run_date)s AND shipment_id IS NOT NULL GROUP BY shipment_id
    ),
    judged AS (
        SELECT f.*, coalesce(b.lines, 0) AS base_lines, coalesce(d.open, 0) AS disputes,
               coalesce(h.types, '{}') AS types
        FROM reconciliation.shipment_facts f
        LEFT JOIN base_lines b ON b.shipment_id = f.shipment_id
        LEFT JOIN disputed d ON d.shipment_id = f.shipment_id
        LEFT JOIN held h ON h.shipment_id = f.shipment_id
        WHERE f.run_date = %(run_date)s AND f.pod_signed_at IS NOT NULL
    )
    SELECT run_date, shipment_id, customer_id, pod_signed_at, contract_id, currency, base_lines, disputes, types,
           base_lines > 0 AND disputes = 0 AND cardinality(types) = 0 AND contract_id IS NOT NULL,
           concat_ws('; ',
                     CASE WHEN base_lines = 0 THEN 'no RATED BASE line' END,
                     CASE WHEN disputes > 0 THEN disputes || ' open dispute(s)' END,
                     CASE WHEN cardinality(types) > 0 THEN 'open exception(s): ' || array_to_string(types, ', ') END,
                     CASE WHEN contract_id IS NULL THEN 'no contract valid on the POD date' END),
           correlation_id
    FROM judged
"""


#: Shipments whose INVOICE_READY milestone (their first ready day) this day's judgement changes:
#: newly ready, or ready before a rerun of the day and not any more.
NEW_INVOICE_READY = """
    (SELECT r.shipment_id FROM reconciliation.invoice_readiness r
     WHERE r.run_date = %(run_date)s AND r.ready AND r.shipment_id NOT IN (SELECT shipment_id FROM was_ready)
       AND NOT EXISTS (SELECT 1 FROM reconciliation.invoice_readiness e
                       WHERE e.shipment_id = r.shipment_id AND e.ready AND e.run_date < r.run_date))
    UNION ALL
    (SELECT shipment_id FROM was_ready
     EXCEPT SELECT shipment_id FROM reconciliation.invoice_readiness WHERE run_date = %(run_date)s AND ready)
"""


def _replace_day(cursor, table: str, run_date) -> None:
    cursor.execute(f"DELETE FROM reconciliation.{table} WHERE run_date = %s", (run_date,))


def prepare(cursor, params: dict) -> None:
    """Create the tables and the charge lines every rule of this transaction reads."""
    cursor.execute(DDL)
    cursor.execute("SET LOCAL work_mem = '256MB'")
    for statement in RATED_LINES:
        cursor.execute(statement, params)


def compute_expected_charges(cursor, params: dict) -> int:
    """Shipment facts and expected charges for the day; returns the expected charge rows."""
    prepare(cursor, params)
    for table in ("expected_charges", "shipment_facts"):
        _replace_day(cursor, table, params["run_date"])
    cursor.execute(SHIPMENT_FACTS, params)
    cursor.execute("ANALYZE reconciliation.shipment_facts")
    cursor.execute(EXPECTED_CHARGES, params)
    return cursor.rowcount


def compute_exceptions(cursor, params: dict) -> dict[str, int]:
    """Every rule's exceptions for the day, replacing the day's rows; returns counts per type."""
    prepare(cursor, params)
    _replace_day(cursor, "reconciliation_exceptions", params["run_date"])
    counts = {}
    for rule in RULES:
        cursor.execute(
            "INSERT INTO reconciliation.reconciliation_exceptions "
            "(run_date, exception_type, exception_key, shipment_id, sku, location_id, expected, actual, "
            f"amount_at_risk, currency, correlation_id, detected_at) SELECT %(run_date)s, %(type)s, r.*, %(as_of)s "
            f"FROM ({rule.query}) r",
            {**params, "type": rule.exception_type},
        )
        counts[rule.exception_type] = cursor.rowcount
    return counts


def compute_readiness(cursor, params: dict) -> tuple[int, int]:
    """Judge every delivered shipment for the day; returns (delivered, invoice-ready)."""
    prepare(cursor, params)
    cursor.execute(
        "CREATE TEMP TABLE was_ready ON COMMIT DROP AS SELECT shipment_id FROM reconciliation.invoice_readiness "
        "WHERE run_date = %(run_date)s AND ready",
        params,
    )
    _replace_day(cursor, "invoice_readiness", params["run_date"])
    cursor.execute(READINESS, params)
    delivered = cursor.rowcount
    shipment_scope.add(cursor, "shipment_milestones", NEW_INVOICE_READY, params)
    ready = cursor.execute(
        "SELECT count(*) FROM reconciliation.invoice_readiness WHERE run_date = %(run_date)s AND ready", params
    ).fetchone()[0]
    return delivered, ready
