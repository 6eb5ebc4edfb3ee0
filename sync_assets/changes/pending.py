"""The change sensor's cheap question: does any source have changes Waybill has not captured yet?

Answered without reading the changes: a log source peeks one change from its slot (an idle poll
decodes nothing new); a cursor source asks each cursor table for one row past its stored
position. The answer doubles as the run key, so the same pending changes never start two runs.
"""

import json

import sqlalchemy as sa
from psycopg import sql

from resources.capture.log_reader import slot_name
from resources.capture.state import STATE_DDL
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.mappings import capture_mode, tables_of


def _stored_positions(warehouse: Warehouse, system: str) -> dict[str, str]:
    with warehouse.engine().begin() as conn:
        conn.exec_driver_sql(STATE_DDL)
        rows = conn.execute(
            sa.text("SELECT stream, position FROM ops.capture_state WHERE source_system = :s"), {"s": system}
        ).all()
    return {stream: position for stream, position in rows if position}


def pending_log(source: SourceDatabase) -> str | None:
    with source.engine().connect() as conn, conn.begin():
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_replication_slots WHERE slot_name = :s AND database = current_database()"),
            {"s": slot_name(source.system)},
        ).scalar()
        if not exists:
            return "initial"
        return conn.execute(
            sa.text(
                "SELECT lsn::text FROM pg_logical_slot_peek_changes(:s, NULL, 1, 'skip-empty-xacts', '1') "
                "WHERE data LIKE 'table %' LIMIT 1"
            ),
            {"s": slot_name(source.system)},
        ).scalar()


def pending_cursor(warehouse: Warehouse, source: SourceDatabase) -> str | None:
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
                return f"{table.table}:{bound if bound is not None else 'initial'}"
    return None


def pending_changes(warehouse: Warehouse, source: SourceDatabase) -> str | None:
    """A token naming the first uncaptured change of `source`, or None when it is caught up."""
    if capture_mode(source.system) == "log":
        return pending_log(source)
    return pending_cursor(warehouse, source)
