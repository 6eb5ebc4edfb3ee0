"""Change-capture benchmark: changes/s from source commit to canonical vs the raw slot drain, and idle polls.

In one process run, on one server:
  raw slot drain   `count(*)` over pg_logical_slot_peek_changes for N committed changes
                   (decoding only: the physical limit of the output plugin);
  log capture      Waybill's log poll of the same N changes into landing (peek, parse and COPY,
                   merge, position, slot advance; the detail splits it into those phases),
                   then with the canonical shipments refresh;
                   once per output plugin the server loads (test_decoding always; wal2json where
                   installed and allowed, e.g. the machine's server as .ci/run sets it up);
                   then log polls with nothing new right after the N changes, without waiting
                   (median of 20; the first also reads past the warehouse's own writes when, as
                   here, the warehouse shares the source's server);
  cursor capture   the same N changes by cursor poll into landing;
  idle poll        a poll with nothing new, log and cursor mode, with 10 k and 1 M rows in the
                   source table (median of 20), in the steady state (see `settle`); log mode
                   also with another database committing before each poll, and with a table of
                   the source that Waybill does not capture written before each. A cursor poll
                   reads only when a transaction has ended on the source's server since the last
                   one read (its lookback window is a full scan: the landscape has no index on
                   the cursor column).
DESIGN.md's baselines: slot drain 326 k changes/s (test_decoding); idle poll ~0.2 ms.
Targets: >= 100,000 changes/s applied; idle poll < 5 ms at any table size.

Usage: .venv/bin/python benchmarks/cdc.py [--changes 100000] [--big 1000000]
Runs on the embedded PostgreSQL unless WAYBILL_BENCH_PG_URL names an admin URL (the server
needs wal_level = logical), e.g. postgresql://postgres@127.0.0.1:5432/postgres.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from unittest import mock

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.batch_load import admin_url, create_database, drop_database  # noqa: E402
from resources.capture import log_reader  # noqa: E402
from resources.capture.log_reader import slot_name  # noqa: E402
from resources.databases import dispose_engines  # noqa: E402
from resources.sources import SourceDatabase  # noqa: E402
from resources.warehouse import ChangeStages, Warehouse  # noqa: E402
from sync_assets.changes import log_capture  # noqa: E402
from sync_assets.changes.poll import poll_source  # noqa: E402
from sync_assets.mappings import tables_of  # noqa: E402
from sync_assets.shipments.canonical import SHIPMENTS  # noqa: E402

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl" / "erp.sql"
INSERT_ORDERS = (
    "INSERT INTO sales_orders SELECT 'SO-' || lpad(g::text, 7, '0'), 'C000001', 'WH-ATL', 'CS-000001-01', NULL, "
    "'OPEN', %(at)s::timestamptz + g * %(step)s::interval, %(at)s::timestamptz + g * %(step)s::interval "
    "FROM generate_series(%(first)s::int, %(last)s::int) g"
)


#: Orders in the source before the changes (the small idle poll's size).
SMALL = 10_000
DROP_SLOTS = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()"


def usable_decoders(url: str) -> list[str]:
    """The output plugins the source server will load (a temporary slot each), in Waybill's order."""
    usable = []
    with psycopg.connect(url, autocommit=True) as conn:
        for plugin in log_reader.PREFERENCE:
            try:
                conn.execute("SELECT pg_create_logical_replication_slot(%s, %s, true)", (f"bench_probe_{plugin}", plugin))
                usable.append(plugin)
            except psycopg.Error:
                pass
    return usable


def raw_drain(conn: psycopg.Connection, plugin: str) -> tuple[int, float]:
    """(changes, seconds) to decode the slot's pending changes with the options the capture uses."""
    decoder = log_reader.DECODERS[plugin]
    options = list(decoder.options([("public", t.table) for t in tables_of("erp")], True))
    started = time.perf_counter()
    drained = conn.execute(
        "SELECT count(*) FROM pg_logical_slot_peek_changes(%s, NULL, NULL, VARIADIC %s::text[]) "
        "WHERE NOT starts_with(data, %s) AND NOT starts_with(data, %s)",
        (slot_name("erp", conn.info.dbname), options, decoder.begin, decoder.commit),
    ).fetchone()[0]
    return drained, time.perf_counter() - started


#: A slot whose restart point is this close to its confirmed position decodes next to nothing when idle.
SETTLED_BYTES = 1 << 20


def settle(admin: str, source_url: str, poll, timeout_s: float = 60.0) -> int:
    """Reach the steady state before timing idle polls; returns how far the slot's restart point
    is still behind its confirmed position (bytes).

    After a large change the slot's restart point stays behind until PostgreSQL logs which
    transactions are running (at a checkpoint, or by itself every 15 s of activity) and a poll
    moves the slot past that record; until then every peek decodes the WAL since the older
    point again (hundreds of ms after a million-row load). A transaction still open when the
    record is written (autovacuum's analyze, say) holds it back, hence the loop."""
    deadline = time.monotonic() + timeout_s
    query = (
        "SELECT coalesce(max(pg_wal_lsn_diff(confirmed_flush_lsn, restart_lsn)), 0)::bigint "
        "FROM pg_replication_slots WHERE database = current_database()"
    )
    while True:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
        poll()
        with psycopg.connect(source_url, autocommit=True) as conn:
            behind = conn.execute(query).fetchone()[0]
        if behind <= SETTLED_BYTES or time.monotonic() > deadline:
            return behind
        time.sleep(1)


def total_rows(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM sales_orders").fetchone()[0]


def idle_polls(admin: str, source_url: str, other_url: str, warehouse: Warehouse,
               source: SourceDatabase) -> list[tuple[str, float, str]]:
    """Median idle poll, log and cursor mode, at the source's present size, in the steady state.
    A log poll where no WAL was written since the last one decodes nothing; so it is measured
    again with one small transaction committed before each poll, as on a server that other
    applications write to: then it peeks the slot. Once in another database (`other_url`), once
    in a table of the source that Waybill does not capture (which test_decoding outputs)."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        rows = total_rows(conn)
    figures = []
    for mode in ("log", "cursor"):
        set_mode(mode)
        poll_source(warehouse, source)
        behind = settle(admin, source_url, lambda: poll_source(warehouse, source))
        samples = [timed(lambda: poll_source(warehouse, source)) for _ in range(20)]
        note = f"; slot restart point still {behind:,} bytes behind" if behind > SETTLED_BYTES else ""
        figures.append((f"idle poll, {mode}, {rows:,} rows", statistics.median(samples) * 1000, f"ms (median of 20){note}"))
        if mode == "log":
            for url, label, where in ((other_url, "others writing", "in another database"),
                                      (source_url, "other tables written", "to a table not captured")):
                with psycopg.connect(url, autocommit=True) as other:
                    other.execute("CREATE TABLE IF NOT EXISTS bench_other_writes (n int)")
                    samples = []
                    for _ in range(20):
                        other.execute("INSERT INTO bench_other_writes VALUES (1)")
                        samples.append(timed(lambda: poll_source(warehouse, source)))
                figures.append((f"idle poll, log, {rows:,} rows, {label}", statistics.median(samples) * 1000,
                                f"ms (median of 20; a commit {where} before each)"))
    return figures


class Phases:
    """Where a log poll's time goes, by wrapping its steps: decoding on the source (the peek's
    first batch: PostgreSQL runs the function to the end before it returns a row), fetching and
    parsing the rest (while the warehouse copies what is parsed: a large poll's inserts into
    landing, the rest into the staging tables), merging the staged changes into landing, and
    advancing the slot after the commit."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def _add(self, name: str, started: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def _timed(self, name: str, step):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return step(*args, **kwargs)
            finally:
                self._add(name, started)

        return timed

    def _timed_peek(self, peek):
        def timed_peek(reader, *args):
            started = time.perf_counter()
            for index, batch in enumerate(peek(reader, *args)):
                if index == 0:
                    self._add("decode", started)
                yield batch

        return timed_peek

    @contextlib.contextmanager
    def watching(self):
        with contextlib.ExitStack() as patches:
            for owner, name, wrap in (
                (log_reader.LogReader, "peek", self._timed_peek),
                (log_capture, "_read_changes", lambda step: self._timed("read", step)),
                (ChangeStages, "merge", lambda step: self._timed("merge", step)),
                (log_reader.LogReader, "advance", lambda step: self._timed("advance", step)),
            ):
                patches.enter_context(mock.patch.object(owner, name, wrap(getattr(owner, name))))
            yield self

    def describe(self) -> str:
        s = self.seconds
        return (f"decode {s.get('decode', 0):.2f}s, fetch+parse {s.get('read', 0) - s.get('decode', 0):.2f}s, "
                f"merge {s.get('merge', 0):.2f}s, slot advance {s.get('advance', 0):.2f}s")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def set_mode(mode: str) -> None:
    os.environ["WAYBILL_CAPTURE_ERP"] = mode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000, help="rows in the source for the large idle poll")
    args = parser.parse_args()

    admin = admin_url()
    suffix = uuid.uuid4().hex[:8]
    names = {"erp": f"bench_cdc_src_{suffix}", "warehouse": f"bench_cdc_wh_{suffix}"}
    urls = {role: create_database(admin, name) for role, name in names.items()}
    os.environ["WAYBILL_ERP_URL"] = urls["erp"]
    os.environ["WAYBILL_WAREHOUSE_URL"] = urls["warehouse"]
    warehouse, source = Warehouse(), SourceDatabase(system="erp")
    figures: list[tuple[str, float, str]] = []
    try:
        with psycopg.connect(urls["erp"], autocommit=True) as conn:
            conn.execute(DDL.read_text())
            conn.execute(INSERT_ORDERS, {"at": "2026-10-01", "step": "1 second", "first": 1, "last": SMALL})

        figures += idle_polls(admin, urls["erp"], urls["warehouse"], warehouse, source)
        rounds = [("log", plugin) for plugin in usable_decoders(urls["erp"])] + [("cursor", None)]
        for index, (mode, plugin) in enumerate(rounds):
            set_mode(mode)
            if plugin:
                with psycopg.connect(urls["erp"], autocommit=True) as conn:
                    conn.execute(DROP_SLOTS)
                log_reader.PREFERENCE = (plugin,)
            poll_source(warehouse, source)  # first poll: slot / cursor start + initial copy
            updates = args.changes // 10  # a tenth updates of existing orders, the rest new orders
            first_new = 1_000_001 + index * 1_000_000
            # The cursor round's changes are stamped as writers stamp them, now: a cursor never
            # moves past the time it reads (a row stamped later is read again until then). The
            # log rounds' changes lie days back, a second apart, so the cursor's lookback window
            # re-reads only their last minutes.
            at, step = ("now", "-1 microsecond") if mode == "cursor" else (f"2026-10-{2 + 3 * index:02d}", "1 second")
            label = f"{mode} capture ({plugin})" if plugin else f"{mode} capture"
            with psycopg.connect(urls["erp"], autocommit=True) as conn:
                conn.execute(
                    "UPDATE sales_orders SET status = %s, updated_at = %s::timestamptz + "
                    "substr(order_id, 4)::int * %s::interval WHERE order_id <= %s",
                    (("RELEASED", "SHIPPED", "CLOSED")[index % 3], at, step, f"SO-{updates:07d}"),
                )
                conn.execute(INSERT_ORDERS, {"at": at, "step": step, "first": first_new,
                                             "last": first_new + args.changes - updates - 1})
                if plugin:
                    drained, seconds = raw_drain(conn, plugin)
                    figures.append((f"raw slot drain ({plugin})", drained / seconds, f"{drained:,} changes in {seconds:.2f}s"))
            with Phases().watching() as phases:
                result = poll_source(warehouse, source)
            detail = f"{result.changes:,} changes in {result.seconds:.2f}s" + (f": {phases.describe()}" if plugin else "")
            figures.append((f"{label} into landing", result.changes / result.seconds, detail))

            started = time.perf_counter()
            refreshed = SHIPMENTS.refresh(warehouse.engine())
            canonical_seconds = time.perf_counter() - started
            total = result.seconds + canonical_seconds
            figures.append((f"{label} + canonical shipments", result.changes / total,
                            f"canonical refresh {canonical_seconds:.2f}s ({refreshed.describe()} of {refreshed.rows:,})"))
            if plugin:
                # No settling: the slot must restart after the change by itself (LogReader.log_running_transactions).
                first, *rest = [timed(lambda: poll_source(warehouse, source)) for _ in range(21)]
                figures.append((f"idle poll, log, right after the {result.changes:,} changes", statistics.median(rest) * 1000,
                                f"ms (median of 20; the first {first * 1000:.0f} ms reads past the warehouse's own writes)"))

        with psycopg.connect(urls["erp"], autocommit=True) as conn:
            conn.execute(INSERT_ORDERS, {"at": "2026-01-01", "step": "1 second", "first": 9_000_001,
                                          "last": 9_000_000 + args.big - total_rows(conn)})
            conn.execute("VACUUM ANALYZE sales_orders")
        figures += idle_polls(admin, urls["erp"], urls["warehouse"], warehouse, source)

        print(f"\n{'measure':<56}{'value':>14}  detail")
        for name, value, detail in figures:
            unit = "" if "idle" in name else " /s"
            print(f"{name:<56}{value:>14,.1f}{unit}  {detail}")
        print("\ntargets: >= 100,000 changes/s applied; idle poll < 5 ms at any table size")
    finally:
        dispose_engines()
        with psycopg.connect(urls["erp"], autocommit=True) as conn:
            conn.execute(DROP_SLOTS)
        for name in names.values():
            drop_database(admin, name)


if __name__ == "__main__":
    main()
