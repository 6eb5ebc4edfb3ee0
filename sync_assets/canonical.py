"""The canonical model's building block: a warehouse table rebuilt from one named query.

Every canonical table (master data, shipments, charges…) is a `CanonicalTable`: a DDL, a query
that yields one row per key, and the dead-letter rules for the landing rows that query cannot
map. A refresh runs the query once into a temporary table and merges it into `canonical.<name>`,
rewriting only rows that changed and deleting rows whose source is gone; then it records the
rows it could not map (resources/dead_letters.py). Both happen in the caller's transaction.
"""

from collections.abc import Callable
from dataclasses import dataclass

from psycopg import sql

from resources.dead_letters import DeadLetterRule, record_dead_letters
from resources.merge import MergeCounts, SnapshotMerge

#: SQL functions every canonical query may use: the LANDSCAPE §5 id rule and the correlation id.
FUNCTIONS = r"""
CREATE SCHEMA IF NOT EXISTS canonical;
CREATE OR REPLACE FUNCTION canonical.shipment_id(ref text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT regexp_replace(upper(btrim(ref)), '^([A-Z]+)-?([0-9]+)$', '\1-\2') $$;
CREATE OR REPLACE FUNCTION canonical.correlation_id(shipment_id text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT md5('waybill:' || shipment_id)::uuid::text $$;
"""


def ensure_functions(cursor) -> None:
    """Create the canonical SQL functions once per database (concurrent CREATE OR REPLACE can collide)."""
    exists = cursor.execute(
        "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'canonical' AND p.proname IN ('shipment_id', 'correlation_id')"
    ).fetchone()[0]
    if exists < 2:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('waybill.canonical.functions'))")
        cursor.execute(FUNCTIONS)


@dataclass(frozen=True)
class CanonicalTable:
    name: str
    key: tuple[str, ...]
    ddl: str  # column definitions, without the key constraint and `_synced_at`
    select: str  # yields exactly the DDL's columns, one row per key
    landing: tuple[str, ...]  # the assets it reads (landing or canonical)
    description: str
    dead_letters: tuple[DeadLetterRule, ...] = ()
    prepare: Callable[[object], object] | None = None  # idempotent DDL for inputs that may not exist yet

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(line.split()[0] for line in self.ddl.strip().splitlines())

    def create_statement(self) -> sql.Composed:
        return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, _synced_at timestamptz NOT NULL, PRIMARY KEY ({}))").format(
            sql.Identifier("canonical", self.name),
            sql.SQL(self.ddl.strip().rstrip(",")),
            sql.SQL(", ").join(map(sql.Identifier, self.key)),
        )

    def refresh(self, cursor) -> tuple[MergeCounts, int]:
        """Create the table if needed, merge the query's rows into it and record its dead letters;
        returns the merge counts and how many dead letters are open for this table.

        The query runs once into a temporary table: the merge reads its source three times, and
        re-running a de-duplicating sort over the whole landing table each time would triple the cost.
        """
        ensure_functions(cursor)
        if self.prepare:
            self.prepare(cursor)
        cursor.execute(self.create_statement())
        cursor.execute("SET LOCAL work_mem = '256MB'")
        stage = sql.Identifier(f"stage_canonical_{self.name}")
        cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP AS {}").format(
                stage, sql.SQL(", ").join(map(sql.Identifier, self.columns)), sql.SQL(self.select)
            )
        )
        cursor.execute(sql.SQL("ANALYZE {}").format(stage))
        counts = SnapshotMerge(
            target=("canonical", self.name),
            key=self.key,
            columns=self.columns,
            source=sql.SQL("SELECT * FROM {}").format(stage),
            tombstone=False,
        ).run(cursor)
        if counts.written:
            cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier("canonical", self.name)))
        dead = record_dead_letters(cursor, self.name, list(self.dead_letters))[0] if self.dead_letters else 0
        return counts, dead


