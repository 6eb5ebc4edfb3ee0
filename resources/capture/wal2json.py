"""Read the output of the `wal2json` logical decoding plugin (format version 2), where the source server has it.

wal2json is not part of PostgreSQL (Debian: `postgresql-NN-wal2json`; servers with the
`output_plugin_libraries` setting must also list it there). Where it loads, a slot uses it: the
server filters the changes to the captured tables (`add-tables`) and writes each as JSON, so
there is no quoting to untangle. One change per row:

    {"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":1}, …]}
    {"action":"U", …, "columns":[…new tuple…], "identity":[…old key…]}
    {"action":"D", …, "identity":[…key…]}
    {"action":"B"} / {"action":"C"}   transaction begin / commit (`include-transaction`)

An UPDATE leaves out a large (TOASTed) column it did not change, as test_decoding marks it
`unchanged-toast-datum`: the column keeps its current value (Warehouse.apply_changes fills it in).
Numbers keep their exact text (a numeric(12,2) never passes through a float); json values come
as JSON strings; booleans become COPY's t / f.
"""

import json
from collections.abc import Sequence

from resources.capture.test_decoding import COPY_NULL, DecodingError, copy_text

PLUGIN = "wal2json"

#: Numbers are kept as the text the server wrote.
_decode = json.JSONDecoder(parse_float=str, parse_int=str).decode

_OPS = {"I": "insert", "U": "update", "D": "delete"}


def peek_options(tables: Sequence[tuple[str, str]], transactions: bool = True) -> tuple[str, ...]:
    """Plugin options: version 2, only the captured tables, with or without begin/commit rows."""
    listed = ",".join(f"{_escaped(schema)}.{_escaped(table)}" for schema, table in tables)
    return ("format-version", "2", "include-transaction", "true" if transactions else "false", "add-tables", listed)


def _escaped(name: str) -> str:
    """wal2json's table list escapes its separators with a backslash."""
    return "".join("\\" + ch if ch in ",.\\ " else ch for ch in name)


def _copy_value(value) -> str:
    if value is None:
        return COPY_NULL
    if value is True or value is False:
        return "t" if value else "f"
    return copy_text(value)


class Wal2JsonLines:
    """Collects wal2json change rows as COPY text rows `seq, op, lsn, columns…, unchanged` per
    captured table, like test_decoding.ChangeLines (the same rows from the same changes)."""

    def __init__(self, tables: dict[tuple[str, str], Sequence[str]]):
        self._columns = dict(tables)
        self.rows: dict[tuple[str, str], list[str]] = {key: [] for key in tables}
        self._seq = 0

    def add(self, data: str, lsn: str) -> None:
        """Add one change row; begin, commit, logical messages and other tables are skipped."""
        try:
            change = _decode(data)
            action = change["action"]
        except (ValueError, KeyError, TypeError) as error:
            raise DecodingError(f"change at {lsn}: unreadable wal2json row {data[:80]!r}: {error}") from None
        if action in ("B", "C", "M"):
            return
        if action not in _OPS:
            raise DecodingError(f"change at {lsn}: wal2json action {action!r} on {change.get('table')!r} is not a row change")
        key = (change.get("schema"), change.get("table"))
        if key not in self._columns:
            return
        try:
            identity = {c["name"]: c["value"] for c in change.get("identity", ())}
            values = identity if action == "D" else {c["name"]: c["value"] for c in change["columns"]}
        except (KeyError, TypeError) as error:
            raise DecodingError(f"change at {lsn}: wal2json row without {error}") from None
        if action == "D" and not identity:
            raise DecodingError(f"change at {lsn}: delete on a table without a replica identity")
        if action == "U" and any(values.get(name) != value for name, value in identity.items()):
            self._append(key, "delete", lsn, identity, ())  # the key changed: the old row is gone
        unchanged = [c for c in self._columns[key] if c not in values] if action == "U" else ()
        self._append(key, _OPS[action], lsn, values, unchanged)

    def _append(self, key: tuple[str, str], op: str, lsn: str, values: dict, unchanged: Sequence[str]) -> None:
        self._seq += 1
        text = "\t".join(_copy_value(values.get(c)) for c in self._columns[key])
        marker = ("{" + ",".join(unchanged) + "}") if unchanged else COPY_NULL
        self.rows[key].append(f"{self._seq}\t{op}\t{lsn}\t{text}\t{marker}\n")
