"""The warehouse: where landing, canonical and reconciliation tables live (WAYBILL_WAREHOUSE_URL).

Schemas: `landing` (source tables as captured, with lineage columns), `canonical` (the shared
model), `ops` (Waybill's own bookkeeping). Bulk data moves with psycopg COPY; every change is a
set-based merge in one transaction with whatever it covers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import dagster as dg
import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from pydantic import Field

from resources.capture.test_decoding import KEY_CHANGE
from resources.databases import engine_for, resolve_url
from resources.merge import ChangeMerge, MergeCounts, SnapshotMerge, analyze_for_joins, column_list, key_match
from resources.sources import SourceDatabase, check_schema
from sync_assets.mappings import SourceTable

SCHEMAS = ("landing", "canonical", "ops")

#: Lineage columns every landing table carries after the source's own columns. The defaults
#: serve the straight COPY of a first load: the capture position comes from a transaction-local
#: setting, so a row can never land without one (current_setting raises when it is unset).
#: `_xid`, the id of the transaction that last wrote the row (indexed), is what the incremental
#: canonical refresh reads to find the rows changed since it last looked.
LINEAGE_COLUMNS = """
    _source_system    text NOT NULL DEFAULT {system},
    _source_pk        text GENERATED ALWAYS AS ({source_pk}) STORED,
    _capture_position text NOT NULL DEFAULT current_setting('waybill.capture_position'),
    _captured_at      timestamptz NOT NULL DEFAULT now(),
    _operation        text NOT NULL DEFAULT 'insert' CHECK (_operation IN ('insert', 'update', 'delete')),
    _xid              xid8 NOT NULL DEFAULT pg_current_xact_id()
"""


@dataclass(frozen=True)
class SnapshotResult:
    table: SourceTable
    rows: int
    counts: MergeCounts
    position: str
    seconds: float


def _source_pk_expression(table: SourceTable) -> sql.Composable:
    """`a || '|' || b::text`: the source key as one text value, for lineage and dead letters."""
    types = {c.name: c.type for c in table.columns}
    parts = [
        sql.Identifier(k) if types[k] == "text" else sql.SQL("{}::text").format(sql.Identifier(k)) for k in table.key
    ]
    return sql.SQL(" || '|' || ").join(parts)


def landing_ddl(table: SourceTable) -> sql.Composed:
    columns = sql.SQL(",\n    ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in table.columns
    )
    lineage = sql.SQL(LINEAGE_COLUMNS).format(system=sql.Literal(table.system), source_pk=_source_pk_expression(table))
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (\n    {},{},\n    PRIMARY KEY ({}))").format(
        sql.Identifier("landing", table.landing_table),
        columns,
        lineage,
        sql.SQL(", ").join(map(sql.Identifier, table.key)),
    )


def _relation_exists(cursor, schema: str, name: str) -> bool:
    return cursor.execute(
        "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL", (schema, name)
    ).fetchone()[0]


def ensure_index(cursor, schema: str, table: str, columns: str) -> None:
    """Index `schema.table` on `columns` (SQL written in code: columns or expressions) unless an
    index of that name exists. Checked first because CREATE INDEX IF NOT EXISTS still locks the
    table against writers until the end of the caller's (possibly long) transaction."""
    name = f"{table}_{'_'.join(filter(None, (''.join(ch if ch.isalnum() else ' ' for ch in columns)).split()))}"[:63]
    if not _relation_exists(cursor, schema, name):
        cursor.execute(
            sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                sql.Identifier(name), sql.Identifier(schema, table), sql.SQL(columns)
            )
        )


def drop_retired_index(cursor, schema: str, name: str) -> None:
    """Drop an index an earlier version created and nothing reads any more (every write paid for
    it). Checked first, so a warehouse without it takes no lock."""
    if _relation_exists(cursor, schema, name):
        cursor.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(schema, name)))


def ensure_landing_table(cursor, table: SourceTable) -> None:
    for schema in SCHEMAS:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cursor.execute(landing_ddl(table))
    ensure_index(cursor, "landing", table.landing_table, "_xid")
    if table.history:
        types = {c.name: c.type for c in table.columns}
        cols = [*table.key, *table.history]
        cursor.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ({}, first_updated_at timestamptz NOT NULL, PRIMARY KEY ({}))"
            ).format(
                history_table(table),
                sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(types[c])) for c in cols),
                sql.SQL(", ").join(map(sql.Identifier, cols)),
            )
        )


def history_table(table: SourceTable) -> sql.Identifier:
    return sql.Identifier("landing", f"{table.landing_table}_history")


def lock_landing(cursor, table: SourceTable) -> None:
    """One writer per landing table (and its history) at a time, until the transaction ends; readers go on."""
    cursor.execute(
        sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(sql.Identifier("landing", table.landing_table))
    )


def merge_keeping_history(
    cursor, table: SourceTable, rows: sql.Composable, merge: Callable[[], MergeCounts], unique_keys: bool = False
) -> MergeCounts:
    """Run `merge`, which rewrites landing rows from the relation `rows` (a staging table with the
    table's columns), keeping every value of `table.history` a landing row shows or has shown
    with the earliest `updated_at` it was seen with.

    The landing row itself says its current values were seen at its `updated_at`, so the history
    table holds only what the landing rows do not: values a row showed before (its own previous
    values, and the earlier changes of a batch), and current values first seen before the row's
    `updated_at`. A new row costs no history write; a status change costs one. Readers take the
    union of both (the RELEASED milestone, sync_assets/shipments/canonical.py). Values with a
    NULL in them are not kept: the history's key cannot hold one.

    Only keys whose landing row `rows` shows with other history values or another `updated_at`,
    and keys `rows` changes more than once (never, when the caller says its keys are
    `unique_keys`), can have history to write: a new key with one change lands with exactly the
    values and time its history would hold, and an unchanged one keeps them. Leaving those out
    keeps a poll of 90 k new orders, or a nightly snapshot of a million mostly unchanged ones,
    from grouping and probing every pair for nothing.

    Takes the landing table's lock, which every writer of the pair takes, so new pairs are found
    by anti-join rather than `ON CONFLICT`, which costs twice as much per row.
    """
    if not table.history:
        return merge()
    lock_landing(cursor, table)
    cols = [*table.key, *table.history]
    landing = sql.Identifier("landing", table.landing_table)
    names = column_list(cols)
    keys = column_list(table.key)
    repeated = "" if unique_keys else " UNION SELECT {keys} FROM {rows} GROUP BY {keys} HAVING count(*) > 1"
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE history_batch ON COMMIT DROP AS "
            "WITH old AS MATERIALIZED (SELECT {l_cols}, l.updated_at FROM {landing} l WHERE EXISTS ("
            "SELECT 1 FROM {rows} r WHERE {r_keys} AND ({r_seen}) IS DISTINCT FROM ({l_seen}))), "
            "kept AS (SELECT {keys} FROM old" + repeated + ") "
            "SELECT {cols}, min(updated_at) AS first_updated_at FROM ("
            "SELECT {cols}, updated_at FROM old UNION ALL "
            "SELECT {cols}, updated_at FROM {rows} WHERE ({keys}) IN (SELECT {keys} FROM kept)"
            ") AS seen WHERE updated_at IS NOT NULL AND {present} GROUP BY {cols}"
        ).format(
            cols=names, rows=rows, l_cols=column_list(cols, "l"), landing=landing, r_keys=key_match(table.key, "r", "l"),
            r_seen=column_list([*table.history, "updated_at"], "r"), l_seen=column_list([*table.history, "updated_at"], "l"),
            keys=keys, present=sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in table.history),
        )
    )
    counts = merge()
    analyze_for_joins(cursor, sql.Identifier("history_batch"))
    match = key_match(cols, "h", "b")
    cursor.execute(
        sql.SQL(
            "UPDATE {history} h SET first_updated_at = b.first_updated_at FROM history_batch b "
            "WHERE {match} AND b.first_updated_at < h.first_updated_at"
        ).format(history=history_table(table), match=match)
    )
    cursor.execute(
        sql.SQL(
            "INSERT INTO {history} ({cols}, first_updated_at) SELECT {cols}, first_updated_at FROM history_batch b "
            "WHERE NOT EXISTS (SELECT 1 FROM {history} h WHERE {match}) "
            "AND NOT EXISTS (SELECT 1 FROM {landing} l WHERE {shown} AND l.updated_at <= b.first_updated_at)"
        ).format(history=history_table(table), cols=names, match=match, landing=landing, shown=key_match(cols, "l", "b"))
    )
    cursor.execute("DROP TABLE history_batch")
    return counts


def merge_changes(cursor, table: SourceTable, stage: str, staged: int, unique_keys: bool = False) -> MergeCounts:
    """Merge a staging table of `staged` changes (`_seq`, `_op`, `_lsn`, the table's columns;
    see ChangeMerge) into landing and its history, then drop it. `unique_keys`: the caller
    knows no key is in it twice (a cursor read of a table whose primary key is within the
    mapped key), which spares picking the last change per key."""
    merge = ChangeMerge(("landing", table.landing_table), table.key, table.column_names, stage, unique_keys)
    # The stage's statistics and the memory keep the joins with landing hashed and in memory.
    analyze_for_joins(cursor, sql.Identifier(stage), table.key)
    cursor.execute("SET LOCAL work_mem = '256MB'")
    keys = merge.prepare(cursor)
    counts = merge_keeping_history(
        cursor, table, sql.Identifier(stage), lambda: merge.apply(cursor), unique_keys=unique_keys or keys == staged
    )
    cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(stage)))
    return counts


class Warehouse(dg.ConfigurableResource):
    """The warehouse database: WAYBILL_WAREHOUSE_URL, or the embedded server's `waybill` database."""

    url: str | None = Field(default=None, description="From WAYBILL_WAREHOUSE_URL; unset = embedded.")

    def engine(self) -> sa.Engine:
        return engine_for("warehouse", resolve_url("warehouse", self.url))

    def ensure_landing(self, table: SourceTable) -> None:
        with self.engine().begin() as conn:
            ensure_landing_table(conn.connection.driver_connection.cursor(), table)

    def load_snapshot(self, source: SourceDatabase, table: SourceTable) -> SnapshotResult:
        """Copy the whole source table into landing and merge it by key, in one warehouse transaction.

        The source is read in a repeatable-read snapshot whose id becomes the capture position.
        Rows stream from the source's COPY (binary: the schema check has just proved the types
        equal) into a temporary staging table, then one set-based merge applies inserts, updates
        and tombstones; unchanged rows are not touched. The first load of an empty landing table
        skips the staging table and copies straight in, which is what makes an initial load of a
        large table run at close to raw COPY speed.
        """
        started = time.perf_counter()
        self.ensure_landing(table)
        landing = sql.Identifier("landing", table.landing_table)
        columns = sql.SQL(", ").join(map(sql.Identifier, table.column_names))
        copy_out = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT (FORMAT binary)").format(
            columns, sql.Identifier("public", table.table)
        )
        with source.snapshot() as src, self.engine().begin() as wh:
            check_schema(src, table)
            position = "snapshot:" + src.execute(sa.text("SELECT pg_current_snapshot()::text")).scalar_one()
            cursor = wh.connection.driver_connection.cursor()
            lock_landing(cursor, table)
            cursor.execute("SELECT set_config('waybill.capture_position', %s, true)", (position,))
            initial = cursor.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(landing)).fetchone()[0]
            target = landing if initial else self._create_stage(cursor, table)
            copy_in = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT binary)").format(target, columns)
            with src.connection.driver_connection.cursor().copy(copy_out) as reader, cursor.copy(copy_in) as writer:
                for chunk in reader:
                    writer.write(chunk)
            rows = cursor.rowcount
            if initial:  # the rows show all their values: no history to write
                counts = MergeCounts(inserted=rows, updated=0, deleted=0)
            else:
                cursor.execute(sql.SQL("ANALYZE {}").format(target))
                cursor.execute("SET LOCAL work_mem = '256MB'")  # keeps the snapshot joins in memory
                merge = SnapshotMerge(
                    target=("landing", table.landing_table),
                    key=table.key,
                    columns=table.column_names,
                    source=sql.SQL("SELECT * FROM {}").format(target),
                    tombstone=True,
                )
                counts = merge_keeping_history(cursor, table, target, lambda: merge.run(cursor, position), unique_keys=True)
            if counts.written:
                # Fresh statistics keep the next run's key comparison on a hash join.
                cursor.execute(sql.SQL("ANALYZE {}").format(landing))
        return SnapshotResult(table, rows, counts, position, time.perf_counter() - started)

    @staticmethod
    def _fill_unchanged_toast(cursor, table: SourceTable, stage: sql.Identifier) -> None:
        """Give every update that left a large (TOASTed) value unchanged that value: the latest one
        an earlier change of the same key in this batch carried, else the one landing holds.

        An update that moved the row to a new key (the stage row after a KEY_CHANGE delete) takes
        the *old* key's value instead. Those are filled first, in rounds: a round fills the ones
        whose old key's latest value is known, which makes the next key change of a chain
        (A → B → C in one batch) known for the round after. Each filled column leaves the row's
        `_unchanged`, so the same-key pass that follows reads it as known."""
        partial = cursor.execute(
            sql.SQL("SELECT DISTINCT unnest(_unchanged) FROM {} WHERE _unchanged IS NOT NULL").format(stage)
        ).fetchall()
        landing = sql.Identifier("landing", table.landing_table)
        for (column,) in partial:
            if column not in table.column_names:
                continue
            parts = {"stage": stage, "col": sql.Identifier(column), "name": sql.Literal(column), "landing": landing,
                     "marker": sql.Literal(KEY_CHANGE)}
            unfilled_key_change = sql.SQL(
                "{name} = ANY(p._unchanged) AND EXISTS (SELECT 1 FROM {stage} k WHERE k._seq = p._seq - 1 "
                "AND k._op = 'delete' AND k._unchanged = {marker})"
            ).format(**parts)
            while True:
                cursor.execute(
                    sql.SQL(
                        "UPDATE {stage} u SET {col} = CASE WHEN src._seq IS NULL "
                        "THEN (SELECT l.{col} FROM {landing} l WHERE {landing_key}) ELSE src.{col} END, "
                        "_unchanged = array_remove(u._unchanged, {name}) "
                        "FROM {stage} m LEFT JOIN LATERAL (SELECT p._seq, p.{col}, {unfilled} AS waiting FROM {stage} p "
                        "WHERE {old_key} AND p._seq < m._seq AND p._op <> 'delete' "
                        "AND (NOT coalesce({name} = ANY(p._unchanged), false) OR {unfilled}) "
                        "ORDER BY p._seq DESC LIMIT 1) src ON true "
                        "WHERE m._seq = u._seq - 1 AND m._op = 'delete' AND m._unchanged = {marker} "
                        "AND {name} = ANY(u._unchanged) AND src.waiting IS NOT TRUE"
                    ).format(
                        **parts, unfilled=unfilled_key_change,
                        landing_key=key_match(table.key, "l", "m"), old_key=key_match(table.key, "p", "m"),
                    )
                )
                if cursor.rowcount <= 0:
                    break
            cursor.execute(
                sql.SQL(
                    "UPDATE {stage} s SET {col} = coalesce("
                    "(SELECT p.{col} FROM {stage} p WHERE {keys} AND p._seq < s._seq AND p._op <> 'delete' "
                    "AND NOT coalesce({name} = ANY(p._unchanged), false) ORDER BY p._seq DESC LIMIT 1), "
                    "(SELECT p.{col} FROM {landing} p WHERE {keys})) "
                    "WHERE {name} = ANY(s._unchanged)"
                ).format(**parts, keys=key_match(table.key, "p", "s"))
            )

    @staticmethod
    def _create_stage(cursor, table: SourceTable, extra: str = "", name: str | None = None) -> sql.Identifier:
        stage = sql.Identifier(name or f"stage_{table.landing_table}")
        cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}{}) ON COMMIT DROP").format(
                stage,
                sql.SQL(extra),
                sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in table.columns),
            )
        )
        return stage


class DirectInsertConflict(Exception):
    """An insert copied straight into landing met a key landing already holds (see ChangeStages)."""

    def __init__(self, table: tuple[str, str], message: str):
        super().__init__(message)
        self.table = table


class ChangeStages:
    """One poll's captured changes on their way into landing, written while the capture is still
    reading: the warehouse copies one batch while Python parses the next.

    `write_batch` takes the capture's parser output per captured table:
    - `rows`: COPY text lines `seq, op, lsn, columns…, unchanged` in commit order (the values are
      the source types' own text output, so COPY parses them with the column types). They go
      into a staging table per table, merged by key into landing and its history (`merge`).
    - `inserts`: landing COPY lines `columns…, lsn` of inserts, copied straight into landing. A
      new key with one change needs no merge and no history, and COPY's bulk insert is the
      cheapest way in: a poll of 90 k new orders and 10 k status changes took 1.24 s with every
      change through the stage and 0.96 s with the inserts straight in (merge 0.52 → 0.17 s). The
      merge of the staged changes runs after them, so a staged update of a key inserted in the
      same poll applies on top of it. A key landing already holds (an order deleted and created
      again, a change replayed over the first snapshot) fails the COPY with DirectInsertConflict,
      naming the table, and the caller reads the poll again with that table's inserts through the
      stage.

    A connection holds one COPY at a time, so a batch for another table (or the other kind of
    row) ends the open COPY and starts that one. Use it as a context manager around the read:
    leaving it ends the open COPY, and an error aborts it, so the caller's transaction rolls back
    cleanly.
    """

    def __init__(self, cursor, tables: dict[tuple[str, str], SourceTable]):
        self._cursor = cursor
        self._tables = tables
        self.staged: dict[tuple[str, str], int] = {}  # rows staged per table, in the order first seen
        self.inserted: dict[tuple[str, str], int] = {}  # inserts copied straight into landing per table
        self._copying: tuple[tuple[str, str], bool] | None = None  # (table, into landing) of the open COPY
        self._writer = None  # that COPY
        self._copy_scope = ExitStack()

    def __enter__(self) -> ChangeStages:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self._end_copy()
        self._copying = None
        self._copy_scope.__exit__(kind, error, traceback)

    def write_batch(self, rows: dict[tuple[str, str], list[str]], inserts: dict[tuple[str, str], list[str]]) -> None:
        """Write a batch's rows and inserts of each table and empty the lists; the open COPY's
        go first, so a batch that continues it and starts another switches once."""
        batch = [(key, False, lines) for key, lines in rows.items() if lines]
        batch += [(key, True, lines) for key, lines in inserts.items() if lines]
        for key, landing, lines in sorted(batch, key=lambda item: item[:2] != self._copying):
            self._write(key, landing, lines)
            lines.clear()

    def changes(self, key: tuple[str, str]) -> int:
        return self.staged.get(key, 0) + self.inserted.get(key, 0)

    def _write(self, key: tuple[str, str], landing: bool, rows: list[str]) -> None:
        table = self._tables[key]
        if key not in self.staged:
            self._end_copy()
            ensure_landing_table(self._cursor, table)
            Warehouse._create_stage(self._cursor, table, "_seq bigint, _op text, _lsn text, _unchanged text[], ", _stage_name(table))
            self.staged[key], self.inserted[key] = 0, 0
        if self._copying != (key, landing):
            self._end_copy()
            if landing:
                copy = sql.SQL("COPY {} ({}, _capture_position) FROM STDIN").format(
                    sql.Identifier("landing", table.landing_table), column_list(table.column_names)
                )
            else:
                copy = sql.SQL("COPY {} (_seq, _op, _lsn, {}, _unchanged) FROM STDIN").format(
                    sql.Identifier(_stage_name(table)), column_list(table.column_names)
                )
            self._writer = self._copy_scope.enter_context(self._cursor.copy(copy, writer=QueuedLibpqWriter(self._cursor)))
            self._copying = (key, landing)
        for start in range(0, len(rows), 5000):  # one write per block, not per row
            self._writer.write("".join(rows[start : start + 5000]))
        if landing:
            self.inserted[key] += len(rows)
        else:
            self.staged[key] += len(rows)

    def _end_copy(self) -> None:
        copying, self._copying = self._copying, None
        try:
            self._copy_scope.close()
        except psycopg.errors.UniqueViolation as conflict:
            if copying is not None and copying[1]:  # a COPY into landing
                raise DirectInsertConflict(copying[0], str(conflict).splitlines()[0]) from conflict
            raise

    def merge(self, key: tuple[str, str], truncated: bool = False) -> MergeCounts:
        """Merge one staged table into landing and its history (last change per key wins), in the
        caller's transaction; call after leaving the context. `truncated`: the stage holds a
        TRUNCATE of the table (the parser saw one). The counts include the direct inserts."""
        table = self._tables[key]
        staged, emptied, removed = self.staged[key], 0, 0
        if truncated:
            staged, emptied, removed = _apply_truncate(self._cursor, table, _stage_name(table), staged)
        counts = MergeCounts(self.inserted[key] - removed, 0, emptied)
        if not staged:
            self._cursor.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(_stage_name(table))))
            return counts
        Warehouse._fill_unchanged_toast(self._cursor, table, sql.Identifier(_stage_name(table)))
        return merge_changes(self._cursor, table, _stage_name(table), staged) + counts


def _apply_truncate(cursor, table: SourceTable, stage: str, staged: int) -> tuple[int, int, int]:
    """The source table was emptied (TRUNCATE) at a position inside this stage: drop the changes
    staged before its last TRUNCATE (the rows they wrote are gone; so are their values from the
    value history), and make a tombstone, at the TRUNCATE's position, of every landing row that no
    later change writes again. Rows this poll copied into landing (`_xid`: this transaction)
    came before the TRUNCATE (ChangeLines stops copying at one): they go as the staged ones do,
    without a trace, also where a later change writes their key again (that change finds no
    row, as in a poll that staged them). Returns (changes left in the stage, rows tombstoned,
    rows removed)."""
    stage_id = sql.Identifier(stage)
    seq, position = cursor.execute(
        sql.SQL("SELECT _seq, _lsn FROM {} WHERE _op = 'truncate' ORDER BY _seq DESC LIMIT 1").format(stage_id)
    ).fetchone()
    cursor.execute(sql.SQL("DELETE FROM {} WHERE _seq <= %s").format(stage_id), (seq,))
    staged -= cursor.rowcount
    lock_landing(cursor, table)
    landing, emptied = sql.Identifier("landing", table.landing_table), sql.SQL("NOT EXISTS (SELECT 1 FROM {} s WHERE {})").format(
        stage_id, key_match(table.key, "s", "t")
    )
    cursor.execute(sql.SQL("DELETE FROM {} t WHERE t._xid = pg_current_xact_id()").format(landing))
    removed = cursor.rowcount
    cursor.execute(
        sql.SQL(
            "UPDATE {} t SET _operation = 'delete', _capture_position = %s, _captured_at = now(), "
            "_xid = pg_current_xact_id() WHERE t._operation <> 'delete' AND {}"
        ).format(landing, emptied),
        (position,),
    )
    return staged, cursor.rowcount, removed


def _stage_name(table: SourceTable) -> str:
    return f"changes_{table.landing_table}"
