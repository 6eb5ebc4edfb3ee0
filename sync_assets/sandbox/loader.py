"""Writing rows into the source databases: binary COPY for volume, merges and deletes for ticks.

`build` recreates the landscape's tables without their primary keys, lets its batch workers
COPY their rows in (each :class:`Writer` in its own transactions), and adds the keys at the end:
an index built once is much cheaper than one maintained row by row, and the tables end up exactly
as the DDL declares them. A tick writes far fewer rows: plain COPY for new immutable rows, a COPY
into a temporary table merged on the key for rows that change, and deletes by key.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format

from .schema import SYSTEMS, Table, table, tables

_PG_EPOCH = 946_684_800  # 2000-01-01 00:00 UTC, where PostgreSQL's binary timestamps count from
_MICROSECONDS = struct.Struct(">q").pack


class _JsonDumper(Dumper):
    """A jsonb column's value: a document the simulator already serialised (a str)."""

    format = Format.BINARY
    oid = psycopg.adapters.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()  # jsonb binary format: version 1, then the text


class _InstantDumper(Dumper):
    """A timestamptz column's value: integer UTC seconds."""

    format = Format.BINARY
    oid = psycopg.adapters.types["timestamptz"].oid

    def dump(self, obj: int) -> bytes:
        return _MICROSECONDS((obj - _PG_EPOCH) * 1_000_000)


class _WallTimeDumper(_InstantDumper):
    """A timestamp column's value: integer seconds of local wall time (clock.LocalTime)."""

    oid = psycopg.adapters.types["timestamp"].oid


#: Registered by column type on the COPY cursor only (binary COPY picks dumpers by the column's
#: type), so the pooled connection goes back to the application with psycopg's own adapters.
_COPY_DUMPERS = (_JsonDumper, _InstantDumper, _WallTimeDumper)


def open_connections(engines: Mapping) -> tuple[dict, dict[str, psycopg.Connection]]:
    """A pooled DBAPI connection per system (to close) and its psycopg connection (to use)."""
    raw = {system: engines[system].raw_connection() for system in SYSTEMS}
    return raw, {system: raw[system].driver_connection for system in SYSTEMS}


def close_connections(raw: dict) -> None:
    for connection in raw.values():
        connection.close()


def copy_rows(connection: psycopg.Connection, target: Table, rows: Iterable[tuple], *, into: str | None = None) -> int:
    """Binary COPY of `rows` (values in `target.loaded_columns` order) into the table (or `into`).

    Timestamps are given as integer seconds (UTC for timestamptz, local wall time for timestamp)
    and jsonb values as serialised documents."""
    statement = f"COPY {into or target.name} ({', '.join(target.loaded_columns)}) FROM STDIN (FORMAT BINARY)"
    count = 0
    with connection.cursor() as cursor:
        for dumper in _COPY_DUMPERS:
            cursor.adapters.register_dumper(_Untyped, dumper)
        with cursor.copy(statement) as copy:
            copy.set_types(list(target.loaded_types))
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


class _Untyped:
    """No Python value has this type: the COPY dumpers are looked up by column type only."""


def merge_rows(connection: psycopg.Connection, name: str, rows: list[tuple], *, add: tuple[str, ...] = ()) -> int:
    """Insert or update rows on the table's primary key (staged through a temporary table); columns
    in `add` are added to the existing value instead of replacing it."""
    if not rows:
        return 0
    target = table(name)
    staging = f"staged_{name}"
    connection.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {name}) ON COMMIT DROP")
    copy_rows(connection, target, rows, into=staging)
    columns = ", ".join(target.loaded_columns)
    updates = ", ".join(f"{c} = {name}.{c} + EXCLUDED.{c}" if c in add else f"{c} = EXCLUDED.{c}"
                        for c in target.loaded_columns if c not in target.primary_key)
    connection.execute(
        f"INSERT INTO {name} ({columns}) SELECT {columns} FROM {staging} "
        f"ON CONFLICT ({', '.join(target.primary_key)}) DO UPDATE SET {updates}")
    connection.execute(f"DROP TABLE {staging}")
    return len(rows)


def delete_keys(connection: psycopg.Connection, name: str, keys: list[tuple]) -> int:
    if not keys:
        return 0
    target = table(name)
    condition = " AND ".join(f"{column} = %s" for column in target.primary_key)
    with connection.cursor() as cursor:
        cursor.executemany(f"DELETE FROM {name} WHERE {condition}", keys)
    return len(keys)


class Writer:
    """Connections to the four databases for one writer (the build's main process or a batch
    worker): COPY table by table, commit everything at the end, count what was written."""

    def __init__(self, engines: Mapping):
        self.raw, self.connections = open_connections(engines)
        self.counts: Counter[str] = Counter()
        for connection in self.connections.values():
            connection.execute("SET LOCAL synchronous_commit = off")  # the build is redone if a crash loses it

    def copy(self, name: str, rows: Iterable[tuple]) -> int:
        target = table(name)
        count = copy_rows(self.connections[target.system], target, rows)
        self.counts[target.qualified] += count
        return count

    def commit(self) -> None:
        for connection in self.connections.values():
            connection.commit()
        close_connections(self.raw)

    def abort(self) -> None:
        for connection in self.connections.values():
            connection.rollback()
        close_connections(self.raw)


def recreate_tables(engines: Mapping) -> None:
    """Drop the landscape's tables (only those) and create them again, without primary keys."""
    writer = Writer(engines)
    try:
        for system, connection in writer.connections.items():
            connection.execute(f"DROP TABLE IF EXISTS {', '.join(t.name for t in tables(system))}")
            for t in tables(system):
                connection.execute(t.create_without_key)
    except BaseException:
        writer.abort()
        raise
    writer.commit()


def add_primary_keys(engines: Mapping) -> None:
    """Build every primary key once the data is in, and give the planner statistics; the four
    databases in parallel (the servers may be one)."""
    writer = Writer(engines)

    def index(system: str) -> None:
        connection = writer.connections[system]
        connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for t in tables(system):
            connection.execute(t.add_key_sql())
        # Only these tables: a bare ANALYZE also locks the server-wide catalogs, which another
        # database's open transaction may hold.
        connection.execute(f"ANALYZE {', '.join(t.name for t in tables(system))}")

    try:
        with ThreadPoolExecutor(len(SYSTEMS)) as pool:
            list(pool.map(index, SYSTEMS))
    except BaseException:
        writer.abort()
        raise
    writer.commit()
