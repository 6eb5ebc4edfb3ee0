"""The mapping set: which source tables Waybill reads, their keys, columns and capture mode.

The default set (`landscape.toml`) describes the reference landscape; a customer points
WAYBILL_MAPPINGS at their own file. Nothing outside this layer names a source table.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from resources.settings import SOURCE_SYSTEMS, WaybillError

DEFAULT_MAPPINGS = Path(__file__).with_name("landscape.toml")
MAPPINGS_ENV = "WAYBILL_MAPPINGS"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_INTERVAL = re.compile(r"^\d+ (second|minute|hour|day)s?$")
_TYPE = re.compile(
    r"^(text|integer|bigint|boolean|date|jsonb|double precision|timestamp with(out)? time zone"
    r"|character\(\d+\)|numeric\(\d+,\d+\))$"
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class SourceTable:
    system: str
    table: str
    key: tuple[str, ...]
    capture: str
    columns: tuple[Column, ...]
    cursor: tuple[str, ...] = ()
    lookback: str = "5 minutes"
    history: tuple[str, ...] = ()

    @property
    def cursor_kind(self) -> str | None:
        """'sequence' ([id]), 'timestamp' ([updated_at, key...]) or None (snapshots only)."""
        if not self.cursor:
            return None
        return "sequence" if len(self.cursor) == 1 else "timestamp"

    @property
    def name(self) -> str:
        """`erp.customers`: how errors and metadata name the table."""
        return f"{self.system}.{self.table}"

    @property
    def landing_table(self) -> str:
        """`raw_erp_customers`: the landing table (and landing asset) in the warehouse."""
        return f"raw_{self.system}_{self.table}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _identifier(value: str, where: str) -> str:
    """Mappings name tables and columns that end up in SQL: only plain lower-case identifiers pass."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value):
        raise WaybillError(f"{where}: {value!r} is not a plain lower-case SQL identifier")
    return value


def _parse_table(entry: dict, where: str) -> SourceTable:
    system = entry.get("system")
    if system not in SOURCE_SYSTEMS:
        raise WaybillError(f"{where}: system must be one of {', '.join(SOURCE_SYSTEMS)}, not {system!r}")
    table = _identifier(entry.get("table"), f"{where}.table")
    columns = []
    for pair in entry.get("columns", []):
        name, type_ = pair
        if not _TYPE.match(type_):
            raise WaybillError(f"{where}.columns.{name}: unsupported type {type_!r}")
        columns.append(Column(_identifier(name, f"{where}.columns"), type_))
    names = {c.name for c in columns}
    key = tuple(_identifier(k, f"{where}.key") for k in entry.get("key", []))
    if not key or not set(key) <= names:
        raise WaybillError(f"{where}.key: {list(key)} must name columns of {system}.{table}")
    capture = entry.get("capture")
    if capture not in ("snapshot", "changes"):
        raise WaybillError(f"{where}.capture: must be 'snapshot' or 'changes', not {capture!r}")
    cursor = tuple(_identifier(c, f"{where}.cursor") for c in entry.get("cursor", []))
    if cursor and not set(cursor) <= names:
        raise WaybillError(f"{where}.cursor: {list(cursor)} must name columns of {system}.{table}")
    if len(cursor) > 1 and set(cursor[1:]) != set(key):
        raise WaybillError(f"{where}.cursor: a timestamp cursor continues with the key columns {list(key)}")
    lookback = entry.get("lookback", "5 minutes")
    if not _INTERVAL.match(str(lookback)):
        raise WaybillError(f"{where}.lookback: {lookback!r} is not an interval like '5 minutes'")
    history = tuple(_identifier(c, f"{where}.history") for c in entry.get("history", []))
    if history and not (set(history) | {"updated_at"}) <= names:
        raise WaybillError(f"{where}.history: {list(history)} and updated_at must be columns of {system}.{table}")
    return SourceTable(system, table, key, capture, tuple(columns), cursor, lookback, history)


@cache
def _document(path: str | None = None) -> tuple[str, dict]:
    file = Path(path or os.environ.get(MAPPINGS_ENV) or DEFAULT_MAPPINGS)
    try:
        return file.name, tomllib.loads(file.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WaybillError(f"{MAPPINGS_ENV}: cannot read mappings from {file}: {exc}") from None


@cache
def load_mappings(path: str | None = None) -> tuple[SourceTable, ...]:
    """Read and validate the mapping file (WAYBILL_MAPPINGS, else the landscape default)."""
    name, document = _document(path)
    return tuple(_parse_table(entry, f"{name}: tables[{i}]") for i, entry in enumerate(document.get("tables", [])))


def capture_mode(system: str) -> str:
    """'log', 'cursor' or 'auto' for a source system: WAYBILL_CAPTURE_<SYSTEM>, else the mapping's
    [capture], else 'auto' (log where the source server allows it, else cursor: see
    SourceDatabase.capture_mode)."""
    setting = f"WAYBILL_CAPTURE_{system.upper()}"
    mode = os.environ.get(setting) or _document()[1].get("capture", {}).get(system, "auto")
    if mode not in ("log", "cursor", "auto"):
        raise WaybillError(f"{setting}: capture mode must be 'log', 'cursor' or 'auto', not {mode!r}")
    return mode


def tables_of(system: str) -> tuple[SourceTable, ...]:
    return tuple(t for t in load_mappings() if t.system == system)


def source_table(system: str, table: str) -> SourceTable:
    for mapped in load_mappings():
        if (mapped.system, mapped.table) == (system, table):
            return mapped
    raise WaybillError(f"mappings: no table {system}.{table}")


def snapshot_tables() -> tuple[SourceTable, ...]:
    """Master data: copied whole on every batch run and compared by key."""
    return tuple(t for t in load_mappings() if t.capture == "snapshot")
