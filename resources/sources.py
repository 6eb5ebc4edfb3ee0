"""One source system (ERP, WMS, fleet, billing): read-only connections and the schema contract.

Waybill never writes to a source except the ERP's inbound invoice tables (a separate resource):
every connection here opens with `default_transaction_read_only=on`, so a bug cannot corrupt a
system of record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from resources.databases import engine_for, resolve_url
from resources.settings import WaybillError
from sync_assets.mappings import SourceTable, capture_mode

_LOG_CAPTURE_POSSIBLE = sa.text(
    """
    SELECT current_setting('wal_level') = 'logical'
       AND current_setting('max_replication_slots')::int > 0
       AND (r.rolsuper OR r.rolreplication)
    FROM pg_roles r WHERE r.rolname = current_user
    """
)

#: (system, URL) → the capture mode 'auto' resolved to, decided once per process.
_RESOLVED_MODES: dict[tuple[str, str], str] = {}

_COLUMNS_SQL = sa.text(
    """
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    JOIN pg_class c ON c.oid = a.attrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = :table AND a.attnum > 0 AND NOT a.attisdropped
    """
)


class SchemaDriftError(WaybillError):
    """A source table no longer matches its mapping: nothing may be loaded from it."""


def check_schema(conn: sa.Connection, table: SourceTable) -> None:
    """Refuse a source table whose mapped columns are missing or changed type (added columns are fine).

    Run before every read: loading a table that silently lost or retyped a column would push
    half data downstream.
    """
    actual = dict(conn.execute(_COLUMNS_SQL, {"table": table.table}).tuples().all())
    if not actual:
        raise SchemaDriftError(f"{table.name}: table not found in the source (schema public)")
    for column in table.columns:
        found = actual.get(column.name)
        if found is None:
            raise SchemaDriftError(f"{table.name}.{column.name}: column missing in the source")
        if found != column.type:
            raise SchemaDriftError(
                f"{table.name}.{column.name}: type changed in the source: mapped {column.type}, found {found}"
            )


#: The sequence behind a column (serial or identity) and how many values a session caches.
_SEQUENCE_CACHE_SQL = sa.text(
    "SELECT s.seqrelid::regclass::text, s.seqcache FROM pg_sequence s "
    "WHERE s.seqrelid = pg_get_serial_sequence(format('%I.%I', 'public', CAST(:table AS text)), :column)::regclass"
)


def check_sequence_cache(conn: sa.Connection, table: SourceTable) -> None:
    """Refuse a sequence cursor whose column's sequence hands each session more than one value
    at a time (`CACHE n`): a session may then insert an id it took long before, after higher
    ids have committed and the cursor has passed it, and nothing on the server tells a reader
    which sessions hold such ids. (Ids an application reserves itself cannot be seen at all:
    the README says so.)"""
    column = table.cursor[0]
    found = conn.execute(_SEQUENCE_CACHE_SQL, {"table": table.table, "column": column}).first()
    if found is not None and found[1] > 1:
        sequence, cache = found
        raise WaybillError(
            f"{table.name}.{column}: its sequence {sequence} caches {cache} values per session, so a row can commit "
            f"with an id below ones already read, and a sequence cursor would miss it; set "
            f"ALTER SEQUENCE {sequence} CACHE 1, or capture {table.system} in log mode"
        )


_PRIMARY_KEY_SQL = sa.text(
    """
    SELECT array_agg(a.attname::text) FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE n.nspname = 'public' AND c.relname = :table AND i.indisprimary
    """
)


def key_is_unique(conn: sa.Connection, table: SourceTable) -> bool:
    """Whether the source table's primary key lies within the mapped key, so that one read of
    the table holds each key once."""
    primary_key = conn.execute(_PRIMARY_KEY_SQL, {"table": table.table}).scalar()
    return bool(primary_key) and set(primary_key) <= set(table.key)


class SourceDatabase(dg.ConfigurableResource):
    """A source system's database, reached by WAYBILL_<SYSTEM>_URL (embedded database when unset)."""

    system: str = Field(description="erp, wms, fleet or billing")
    url: str | None = Field(default=None, description="From the system's URL environment variable.")

    def engine(self) -> sa.Engine:
        return engine_for(self.system, resolve_url(self.system, self.url), read_only=True)

    def capture_mode(self) -> str:
        """'log' or 'cursor': the configured mode, or for 'auto', log when the server has
        wal_level = logical and this role may replicate, else cursor (any PostgreSQL)."""
        configured = capture_mode(self.system)
        if configured != "auto":
            return configured
        key = (self.system, resolve_url(self.system, self.url))
        if key not in _RESOLVED_MODES:
            with self.engine().connect() as conn:
                possible = conn.execute(_LOG_CAPTURE_POSSIBLE).scalar()
            _RESOLVED_MODES[key] = "log" if possible else "cursor"
        return _RESOLVED_MODES[key]

    @contextmanager
    def snapshot(self) -> Iterator[sa.Connection]:
        """A repeatable-read, read-only transaction: every table read in it sees one instant."""
        with self.engine().connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                yield conn
