"""Dead letters: records that failed mapping, kept with their payload, reason and source position.

Canonical assets are set-based: each mapping has a query for the rows it cannot map (an id that
does not normalise, a WMS site missing from the crosswalk, an unknown code). Those rows are
written here instead of being dropped, once per (source table, source key, reason); a row that
maps later (its master data arrived, the mapping was fixed) is marked resolved by the next run,
and `waybill deadletter replay` re-runs the canonical assets so that happens at once.
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
    UNIQUE (source_table, source_pk, reason)
)
"""


@dataclass(frozen=True)
class DeadLetterRule:
    """One way a mapping can fail: `query` selects the failing landing rows with their key and reason.

    The query yields columns (source_pk text, reason text, payload jsonb, capture_position text).
    """

    source_table: str
    query: str


def record_dead_letters(cursor, mapped_by: str, rules: list[DeadLetterRule]) -> tuple[int, int]:
    """Upsert the current failures of `mapped_by`'s rules; resolve earlier ones that no longer fail.

    Returns (open dead letters now, newly resolved).
    """
    cursor.execute(DEAD_LETTER_DDL)
    cursor.execute(
        "CREATE TEMP TABLE current_failures (source_table text, source_pk text, reason text, payload jsonb, "
        "capture_position text) ON COMMIT DROP"
    )
    for rule in rules:
        cursor.execute(
            sql.SQL("INSERT INTO current_failures SELECT {}, * FROM ({}) failures").format(
                sql.Literal(rule.source_table), sql.SQL(rule.query)
            )
        )
    cursor.execute(
        "INSERT INTO ops.dead_letters (source_table, source_pk, reason, payload, capture_position, mapped_by) "
        "SELECT source_table, source_pk, reason, payload, capture_position, %s FROM current_failures "
        "ON CONFLICT (source_table, source_pk, reason) DO UPDATE SET payload = EXCLUDED.payload, "
        "capture_position = EXCLUDED.capture_position, last_seen_at = now(), resolved_at = NULL",
        (mapped_by,),
    )
    cursor.execute(
        "UPDATE ops.dead_letters d SET resolved_at = now() WHERE mapped_by = %s AND resolved_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM current_failures f WHERE f.source_table = d.source_table "
        "AND f.source_pk = d.source_pk AND f.reason = d.reason)",
        (mapped_by,),
    )
    resolved = cursor.rowcount
    open_count = cursor.execute(
        "SELECT count(*) FROM ops.dead_letters WHERE mapped_by = %s AND resolved_at IS NULL", (mapped_by,)
    ).fetchone()[0]
    cursor.execute("DROP TABLE current_failures")
    return open_count, resolved
