"""Which shipments a canonical refresh must recompute: the bookkeeping of the incremental refresh.

A full refresh recomputes a canonical table from all of landing; at a million orders that is
minutes per run, for the handful of shipments a poll or a night actually changed. So the
operational tables (shipments, loads, dispatches, vehicle events, PODs, milestones, charges,
disputes) are refreshed per shipment:

1. *Collect*: every landing row carries `_xid`, the transaction that last wrote it. The landing
   rows written since the last collection become shipment ids in `ops.pending_shipments` (a
   sequence-numbered log): the shipment each row belongs to now, and the one its canonical copy
   still points at, because a charge moved from A to B changes both. Rows whose change reaches
   every shipment (a site's time zone, a geofence) add a NULL entry, which means "everything".
   Waybill's own steps add the shipments whose milestones they change (readiness, invoices).
2. *Refresh*: each table recomputes the pending shipments it has not processed yet (its
   position in `ops.scope_progress`) with its usual query restricted to them, and merges within
   them: rows of those shipments the query no longer yields are deleted, others are untouched.
   A table processes entries only up to what its canonical inputs have processed, so a table
   refreshed before its input (a failed step, one asset materialised alone) sees those shipments
   again once the input has caught up.

Collection and refresh run in one REPEATABLE READ transaction that starts by locking the pending
log: the refresh reads exactly the landing state the collection saw, so no landing change can
reach a canonical table before its shipments are pending, and refreshes take turns.

The horizon is the collecting snapshot's xmin, not a timestamp: every transaction below it has
ended, so a row written by a transaction still open is collected next time, never skipped (the
rule the cursor capture uses at the sources). Rows seen by one collection may be collected again
by the next; recomputing a shipment twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.pending_shipments (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    shipment_id  text,   -- NULL: every shipment
    tables       text[]  -- the tables to recompute it; NULL: every per-shipment table
);
CREATE TABLE IF NOT EXISTS ops.scope_horizon (
    one      bool PRIMARY KEY DEFAULT true CHECK (one),
    horizon  xid8 NOT NULL
);
CREATE TABLE IF NOT EXISTS ops.scope_progress (
    table_name  text PRIMARY KEY,
    seq         bigint NOT NULL,  -- the last pending entry processed
    horizon     xid8 NOT NULL,    -- landing rows written by transactions from here on are unexamined
    row_count   bigint NOT NULL   -- the table's rows after that refresh (counting 5 M rows per poll is not free)
);
"""

#: The lock that orders collections, refreshes and Waybill's own additions to the log.
LOCK = "LOCK TABLE ops.pending_shipments IN EXCLUSIVE MODE"


@dataclass(frozen=True)
class Collector:
    """Landing rows changed since `%(since)s` → shipment ids (a row that maps to none, such as a
    telematics event of an unknown dispatch, changes no canonical row); `needs` are the tables it
    reads. An `everything` collector's query yields rows when every shipment must be recomputed."""

    needs: tuple[str, ...]
    query: str
    everything: bool = False


def _moved(landing: str, key: str, new_ref: str, canonical: str) -> tuple[Collector, Collector]:
    """The shipment a changed row points at now, and the one its canonical copy points at."""
    return (
        Collector((f"landing.{landing}",), f"SELECT {new_ref} FROM landing.{landing} r WHERE r._xid >= %(since)s"),
        Collector(
            (f"landing.{landing}", f"canonical.{canonical}"),
            f"SELECT c.shipment_id FROM landing.{landing} r JOIN canonical.{canonical} c USING ({key}) "
            "WHERE r._xid >= %(since)s",
        ),
    )


_DISPATCH_SHIPMENT = (
    "(SELECT canonical.shipment_id(d.shipment_ref) FROM landing.raw_fleet_dispatches d WHERE d.dispatch_id = r.dispatch_id)"
)

COLLECTORS = (
    Collector(("landing.raw_erp_sales_orders",),
              "SELECT r.order_id FROM landing.raw_erp_sales_orders r WHERE r._xid >= %(since)s"),
    *_moved("raw_wms_loads", "load_id", "canonical.shipment_id(r.ext_order_ref)", "loads"),
    *_moved("raw_fleet_dispatches", "dispatch_id", "canonical.shipment_id(r.shipment_ref)", "dispatches"),
    *_moved("raw_fleet_telematics_events", "event_uid", _DISPATCH_SHIPMENT, "vehicle_events"),
    *_moved("raw_fleet_proof_of_delivery", "pod_id", _DISPATCH_SHIPMENT, "proofs_of_delivery"),
    *_moved("raw_billing_charge_lines", "charge_id", "canonical.shipment_id(r.shipment_ref)", "charges"),
    *_moved("raw_billing_disputes", "dispute_id", "canonical.shipment_id(r.shipment_ref)", "disputes"),
    Collector(("landing.raw_edi_status_events",),  # either B10 reference may name the order
              "SELECT canonical.shipment_id(ref) FROM landing.raw_edi_status_events r, "
              "unnest(ARRAY[r.shipment_ref, r.carrier_ref]) ref WHERE r._xid >= %(since)s AND ref IS NOT NULL"),
    # master data that every shipment's rows depend on: a change means a full refresh
    Collector(("landing.raw_wms_sites",), "SELECT 1 FROM landing.raw_wms_sites r WHERE r._xid >= %(since)s", True),
    Collector(("landing.raw_fleet_geofences",), "SELECT 1 FROM landing.raw_fleet_geofences r WHERE r._xid >= %(since)s", True),
    # ERP locations: the ship-to's geofence (canonical.locations) and the zone of a carrier's local times
    Collector(("landing.raw_erp_locations",), "SELECT 1 FROM landing.raw_erp_locations r WHERE r._xid >= %(since)s", True),
)


def ensure_tables(cursor) -> None:
    cursor.execute(DDL)


def recompute_everything(cursor) -> None:
    """Have every per-shipment table recompute every shipment at its next refresh: what a replay
    of dead letters needs, as a row that maps only now (its mapping was fixed) belongs to no
    pending shipment."""
    ensure_tables(cursor)
    cursor.execute("INSERT INTO ops.pending_shipments (shipment_id) VALUES (NULL)")


def _existing(cursor, names: set[str]) -> set[str]:
    rows = cursor.execute(
        "SELECT n FROM unnest(%s::text[]) n WHERE to_regclass(n) IS NOT NULL", (sorted(names),)
    ).fetchall()
    return {n for (n,) in rows}


def collect(cursor) -> object:
    """Append the shipments of the landing rows changed since the last collection; the caller
    holds LOCK and runs in the snapshot its refresh will read. Returns the new horizon."""
    since = cursor.execute("SELECT horizon FROM ops.scope_horizon").fetchone()
    if since is None:
        cursor.execute("INSERT INTO ops.pending_shipments (shipment_id) VALUES (NULL)")
    else:
        present = _existing(cursor, {name for c in COLLECTORS for name in c.needs})
        usable = [c for c in COLLECTORS if set(c.needs) <= present]
        shipments = " UNION ALL ".join(f"({c.query})" for c in usable if not c.everything)
        everything = " OR ".join(f"EXISTS ({c.query})" for c in usable if c.everything) or "false"
        cursor.execute(
            "CREATE TEMP TABLE changed_shipments ON COMMIT DROP AS "
            f"SELECT DISTINCT shipment_id FROM ({shipments}) changed (shipment_id) WHERE shipment_id IS NOT NULL "
            f"UNION ALL SELECT NULL WHERE {everything}",
            {"since": since[0]},
        )
        # So many changed shipments that every table would recompute all of them anyway: one
        # "everything" entry instead of logging each (100 k rows written, read and deleted again).
        many = _mostly_everything(cursor, cursor.rowcount)
        cursor.execute(
            "INSERT INTO ops.pending_shipments (shipment_id) "
            + ("VALUES (NULL)" if many else "SELECT shipment_id FROM changed_shipments")
        )
        cursor.execute("DROP TABLE changed_shipments")
    return cursor.execute(
        "INSERT INTO ops.scope_horizon (horizon) VALUES (pg_snapshot_xmin(pg_current_snapshot())) "
        "ON CONFLICT (one) DO UPDATE SET horizon = EXCLUDED.horizon RETURNING horizon"
    ).fetchone()[0]


def add(cursor, table: str, shipments_query: str, params: dict | None = None) -> None:
    """Waybill's own steps: mark the shipments `shipments_query` yields as changed for `table`
    (their INVOICE_READY / INVOICED milestones), in the caller's transaction."""
    ensure_tables(cursor)
    cursor.execute(LOCK)
    cursor.execute(
        f"INSERT INTO ops.pending_shipments (shipment_id, tables) SELECT DISTINCT s, ARRAY[%(table)s] "
        f"FROM ({shipments_query}) q (s) WHERE s IS NOT NULL",
        {**(params or {}), "table": table},
    )


@dataclass(frozen=True)
class Scope:
    """What one refresh covers: everything (`full`), or the shipments in temp table `scope_shipments`.
    `since` is the horizon of the table's previous refresh (None before its first): landing rows
    written from there on are new to it."""

    table: str
    full: bool
    upto: int
    shipments: int
    since: object
    horizon: object
    rows_before: int | None

    def finish(self, cursor, rows: int) -> None:
        cursor.execute(
            "INSERT INTO ops.scope_progress (table_name, seq, horizon, row_count) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (table_name) DO UPDATE SET seq = greatest(ops.scope_progress.seq, EXCLUDED.seq), "
            "horizon = EXCLUDED.horizon, row_count = EXCLUDED.row_count",
            (self.table, self.upto, self.horizon, rows),
        )


#: Above this share of all shipments (and this many), a refresh recomputes everything instead:
#: per-shipment lookups cost more than one pass when most shipments changed.
FULL_REFRESH_SHARE, FULL_REFRESH_MIN = 0.25, 10_000


def _mostly_everything(cursor, shipments: int) -> bool:
    total = cursor.execute(
        "SELECT coalesce((SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = to_regclass('canonical.shipments')), 0)"
    ).fetchone()[0]
    return shipments > max(FULL_REFRESH_MIN, FULL_REFRESH_SHARE * total)


def begin(cursor, table: str, inputs: tuple[str, ...]) -> Scope:
    """Collect, then decide what `table` recomputes: the pending entries after its position, up
    to what each of its canonical `inputs` has processed. The transaction must be REPEATABLE READ
    with no query run yet (the snapshot is taken after the lock)."""
    cursor.execute(LOCK)
    horizon = collect(cursor)
    rows = cursor.execute("SELECT table_name, seq, horizon, row_count FROM ops.scope_progress").fetchall()
    progress = {name: seq for name, seq, _, _ in rows}
    since, rows_before = next(((h, n) for name, _, h, n in rows if name == table), (None, None))
    last = cursor.execute("SELECT coalesce(max(seq), 0) FROM ops.pending_shipments").fetchone()[0]
    start = progress.get(table)
    upto = min([last, *(progress.get(name, 0) for name in inputs)])
    upto = max(upto, start or 0)
    if progress:  # what every table has processed; a table not refreshed yet starts with a full refresh
        cursor.execute("DELETE FROM ops.pending_shipments WHERE seq <= %s", (min(progress.values()),))
    cursor.execute(
        "CREATE TEMP TABLE scope_shipments ON COMMIT DROP AS SELECT DISTINCT shipment_id FROM ops.pending_shipments "
        "WHERE seq > %s AND seq <= %s AND (tables IS NULL OR %s = ANY(tables))",
        (start or 0, upto, table),
    )
    cursor.execute("ANALYZE scope_shipments")
    shipments = cursor.execute("SELECT count(*) FROM scope_shipments").fetchone()[0]
    full = (
        start is None
        or cursor.execute("SELECT EXISTS (SELECT 1 FROM scope_shipments WHERE shipment_id IS NULL)").fetchone()[0]
        or _mostly_everything(cursor, shipments)  # a first night's invoices, say
    )
    return Scope(table, full, upto, shipments, since, horizon, rows_before)
