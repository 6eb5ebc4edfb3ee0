"""The change sensor's cheap question: does any source have changes Waybill has not captured yet?

Answered without reading the changes: a log source peeks one change from its slot (an idle poll
decodes nothing new); a cursor source first asks whether anything committed on its server since
the last poll read it, and only then each cursor table for one row past its stored position.
The answer doubles as the run key, so the same pending changes never start two runs.
"""

import json

import sqlalchemy as sa
from psycopg import sql

from resources.capture.log_reader import LogReader
from resources.capture.state import STATE_DDL, polling
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes.cursor_capture import last_read, source_unchanged
from sync_assets.mappings import tables_of


def _stored_positions(warehouse: Warehouse, system: str) -> dict[str, str]:
    with warehouse.engine().begin() as conn:
        conn.exec_driver_sql(STATE_DDL)
        rows = conn.execute(
            sa.text("SELECT stream, position FROM ops.capture_state WHERE source_system = :s"), {"s": system}
        ).all()
    return {stream: position for stream, position in rows if position}


def pending_log(source: SourceDatabase) -> str | None:
    """The same two questions the log poll's idle path asks: is there a slot, and anything in it?"""
    engine = source.engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        reader = LogReader(engine, conn, source.system, [("public", t.table) for t in tables_of(source.system)])
        slot = reader.state()
        if not slot.exists:
            return "initial"
        if slot.lost:  # the poll starts the source again from a new slot
            return f"lost after {slot.confirmed}"
        # Named by the slot's confirmed position: it stays put until a poll captures the changes,
        # so the same pending changes always give the same run key, however far the WAL moves.
        # With nothing of ours waiting, the slot moves on as an idle poll's does (the caller
        # holds the poll lock): else a quiet source on a busy server would have every look decode
        # ever more of the others' WAL, which the server would keep until the next run.
        return f"after {slot.confirmed}" if reader.has_changes(slot) else None


def pending_cursor(warehouse: Warehouse, session: sa.Connection, source: SourceDatabase) -> str | None:
    """Named by the first table with rows past its position, the position, and the source
    snapshot the last poll read: a position held where it was (a sequence gap not yet settled,
    a timestamp held by an open writer) still gives a new name after each poll, so the commit
    that settles it is not taken for the run that already ran."""
    last = last_read(session, source.system)
    if source_unchanged(last, source):
        return None
    stored = _stored_positions(warehouse, source.system)
    with source.snapshot() as conn:
        for table in tables_of(source.system):
            if table.cursor_kind is None:
                continue
            state = json.loads(stored.get(f"cursor:{table.table}", "{}"))
            column = sql.Identifier(table.cursor[0])
            bound = state.get("last") if table.cursor_kind == "sequence" else state.get("ts")
            # No position yet: any row at all is news (an empty table is not).
            condition = sql.SQL("true") if bound is None else sql.SQL("{} > {}").format(column, sql.Literal(bound))
            query = sql.SQL("SELECT 1 FROM {} WHERE {} LIMIT 1").format(sql.Identifier("public", table.table), condition)
            if conn.exec_driver_sql(query.as_string()).scalar():
                after = f" after {last['snapshot']}" if last else ""
                return f"{table.table}:{bound if bound is not None else 'initial'}{after}"
    return None


def pending_changes(warehouse: Warehouse, source: SourceDatabase) -> str | None:
    """A token naming the first uncaptured change of `source`, or None when it is caught up or
    a poll of it is running now (that poll takes what is there; the next look sees the rest)."""
    with polling(warehouse.engine(), source.system, wait=False) as session:
        if session is None:
            return None
        if source.capture_mode() == "log":
            return pending_log(source)
        return pending_cursor(warehouse, session, source)
