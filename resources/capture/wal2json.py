"""Read the output of the `wal2json` logical decoding plugin (format version 2), where the source server has it.

wal2json is not part of PostgreSQL (Debian: `postgresql-NN-wal2json`; servers with the
`output_plugin_libraries` setting must also list it there). Where it loads, a slot uses it: the
server filters the changes to the captured tables (`add-tables`) and writes each as JSON, so
there is no quoting to untangle. One change per row:

    {"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":1}, …]}
    {"action":"U", …, "columns":[…new tuple…], "identity":[…old key…]}
    {"action":"D", …, "identity":[…key…]}
    {"action":"T","schema":"public","table":"t"}   a TRUNCATE (test_decoding: `table …: TRUNCATE: …`)
    {"action":"B"} / {"action":"C"}   transaction begin / commit (`include-transaction`)

An UPDATE leaves out a large (TOASTed) column it did not change, as test_decoding marks it
`unchanged-toast-datum`: the column keeps its current value (warehouse.ChangeStages.merge fills it in).
Numbers keep their exact text (a numeric(12,2) never passes through a float); json values come
as JSON strings; booleans become COPY's t / f.
"""

import json
import re
from collections.abc import Collection, Sequence
from operator import itemgetter

from resources.capture.test_decoding import COPY_NULL, KEY_CHANGE, DecodingError, MissingColumn, copy_text

PLUGIN = "wal2json"

#: Numbers are kept as the text the server wrote.
_decode = json.JSONDecoder(parse_float=str, parse_int=str).decode

_OPS = {"I": "insert", "U": "update", "D": "delete"}
_NAME_VALUE = itemgetter("name", "value")


def peek_options(tables: Sequence[tuple[str, str]], transactions: bool = True) -> tuple[str, ...]:
    """Plugin options: version 2, only the captured tables, with or without begin/commit rows."""
    listed = ",".join(f"{_escaped(schema)}.{_escaped(table)}" for schema, table in tables)
    return ("format-version", "2", "include-transaction", "true" if transactions else "false", "add-tables", listed)


def _escaped(name: str) -> str:
    """wal2json's table list escapes its separators with a backslash."""
    return "".join("\\" + ch if ch in ",.\\ " else ch for ch in name)


def _copy_value(value, escape: bool) -> str:
    if value.__class__ is str:
        return copy_text(value) if escape else value
    if value is None:
        return COPY_NULL
    return "t" if value else "f"  # the only other JSON values a row holds are booleans


#: How wal2json writes a value, by the column's type, as a pattern whose one group is the value's
#: COPY text (no group, so \\N, for null): numbers bare, booleans true / false, anything else a
#: JSON string, which in a row without backslashes holds no quote and no escape. A value written
#: another way (a numeric NaN comes quoted) does not match, and its row takes the JSON path.
_NUMBER_TYPES = frozenset({"smallint", "integer", "bigint", "oid", "real", "double precision", "numeric"})
_NUMBER = r"(?:(-?[0-9][0-9.eE+-]*)|null)"
_BOOLEAN = r"(?:(t(?=rue)|f(?=alse))(?:rue|alse)|null)"
_STRING = r'(?:"([^"]*)"|null)'


def _value_pattern(type_name: str) -> str:
    base = type_name.split("(")[0]  # numeric(12,2)
    return _NUMBER if base in _NUMBER_TYPES else _BOOLEAN if base == "boolean" else _STRING


def _picker(positions: list[int | None]):
    """From a match's groups to the mapped columns' COPY text; None: a column the row lacks."""
    if positions and None not in positions and positions == list(range(positions[0], positions[0] + len(positions))):
        first, last = positions[0], positions[0] + len(positions)
        return lambda groups: "\t".join(groups[first:last])  # the row's columns, in order
    return lambda groups: "\t".join([COPY_NULL if i is None else groups[i] for i in positions])


class _Template:
    """The text of one table's rows of one shape (action, columns with their types, identity) as a
    regular expression whose groups are the values as COPY text: reading a row then costs one
    match and a join, where decoding its JSON and walking the result cost three times as much. It
    serves only rows without backslashes (no escapes to undo) and is kept only once it has read
    the row it was learnt from exactly as the JSON path did."""

    def __init__(self, change: dict, mapped: Sequence[str]):
        self.key = (change["schema"], change["table"])
        self.action = change["action"]
        columns = [(c["name"], c["type"]) for c in change.get("columns", ())]
        identity = [(c["name"], c["type"]) for c in change.get("identity", ())]
        head = json.dumps({k: change[k] for k in ("action", "schema", "table")}, separators=(",", ":"))[:-1]
        parts = [re.escape(head)]
        for label, fields in (("columns", columns), ("identity", identity)):
            if fields:
                tuples = ",".join(
                    re.escape(json.dumps({"name": n, "type": t}, separators=(",", ":"))[:-1] + ',"value":')
                    + _value_pattern(t) + r"\}"
                    for n, t in fields
                )
                parts.append(re.escape(f',"{label}":[') + tuples + r"\]")
        self.fullmatch = re.compile("".join(parts) + r"\}").fullmatch
        new = {name: i for i, (name, _) in enumerate(columns)}
        old = {name: len(columns) + i for i, (name, _) in enumerate(identity)}
        self.new = _picker([new.get(c) for c in mapped])
        self.old = _picker([old.get(c) for c in mapped])
        self.key_pairs = [(old[name], new[name]) for name in old if name in new]
        unchanged = [c for c in mapped if c not in new] if self.action == "U" else []
        self.marker = ("{" + ",".join(unchanged) + "}") if unchanged else COPY_NULL

    def rows(self, data: str) -> list[tuple[str, str, str]] | None:
        """[(op, values, unchanged)] for a row of this shape, else None."""
        match = self.fullmatch(data)
        if match is None:
            return None
        groups = match.groups(COPY_NULL)
        if self.action == "D":
            return [("delete", self.old(groups), COPY_NULL)]
        if any(groups[o] != groups[n] for o, n in self.key_pairs):  # the key changed: the old row is gone
            return [("delete", self.old(groups), KEY_CHANGE), (_OPS[self.action], self.new(groups), self.marker)]
        return [(_OPS[self.action], self.new(groups), self.marker)]


class Wal2JsonLines:
    """Collects wal2json change rows as COPY text rows `seq, op, lsn, columns…, unchanged` per
    captured table, like test_decoding.ChangeLines (the same rows from the same changes; inserts
    into the `direct` tables apart, as landing rows, until a TRUNCATE of their table)."""

    def __init__(self, tables: dict[tuple[str, str], Sequence[str]], direct: Collection[tuple[str, str]] = ()):
        self._columns = dict(tables)
        self.rows: dict[tuple[str, str], list[str]] = {key: [] for key in tables}
        self.inserts: dict[tuple[str, str], list[str]] = {key: [] for key in tables}
        self._direct = set(direct)
        self._seq = 0
        self._templates: dict[str, list[_Template]] = {}  # by the row's text up to its first '['
        self.truncated: set[tuple[str, str]] = set()  # captured tables a TRUNCATE emptied

    def add(self, data: str, lsn: str) -> None:
        """Add one change row; begin, commit, logical messages and other tables are skipped."""
        plain = "\\" not in data  # JSON writes every quote, tab, newline and backslash in a value with one
        if plain:
            for template in self._templates.get(data[: data.find("[")], ()):
                rows = template.rows(data)
                if rows is not None:
                    self._append(template.key, lsn, rows)
                    return
        try:
            change = _decode(data)
            action = change["action"]
        except (ValueError, KeyError, TypeError) as error:
            raise DecodingError(f"change at {lsn}: unreadable wal2json row {data[:80]!r}: {error}") from None
        if action in ("B", "C", "M"):
            return
        if action == "T":  # a TRUNCATE, one row per table it emptied
            key = (change.get("schema"), change.get("table"))
            if key in self._columns:
                self._append(key, lsn, [("truncate", "\t".join([COPY_NULL] * len(self._columns[key])), COPY_NULL)])
                self._direct.discard(key)
                self.truncated.add(key)
            return
        if action not in _OPS:
            raise DecodingError(f"change at {lsn}: wal2json action {action!r} on {change.get('table')!r} is not a row change")
        key = (change.get("schema"), change.get("table"))
        if key not in self._columns:
            return
        rows = self._decoded_rows(change, lsn, escape=not plain)
        self._append(key, lsn, rows)
        if plain:
            template = _Template(change, self._columns[key])
            if template.rows(data) == rows:
                self._templates.setdefault(data[: data.find("[")], []).append(template)

    def _decoded_rows(self, change: dict, lsn: str, escape: bool) -> list[tuple[str, str, str]]:
        action, mapped = change["action"], self._columns[(change["schema"], change["table"])]
        try:
            identity = dict(map(_NAME_VALUE, change.get("identity", ())))
            values = identity if action == "D" else dict(map(_NAME_VALUE, change["columns"]))
        except (KeyError, TypeError) as error:
            raise DecodingError(f"change at {lsn}: wal2json row without {error}") from None
        if action == "D" and not identity:
            raise DecodingError(f"change at {lsn}: delete on a table without a replica identity")

        def text(row: dict) -> str:
            return "\t".join([_copy_value(row.get(c), escape) for c in mapped])

        if action == "I":  # an update omits the large values it left unchanged: those are no drift
            for column in mapped:
                if column not in values:
                    raise MissingColumn((change["schema"], change["table"]), column, lsn)
        rows = []
        if action == "U" and any(values.get(name) != value for name, value in identity.items()):
            rows.append(("delete", text(identity), KEY_CHANGE))  # the key changed: the old row is gone
        unchanged = [c for c in mapped if c not in values] if action == "U" else ()
        rows.append((_OPS[action], text(values), ("{" + ",".join(unchanged) + "}") if unchanged else COPY_NULL))
        return rows

    def _append(self, key: tuple[str, str], lsn: str, rows: list[tuple[str, str, str]]) -> None:
        for op, values, marker in rows:
            if marker == KEY_CHANGE:  # as in test_decoding.TableRows.scanned
                self._direct.discard(key)
            self._seq += 1
            if op == "insert" and key in self._direct:
                self.inserts[key].append(f"{values}\t{lsn}\n")
            else:
                self.rows[key].append(f"{self._seq}\t{op}\t{lsn}\t{values}\t{marker}\n")
