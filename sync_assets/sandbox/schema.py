"""The landscape's tables, read from the DDL files beside this module (LANDSCAPE §1-4).

The DDL files are the single source of the table definitions; this module only splits each
CREATE TABLE into "the table without its primary key" and "the primary key", so a bulk load can
create the key after the data is in (an index built once is much cheaper than one maintained row
by row). The end result is the same table: `ALTER TABLE ... ADD PRIMARY KEY` gets the same
`<table>_pkey` name an inline PRIMARY KEY would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DDL_DIR = Path(__file__).with_name("ddl")
SYSTEMS = ("erp", "wms", "fleet", "billing")

#: PostgreSQL type names psycopg needs to write each column in binary COPY.
_COPY_TYPES = {
    "text": "text",
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "bool": "bool",
    "boolean": "bool",
    "date": "date",
    "timestamptz": "timestamptz",
    "timestamp": "timestamp",
    "jsonb": "jsonb",
    "double precision": "float8",
    "numeric": "numeric",
    "char": "text",  # bpchar receives the same bytes as text
}

_CREATE = re.compile(r"CREATE TABLE (\w+) \((.*)\)", re.S)
_TABLE_KEY = re.compile(r"PRIMARY KEY \(([^)]*)\)")
_TYPE = re.compile(r"(double precision|[a-z]+)(\(\d+(?:,\d+)?\))?")


@dataclass(frozen=True)
class Table:
    system: str
    name: str
    columns: tuple[str, ...]
    copy_types: tuple[str, ...]
    primary_key: tuple[str, ...]
    identity: str | None
    create_without_key: str

    @property
    def qualified(self) -> str:
        """The "system.table" name used in summaries."""
        return f"{self.system}.{self.name}"

    @property
    def loaded_columns(self) -> tuple[str, ...]:
        """The columns the simulator writes: all but an identity column, which the database numbers."""
        return tuple(c for c in self.columns if c != self.identity)

    @property
    def loaded_types(self) -> tuple[str, ...]:
        return tuple(t for c, t in zip(self.columns, self.copy_types, strict=True) if c != self.identity)

    def add_key_sql(self) -> str:
        return f"ALTER TABLE {self.name} ADD PRIMARY KEY ({', '.join(self.primary_key)})"


def _split_definitions(body: str) -> list[str]:
    """The comma-separated items of a CREATE TABLE body (commas inside parentheses do not split)."""
    items, depth, current = [], 0, []
    for char in body:
        if char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    items.append("".join(current).strip())
    return [item for item in items if item]


def _parse_table(system: str, statement: str) -> Table:
    name, body = _CREATE.search(statement).groups()
    columns, types, key, identity, kept = [], [], (), None, []
    for item in _split_definitions(body):
        table_key = _TABLE_KEY.fullmatch(item)
        if table_key:
            key = tuple(c.strip() for c in table_key.group(1).split(","))
            continue
        column, rest = item.split(None, 1)
        type_name = _TYPE.match(rest).group(1)
        columns.append(column)
        types.append(_COPY_TYPES[type_name])
        if "IDENTITY" in rest:
            identity = column
        if " PRIMARY KEY" in f" {rest}":
            key = (column,)
            item = item.replace(" PRIMARY KEY", "")
        kept.append(item)
    create = f"CREATE TABLE {name} (\n    " + ",\n    ".join(kept) + "\n)"
    return Table(system, name, tuple(columns), tuple(types), key, identity, create)


@cache
def tables(system: str) -> tuple[Table, ...]:
    """The tables of one source system, in DDL order."""
    text = (DDL_DIR / f"{system}.sql").read_text()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return tuple(_parse_table(system, s) for s in text.split(";") if "CREATE TABLE" in s)


@cache
def table(name: str) -> Table:
    """A landscape table by its (unique) name."""
    for system in SYSTEMS:
        for t in tables(system):
            if t.name == name:
                return t
    raise KeyError(name)


def all_tables() -> tuple[Table, ...]:
    return tuple(t for system in SYSTEMS for t in tables(system))
