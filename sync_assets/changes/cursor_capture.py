"""One cursor poll of a source (capture mode "cursor"): for sources without logical decoding.

A cursor only sees rows whose transactions had committed when it read, so the danger is a
writer that was still open: its rows can commit later *behind* the cursor (an `updated_at` taken
at its start, a sequence value taken before a faster writer's). Both cursor kinds guard that:

- timestamp cursors `(updated_at, key…)` never move past the start of the oldest transaction
  open on the source database just before the poll's snapshot, written to yet or not
  (`OpenTransactions`, which any role can read), and every poll re-reads a lookback window behind
  the cursor besides, for clocks that are not transaction start times. Re-reading is harmless:
  the merge writes only what differs.
- sequence cursors `[id]` advance only through contiguous ids. A gap is held open, and the rows
  after it re-read, until every transaction that was open when the gap was first seen has
  ended: those with an xid by the source snapshot's xmin passing the xmax recorded then, those
  without one yet (an id taken by `nextval` before the insert) by that transaction no longer
  being open (`OpenTransactions`, read just after the snapshot). Only then is it a rollback.
  No time is involved, so writers committing out of order lose nothing.

A poll first asks whether any write has committed on the source's server since the last poll
read it (`source_unchanged`); if none has, it reads nothing, so an idle poll costs two short
queries however large the tables (re-reading the lookback window is a full scan of a source
that has no index on its cursor column).

Hard deletes are invisible to a cursor: the nightly key comparison finds them. The position
(JSON) commits in the same warehouse transaction as the rows it covers.
"""

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa
from psycopg import sql

from resources.capture.state import ensure_state_table, read_position, store_position, stored_position
from resources.databases import same_server
from resources.sources import SourceDatabase, check_schema, check_sequence_cache, key_is_unique
from resources.warehouse import Warehouse, ensure_landing_table, merge_changes
from sync_assets.changes.log_capture import PollResult
from sync_assets.mappings import SourceTable


def _read_query(table: SourceTable, state: dict, label: str) -> sql.Composed:
    columns = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
    order = sql.SQL(", ").join(map(sql.Identifier, table.cursor))
    if table.cursor_kind == "sequence":
        where = sql.SQL("{} > {}").format(sql.Identifier(table.cursor[0]), sql.Literal(state.get("last", -(2**63))))
    elif "ts" in state:
        where = sql.SQL("{} >= {}::timestamptz - {}::interval").format(
            sql.Identifier(table.cursor[0]), sql.Literal(state["ts"]), sql.Literal(table.lookback)
        )
    else:
        where = sql.SQL("true")
    return sql.SQL(
        "COPY (SELECT row_number() OVER (ORDER BY {order})::bigint, 'insert'::text, {label}::text, {columns} "
        "FROM {table} WHERE {where}) TO STDOUT (FORMAT binary)"
    ).format(
        order=order, label=sql.Literal(label), columns=columns, table=sql.Identifier("public", table.table), where=where
    )


#: Every transaction open on the source database but the reader's, by virtual transaction id, with
#: its start where this role may see it. Each transaction holds the lock on its own vxid for its
#: whole life, written to yet or not, and pg_locks shows it to any role; pg_stat_activity shows
#: every session's database and user, but other roles' start times only to pg_read_all_stats.
#: Every process that runs as a user counts (clients, and background workers such as scheduled
#: jobs, which write too); one that never writes only holds the cursor back a little longer.
_OPEN_TRANSACTIONS = """
SELECT now()::text, coalesce(jsonb_object_agg(l.virtualtransaction, a.xact_start::text), '{}')
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'virtualxid' AND l.granted AND l.virtualxid = l.virtualtransaction
  AND a.datname = current_database() AND a.usesysid IS NOT NULL AND a.pid <> pg_backend_pid()
"""


@dataclass(frozen=True)
class OpenTransactions:
    """The transactions open on the source database when a poll read them: `starts` maps each
    (by vxid) to its start, or to a time before it where its session hides the start, or to
    None where nothing is known yet.

    A poll reads them twice, as each cursor kind needs. Just before its snapshot, for timestamp
    cursors: a writer open at the snapshot is then either listed, or started after `read_at`
    (the source's clock at that read). Just after it, for sequence cursors: a transaction that
    holds an id the snapshot does not show is still open then (or has committed, and the next
    poll sees its row).

    A hidden start is bounded by the poll before (`last`): a transaction its first read did not
    list started after its `read_at`, and one it listed keeps the bound it had then (None, if it
    had none, until it ends). A vxid can be used again by a later session; the later
    transaction then inherits an older bound, which only holds the cursor further back.

    Two gaps are left to the lookback window. A transaction's start time is taken as its first
    statement arrives, a moment before its vxid lock appears, so a writer starting just as a
    poll reads can be missing from the read yet have started before `read_at`. And a prepared
    transaction (two-phase commit) gives up its vxid lock at PREPARE TRANSACTION, so its rows
    are waited for only until then."""

    read_at: str
    starts: dict[str, str | None]

    @classmethod
    def read(cls, source: sa.Connection, last: dict) -> "OpenTransactions":
        """`last`: what the previous poll stored (`last_read`)."""
        read_at, starts = source.exec_driver_sql(_OPEN_TRANSACTIONS).one()
        bounds, previous = last.get("open", {}), last.get("read_at")
        return cls(read_at, {vxid: start or (bounds[vxid] if vxid in bounds else previous) for vxid, start in starts.items()})

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.starts)


def _next_sequence_state(
    cursor, stage: str, column: str, state: dict, snapshot: tuple[int, int], open_transactions: frozenset[str]
) -> dict:
    """Advance `last` through contiguous ids; hold a gap until its possible writers have ended.

    A transaction holding an id at or below the highest id seen took it before that row
    committed, so it was open when the gap was seen: either with an xid, then below that
    snapshot's xmax (`horizon`), or without one yet (`nextval` assigns none; the insert comes
    later), then among the transactions open at the time (`holders`, as `pid@start`). Once a
    later snapshot's xmin reaches `horizon` and none of `holders` is still open, every id up to
    the highest seen then (`horizon_max`) is final. A first read knows nothing final below its
    lowest id either: a writer may still hold a lower one.
    """
    xmin, xmax = snapshot
    first, top, run_end = cursor.execute(
        sql.SQL(
            "SELECT min({c}), max({c}), min({c}) FILTER (WHERE next <> {c} + 1) FROM "
            "(SELECT {c}, lead({c}) OVER (ORDER BY {c}) AS next FROM {s}) ids"
        ).format(c=sql.Identifier(column), s=sql.Identifier(stage))
    ).fetchone()
    if top is None:
        return state
    last = state.get("last")
    if last is None:
        contiguous_to = None
    elif first != last + 1:
        contiguous_to = last
    else:
        contiguous_to = run_end or top
    if contiguous_to == top:
        return {"last": top}
    held = {key: state[key] for key in ("horizon", "horizon_max", "holders") if key in state}
    if any("@" in holder for holder in held.get("holders", ())):
        held = {}  # holders stored as `pid@start` (before vxids) match nothing now: see the gap afresh
    if held and xmin >= held["horizon"] and not open_transactions.intersection(held.get("holders", ())):
        return {"last": held["horizon_max"] if contiguous_to is None else max(held["horizon_max"], contiguous_to)}
    if not held:
        held = {"horizon": xmax, "horizon_max": top, "holders": sorted(open_transactions)}
    return held if contiguous_to is None else {**held, "last": contiguous_to}


def _next_timestamp_state(cursor, stage: str, table: SourceTable, open_transactions: OpenTransactions) -> dict | None:
    """The cursor after this read: its newest timestamp, but never past the oldest open
    transaction's start, nor past the read of them (a writer that began after it may have been
    open at the snapshot). None (the cursor stays) when nothing was read, or when an open
    transaction's start is not known at all (the first poll by a role that cannot see it)."""
    starts = [*open_transactions.starts.values(), open_transactions.read_at]
    if None in starts:
        return None
    newest = cursor.execute(
        sql.SQL("SELECT least(max({c}), (SELECT min(s) FROM unnest(%s::timestamptz[]) s))::text FROM {t} "
                "HAVING max({c}) IS NOT NULL").format(c=sql.Identifier(table.cursor[0]), t=sql.Identifier(stage)),
        (starts,),
    ).fetchone()
    return None if newest is None else {"ts": newest[0]}


def _land_cursorless_tables(warehouse: Warehouse, source: SourceDatabase, tables: list[SourceTable]) -> dict:
    """Tables without a cursor (WMS sites, geofences) are copied whole the first time, so the model
    downstream has them; after that the snapshot comparison of master-data and nightly runs keeps them."""
    counts = {}
    with warehouse.engine().connect() as conn:
        for table in tables:
            if table.cursor_kind is None:
                exists = conn.exec_driver_sql(
                    f"SELECT to_regclass('landing.{table.landing_table}') IS NOT NULL"
                ).scalar()
                if not exists or not conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM landing.{table.landing_table})").scalar():
                    counts[table.name] = warehouse.load_snapshot(source, table).counts
    return counts


#: The stream whose position is the source snapshot the last cursor poll read (see `source_unchanged`).
SNAPSHOT_STREAM = "cursor:snapshot"


def _snapshot_parts(snapshot: str) -> tuple[int, frozenset[int]]:
    """'xmin:xmax:xip,…' → (xmax, xids running below xmax)."""
    _, xmax, xip = snapshot.split(":")
    return int(xmax), frozenset(int(x) for x in xip.split(",") if x)


def _finished_since(then: str, now: str) -> frozenset[int] | None:
    """The transactions that ended between two snapshots of one server (None: too many to list).

    A snapshot's xmax is one past the newest ended transaction, and it lists the ones running
    below that; so a transaction ended in between if it was listed then and is not now, or if
    it lies in [then's xmax, now's xmax) and is not listed now."""
    (then_xmax, then_running), (now_xmax, now_running) = _snapshot_parts(then), _snapshot_parts(now)
    if not 0 <= now_xmax - then_xmax <= 1000:
        return None
    return (then_running - now_running) | frozenset(range(then_xmax, now_xmax)) - now_running


def last_read(session: sa.Connection, system: str) -> dict:
    """What the last cursor poll of `system` stored about its read (SNAPSHOT_STREAM): the source
    snapshot, the warehouse transaction that stored it (`own`), the open transactions; {} before
    the first poll. `session`: the warehouse session holding the poll lock (state.polling)."""
    stored = stored_position(session, system, SNAPSHOT_STREAM)
    return json.loads(stored) if stored else {}


def source_unchanged(last: dict, source: SourceDatabase) -> bool:
    """Whether no transaction has ended on the source's server since the last cursor poll read
    it (`last`, from last_read): then nothing committed since, and a poll would read exactly
    what that one read.

    Exact, and two short queries at any table size, where a poll re-reads its lookback window
    (a full scan of a source without an index on the cursor column). The one transaction allowed
    to have ended is the warehouse transaction that stored the snapshot, when the warehouse
    shares the source's server.
    """
    if not last:
        return False
    with source.engine().connect() as src:
        now = src.exec_driver_sql("SELECT pg_current_snapshot()::text").scalar_one()
    finished = _finished_since(last["snapshot"], now)
    own = {int(last["own"])} if last.get("own") else set()
    return finished is not None and finished <= own


def poll_cursor(warehouse: Warehouse, session: sa.Connection, source: SourceDatabase,
                tables: list[SourceTable]) -> PollResult:
    """One poll; `session` is the warehouse session holding the poll lock (state.polling)."""
    started = time.perf_counter()
    result = PollResult(source.system, "cursor", None)
    last = last_read(session, source.system)
    if source_unchanged(last, source):
        result.seconds = time.perf_counter() - started
        return result
    result.counts.update(_land_cursorless_tables(warehouse, source, tables))
    with source.engine().connect() as src:
        open_before = OpenTransactions.read(src, last)
    with source.snapshot() as src, warehouse.engine().begin() as wh:
        src_cursor = src.connection.driver_connection.cursor()
        xmin, xmax, snapshot = src_cursor.execute(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint, s::text "
            "FROM pg_current_snapshot() s"
        ).fetchone()
        open_after = OpenTransactions.read(src, last)
        cursor = wh.connection.driver_connection.cursor()
        ensure_state_table(cursor)
        for table in tables:
            if table.cursor_kind is None:
                continue
            check_schema(src, table)
            if table.cursor_kind == "sequence":
                check_sequence_cache(src, table)
            ensure_landing_table(cursor, table)
            stream = f"cursor:{table.table}"
            stored = read_position(cursor, source.system, stream, lock=True)
            state = json.loads(stored) if stored else {}
            stage = f"changes_{table.landing_table}"
            Warehouse._create_stage(cursor, table, "_seq bigint, _op text, _lsn text, ", stage)
            label = "cursor:" + (stored or "start")
            with src_cursor.copy(_read_query(table, state, label)) as reader, cursor.copy(
                sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(sql.Identifier(stage))
            ) as writer:
                for chunk in reader:
                    writer.write(chunk)
            rows = cursor.rowcount
            if table.cursor_kind == "sequence":
                new_state = _next_sequence_state(
                    cursor, stage, table.cursor[0], state, (xmin, xmax), open_after.ids)
            else:
                new_state = _next_timestamp_state(cursor, stage, table, open_before) or state
            counts = merge_changes(cursor, table, stage, rows, unique_keys=key_is_unique(src, table))
            if new_state != state or counts.written:
                store_position(cursor, source.system, stream, json.dumps(new_state), counts.written)
            result.counts[table.name] = counts
            result.changes += counts.written
            result.transactions += rows
        shared = same_server(source.engine().url, warehouse.engine().url)
        own = cursor.execute("SELECT pg_current_xact_id()::text").fetchone()[0] if shared else None
        read = {"snapshot": snapshot, "own": own, "read_at": open_before.read_at, "open": open_before.starts}
        store_position(cursor, source.system, SNAPSHOT_STREAM, json.dumps(read), 0)
        result.position = f"snapshot xmin {xmin}"
    result.seconds = time.perf_counter() - started
    return result
