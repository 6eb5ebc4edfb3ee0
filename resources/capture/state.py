"""Capture positions, kept in the warehouse so they commit in the same transaction as the rows they cover."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa
from psycopg import sql

STATE_DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.capture_state (
    source_system text NOT NULL,
    stream        text NOT NULL,
    position      text NOT NULL,
    changes       bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_system, stream)
)
"""


def ensure_state_table(cursor) -> None:
    cursor.execute(STATE_DDL)


def read_position(cursor, system: str, stream: str, *, lock: bool = False) -> str | None:
    """The stored position; `lock=True` also serialises concurrent polls of the same stream."""
    query = "SELECT position FROM ops.capture_state WHERE source_system = %s AND stream = %s"
    if lock:
        cursor.execute(
            "INSERT INTO ops.capture_state (source_system, stream, position) VALUES (%s, %s, '') "
            "ON CONFLICT DO NOTHING",
            (system, stream),
        )
        query += " FOR UPDATE"
    row = cursor.execute(sql.SQL(query), (system, stream)).fetchone()
    return row[0] or None if row else None


def store_position(cursor, system: str, stream: str, position: str, changes: int) -> None:
    cursor.execute(
        "INSERT INTO ops.capture_state (source_system, stream, position, changes) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (source_system, stream) DO UPDATE SET position = EXCLUDED.position, "
        "changes = ops.capture_state.changes + EXCLUDED.changes, updated_at = now()",
        (system, stream, position, changes),
    )


def stored_position(session: sa.Connection, system: str, stream: str) -> str | None:
    """The stored position read on its own, outside a poll's transaction (None also before the
    state table exists): the cheap questions polls ask before they decide to read, on the
    autocommit session `polling` holds its lock in (one round trip)."""
    try:
        return session.exec_driver_sql(
            "SELECT position FROM ops.capture_state WHERE source_system = %(s)s AND stream = %(t)s",
            {"s": system, "t": stream},
        ).scalar() or None
    except sa.exc.ProgrammingError as error:
        if isinstance(error.orig, psycopg.errors.UndefinedTable):
            return None
        raise


@contextmanager
def polling(engine: sa.Engine, system: str, wait: bool = True) -> Iterator[sa.Connection | None]:
    """Hold the warehouse's lock on polling `system` (a session advisory lock, gone with the
    session if the process dies); yields the autocommit session that holds it, for the poll's
    cheap questions (`stored_position`), or None when `wait=False` and another poll has it.

    One poll of a source at a time: two at once would take turns on its replication slot and
    fail where they meet (PostgreSQL lets one backend use a slot at a time), and the sensor's
    look into the slot would fail the poll it meets the same way."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        key = {"k": f"waybill.poll:{system}"}
        if wait:
            conn.execute(sa.text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), key)
            held = True
        else:
            held = conn.execute(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:k, 0))"), key).scalar_one()
        try:
            yield conn if held else None
        finally:
            if held:
                try:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), key)
                except sa.exc.DBAPIError:
                    conn.invalidate()  # a broken session holds no lock
