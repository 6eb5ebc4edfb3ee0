"""Dead letters: records that failed mapping, kept with their payload, reason and source position.

Canonical assets are set-based: each mapping has a query for the rows it cannot map (an id that
does not normalise, a WMS site missing from the crosswalk, an unknown code). Those rows are
written here instead of being dropped, once per (source table, source key, reason); a row that
maps later (its master data arrived, the mapping was fixed) is marked resolved by the next run,
and `waybill deadletter replay` re-runs the canonical assets so that happens at once.

A dead letter stops failing for one of three reasons, kept in `resolution` because they mean
different things to whoever follows the record up: the row now maps (`mapped`), the source
deleted the row (`source row deleted`: it never reached canonical), or the row now fails for
another reason, which is a new dead letter (`fails for another reason`).
"""

from dataclasses import dataclass

from psycopg import sql

DEAD_LETTER_DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.dead_letters (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_table      text NOT NULL,
    source_pk         text NOT NULL,
    reason            text NOT NULL,
    payload           jsonb NOT NULL,
    capture_position  text,
    mapped_by         text NOT NULL,
    first_seen_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at       timestamptz,
    resolution        text,
    UNIQUE (source_table, source_pk, reason)
);
DO $$ BEGIN  -- a warehouse made before dead letters kept their resolution
    -- Checked first, as the ALTER locks the table even when the column exists. IF NOT EXISTS:
    -- two refreshes may both find it missing; the second then waits for the first to commit.
    IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = 'ops' AND table_name = 'dead_letters' AND column_name = 'resolution') THEN
        ALTER TABLE ops.dead_letters ADD COLUMN IF NOT EXISTS resolution text;
    END IF;
END $$;
"""

MAPPED, SOURCE_ROW_DELETED, FAILS_OTHERWISE = "mapped", "source row deleted", "fails for another reason"


@dataclass(frozen=True)
class DeadLetterRule:
    """One way a mapping can fail: `query` selects the failing landing rows with their key and reason.

    The query yields columns (source_pk text, reason text, payload jsonb, capture_position text).
    A rule over a per-shipment table marks with `CANDIDATES` where the rows it looks at can be
    narrowed, and names its landing row's single `key` column and type.
    """

    source_table: str
    query: str
    key: tuple[str, str] | None = None
    landing: str | None = None

    def row_deleted(self) -> str:
        """SQL true when dead letter `d`'s row is deleted in landing (a tombstone, or gone)."""
        if self.key is None or self.landing is None:
            return "false"
        column, type_ = self.key
        return (f"NOT EXISTS (SELECT 1 FROM landing.{self.landing} r WHERE r.{column} = d.source_pk::{type_} "
                "AND r._operation <> 'delete')")

    def all_rows(self) -> str:
        return self.query.replace("CANDIDATES", "true")

    def changed_rows(self) -> str:
        """Only the rows written since `%(since)s` and the rows already dead-lettered (which may
        have mapped since): what an incremental refresh re-examines."""
        column, type_ = self.key
        changed = self.query.replace("CANDIDATES", "r._xid >= %(since)s")
        waiting = self.query.replace(
            "CANDIDATES",
            f"r.{column} IN (SELECT source_pk::{type_} FROM ops.dead_letters WHERE mapped_by = %(mapped_by)s "
            "AND source_table = %(source_table)s AND resolved_at IS NULL)",
        )
        return f"({changed}) UNION ({waiting})"


def record_dead_letters(cursor, mapped_by: str, rules: list[DeadLetterRule], since=None) -> tuple[int, int]:
    """Upsert the current failures of `mapped_by`'s rules; resolve earlier ones that no longer fail.

    With `since` (a transaction id), only rows written since then and open dead letters are
    examined: a row nobody wrote cannot start failing, except when what it refers to is deleted,
    which the nightly run's full examination finds. Returns (open dead letters now, newly resolved).
    """
    cursor.execute(DEAD_LETTER_DDL)
    cursor.execute(
        "CREATE TEMP TABLE current_failures (source_table text, source_pk text, reason text, payload jsonb, "
        "capture_position text) ON COMMIT DROP"
    )
    for rule in rules:
        narrow = since is not None and rule.key is not None
        cursor.execute(
            sql.SQL("INSERT INTO current_failures SELECT {}, * FROM ({}) failures").format(
                sql.Literal(rule.source_table), sql.SQL(rule.changed_rows() if narrow else rule.all_rows())
            ),
            {"since": since, "mapped_by": mapped_by, "source_table": rule.source_table} if narrow else None,
        )
    cursor.execute(
        "INSERT INTO ops.dead_letters (source_table, source_pk, reason, payload, capture_position, mapped_by) "
        "SELECT source_table, source_pk, reason, payload, capture_position, %s FROM current_failures "
        "ON CONFLICT (source_table, source_pk, reason) DO UPDATE SET payload = EXCLUDED.payload, "
        "capture_position = EXCLUDED.capture_position, last_seen_at = now(), resolved_at = NULL, resolution = NULL",
        (mapped_by,),
    )
    deleted = sql.SQL(" ").join(
        sql.SQL("WHEN d.source_table = {} AND {} THEN {}").format(
            sql.Literal(rule.source_table), sql.SQL(rule.row_deleted()), sql.Literal(SOURCE_ROW_DELETED))
        for rule in rules
    )
    cursor.execute(
        sql.SQL(
            "UPDATE ops.dead_letters d SET resolved_at = now(), resolution = CASE "
            "WHEN EXISTS (SELECT 1 FROM current_failures f WHERE f.source_table = d.source_table "
            "AND f.source_pk = d.source_pk) THEN {otherwise} {deleted} ELSE {mapped} END "
            "WHERE mapped_by = %s AND resolved_at IS NULL AND NOT EXISTS (SELECT 1 FROM current_failures f "
            "WHERE f.source_table = d.source_table AND f.source_pk = d.source_pk AND f.reason = d.reason)"
        ).format(otherwise=sql.Literal(FAILS_OTHERWISE), deleted=deleted, mapped=sql.Literal(MAPPED)),
        (mapped_by,),
    )
    resolved = cursor.rowcount
    open_count = cursor.execute(
        "SELECT count(*) FROM ops.dead_letters WHERE mapped_by = %s AND resolved_at IS NULL", (mapped_by,)
    ).fetchone()[0]
    cursor.execute("DROP TABLE current_failures")
    return open_count, resolved
