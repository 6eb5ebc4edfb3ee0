"""Parse the output of PostgreSQL's `test_decoding` logical decoding plugin.

`test_decoding` ships with every PostgreSQL, so log-based capture works on any server with
`wal_level = logical`. Its output is text meant for people, so it is parsed with care:

    BEGIN 764
    table public.t: INSERT: id[integer]:1 v[text]:'a''b' n[numeric]:null
    table public.t: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:3 v[text]:'new'
    table public.t: DELETE: id[integer]:2
    COMMIT 764

Values are the type's text output: quoted (`'…'`, quotes doubled; may span lines) or bare
(numbers, booleans, `null`). Identifiers that need it are double-quoted. An UPDATE shows
`old-key:` only when the key changed; a DELETE shows only the key (replica identity default).
Values stay text: they are handed to COPY, which parses them with the column's own type.

Two readers share that grammar. `parse_change` scans any line; `TableRows` turns one table's
lines straight into COPY text rows through templates (one regular expression per tuple shape,
learnt from the scan), several times faster because the column names and types, which repeat
on every line, are matched as one literal instead of being read character by character.
"""

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

_HEADER = re.compile(
    r'table (?P<schema>"(?:[^"]+|"")+"|[^.]+)\.(?P<table>"(?:[^"]+|"")+"|[^:]+): (?P<op>INSERT|UPDATE|DELETE): '
)
#: One TRUNCATE names every table it emptied: `table public.a, public.b: TRUNCATE: (no-flags)`.
_NAME = r'"(?:[^"]|"")+"|[^.,:" ]+'
_TRUNCATE = re.compile(
    rf"table (?P<tables>(?:{_NAME})\.(?:{_NAME})(?:, (?:{_NAME})\.(?:{_NAME}))*): "
    r"TRUNCATE: (?:\(no-flags\)|restart_seqs|cascade|restart_seqs cascade)"
)
_TRUNCATED_TABLE = re.compile(rf"(?P<schema>{_NAME})\.(?P<table>{_NAME})")

#: Types whose values test_decoding prints without quotes (its print_literal); any other type,
#: a domain over one of these included, is quoted. A wrong guess only costs speed: the template
#: does not match and the line is scanned instead.
_BARE_TYPES = frozenset({"smallint", "integer", "bigint", "oid", "real", "double precision", "numeric", "boolean"})
#: What test_decoding prints, bare, for a large (TOASTed) value an UPDATE did not change: the value
#: is not in the WAL. The column keeps its current value (warehouse.ChangeStages.merge fills it in).
UNCHANGED_TOAST = "unchanged-toast-datum"

#: A template's values hold none of the characters COPY's text format escapes (lines with any go
#: through the scan, which escapes value by value, so a template's output is always plain text),
#: and no UNCHANGED_TOAST: the scan marks those columns.
_PLAIN = r"[^'\\\t\n\r]"
_QUOTED_VALUE = rf"(?:null|'({_PLAIN}*(?:''{_PLAIN}*)*)')"  # group: the content, quotes still doubled
_BARE_VALUE = rf"(?:null|(?!{UNCHANGED_TOAST}(?: |\Z))([^ '\\\t\n\r]+))"

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
COPY_NULL = "\\N"
#: The `unchanged` column of the delete a key-changing update starts with (an empty array, where
#: other deletes have NULL): the stage row after it is the update that carries the row to its new
#: key, and a large value that update left unchanged is the old key's (Warehouse._fill_unchanged_toast).
KEY_CHANGE = "{}"


PLUGIN = "test_decoding"


def peek_options(tables: Sequence[tuple[str, str]], transactions: bool = True) -> tuple[str, ...]:
    """Only what the capture reads: no xids, no transactions without changes. test_decoding
    cannot filter tables, and always writes BEGIN and COMMIT (`tables`, `transactions` unused)."""
    return ("include-xids", "0", "skip-empty-xacts", "1")


class _Unchanged(str):
    """The value of a field test_decoding printed as the bare UNCHANGED_TOAST (a text value equal
    to those words is quoted, so it can never be mistaken for it)."""


UNCHANGED = _Unchanged(UNCHANGED_TOAST)


class DecodingError(ValueError):
    """A line the parser cannot read; it names the LSN so the change can be found and replayed."""


class MissingColumn(DecodingError):
    """An insert or update whose row lacks a mapped column: the source table was altered (a
    column dropped or renamed) before the change was written, whatever its catalog says now."""

    def __init__(self, table: tuple[str, str], column: str, lsn: str):
        super().__init__(f"change at {lsn}: {table[1]} has no column {column}")
        self.table, self.column, self.lsn = table, column, lsn


@dataclass(frozen=True)
class RowChange:
    schema: str
    table: str
    op: str  # insert | update | delete
    values: dict[str, str | None]  # the new tuple (insert, update) or the key (delete)
    old_key: dict[str, str | None] | None  # set when an update changed the key


@dataclass(frozen=True)
class Field:
    """One `name[type]:value` of a tuple; `token` is the name as printed (quoted if it needs it)."""

    token: str
    name: str
    type: str
    value: str | None


def copy_text(value: str | None) -> str:
    """A value in COPY's text format: NULL as \\N, backslash and control characters escaped."""
    return COPY_NULL if value is None else value.translate(_COPY_ESCAPES)


def _identifier(text: str) -> str:
    return text[1:-1].replace('""', '"') if text.startswith('"') else text


def tables_changed(data: str) -> list[tuple[str, str]] | None:
    """The (schema, table) names a change line changes: one for a row change, every table a
    TRUNCATE emptied; None for a line that is neither."""
    if header := _HEADER.match(data):
        return [(_identifier(header["schema"]), _identifier(header["table"]))]
    if truncate := _TRUNCATE.fullmatch(data):
        return [(_identifier(t["schema"]), _identifier(t["table"])) for t in _TRUNCATED_TABLE.finditer(truncate["tables"])]
    return None


def _quoted_end(text: str, start: int, quote: str) -> int:
    """Index of the quote closing the quoted text that opens at `start` (doubled quotes are content)."""
    position = start + 1
    while True:
        close = text.find(quote, position)
        if close < 0:
            raise ValueError("unterminated quote")
        if text.startswith(quote, close + 1):
            position = close + 2
        else:
            return close


def _fields(text: str, lsn: str) -> list[Field]:
    """The fields of one tuple: `name[type]:value` separated by single spaces.

    A hand-written scan with str.find: several times faster than a generic regular expression,
    and it refuses anything that is not exactly columns, so a misread value can never shift the
    columns after it.
    """
    fields: list[Field] = []
    position, length = 0, len(text)
    try:
        while position < length:
            if text[position] == '"':
                close = _quoted_end(text, position, '"')
                name = text[position + 1 : close].replace('""', '"')
                bracket = close + 1
                if text[bracket] != "[":
                    raise ValueError("no type after the column name")
            else:
                bracket = text.index("[", position)
                name = text[position:bracket]
            value_start = text.index("]:", bracket) + 2
            token, type_name = text[position:bracket], text[bracket + 1 : value_start - 2]
            if text.startswith("'", value_start):
                close = _quoted_end(text, value_start, "'")
                value = text[value_start + 1 : close].replace("''", "'")
                position = close + 1
            else:
                position = text.find(" ", value_start)
                position = length if position < 0 else position
                bare = text[value_start:position]
                if not bare:
                    raise ValueError("empty value")
                value = None if bare == "null" else UNCHANGED if bare == UNCHANGED_TOAST else bare
            fields.append(Field(token, name, type_name, value))
            if position < length:
                if text[position] != " ":
                    raise ValueError("no space after a value")
                position += 1
    except (ValueError, IndexError) as exc:
        raise DecodingError(f"change at {lsn}: cannot read column data ({exc}) in {text[:80]!r}") from None
    return fields


def _columns(text: str, lsn: str) -> dict[str, str | None]:
    return {field.name: field.value for field in _fields(text, lsn)}


def _split_update(body: str, lsn: str) -> tuple[list[Field] | None, str]:
    """(old key fields or None, new tuple text) of an UPDATE's body.

    The old key ends at the first ` new-tuple: ` outside quotes: one inside a quoted value leaves
    the text before it with an open quote, which the scan refuses, so the next one is tried.
    """
    if not body.startswith("old-key: "):
        return None, body
    start = len("old-key: ")
    separator = body.find(" new-tuple: ", start)
    while separator >= 0:
        try:
            return _fields(body[start:separator], lsn), body[separator + len(" new-tuple: ") :]
        except DecodingError:
            separator = body.find(" new-tuple: ", separator + 1)
    raise DecodingError(f"change at {lsn}: update with old-key but no readable new-tuple")


def parse_change(data: str, lsn: str) -> RowChange | None:
    """One row change, or None for BEGIN/COMMIT and messages the capture does not use."""
    header = _HEADER.match(data)
    if header is None:
        if data.startswith(("BEGIN", "COMMIT", "message:")):
            return None
        raise DecodingError(f"change at {lsn}: unexpected line {data[:80]!r}")
    op = header["op"].lower()
    body = data[header.end() :]
    old_key = None
    if op == "update":
        old_fields, body = _split_update(body, lsn)
        old_key = None if old_fields is None else {f.name: f.value for f in old_fields}
    elif body == "(no-tuple-data)":
        raise DecodingError(f"change at {lsn}: {op} on a table without a replica identity")
    return RowChange(_identifier(header["schema"]), _identifier(header["table"]), op, _columns(body, lsn), old_key)


class _Template:
    """One tuple shape (these column names and types, in this order) as a regular expression.

    The expression follows the scan's grammar exactly (a quoted value is quote-balanced, so it
    cannot end early and swallow the next column), so whatever it matches the scan reads the
    same; whatever it does not match goes to the scan: other shapes, an UPDATE's `old-key:`,
    values COPY must escape, unchanged TOAST values. Its groups are the values with quotes still
    doubled, NULL as \\N; `order` places them in the mapped columns (None: already in order;
    a None inside: not in this shape, as the non-key columns of a delete).
    """

    def __init__(self, fields: Sequence[Field], columns: Sequence[str]):
        self.fullmatch = re.compile(
            " ".join(
                re.escape(f"{f.token}[{f.type}]:") + (_BARE_VALUE if f.type in _BARE_TYPES else _QUOTED_VALUE)
                for f in fields
            )
        ).fullmatch
        position = {f.name: i for i, f in enumerate(fields)}
        indices = [position.get(c) for c in columns]
        self.order = None if indices == list(range(len(fields))) else indices
        self.complete = None not in indices  # only a delete's row may lack mapped columns


class TableRows:
    """Turns the change lines of one table into COPY text values of its mapped `columns`.

    `templates` are the tuple shapes seen so far, tried in turn by ChangeLines.add; a line none
    matches is `scanned`, and its shape (full row, key only, a new column after a schema
    change…) becomes a template for the lines that follow.
    """

    def __init__(self, key: tuple[str, str], columns: Sequence[str], direct: bool):
        self.key = key
        self.columns = tuple(columns)
        self.templates: list[_Template] = []
        self._shapes: set[tuple[tuple[str, str], ...]] = set()
        #: Inserts go straight to landing (`inserts`, as landing COPY rows) until a TRUNCATE of the
        #: table, after which every change goes through the stage (see ChangeLines).
        self.direct = direct
        self.inserts: list[str] = []

    def scanned(self, op: str, body: str, lsn: str) -> list[tuple[str, str, str]]:
        """[(op, values, unchanged)] for one change: a key-changing update is a delete of the old
        key (marked KEY_CHANGE) and then the update; from then on the table's inserts go through
        the stage. `unchanged` is a COPY text[] of the columns whose TOASTed value the update did
        not change (their values are \\N here), else \\N."""
        rows = []
        if op == "update":
            old_fields, body = _split_update(body, lsn)
            if old_fields is not None:
                rows.append(("delete", self._values(old_fields)[0], KEY_CHANGE))
                # The new key may be inserted again later in this poll after a delete, all of it
                # unknown to landing: only the stage keeps such changes in order.
                self.direct = False
        elif body == "(no-tuple-data)":
            raise DecodingError(f"change at {lsn}: {op} on a table without a replica identity")
        fields = _fields(body, lsn)
        if op != "delete":
            names = {f.name for f in fields}
            for column in self.columns:
                if column not in names:
                    raise MissingColumn(self.key, column, lsn)
        shape = tuple((f.token, f.type) for f in fields)
        if shape not in self._shapes:
            self._shapes.add(shape)
            self.templates.append(_Template(fields, self.columns))
        rows.append((op, *self._values(fields)))
        return rows

    def _values(self, fields: list[Field]) -> tuple[str, str]:
        values = {f.name: f.value for f in fields}
        unchanged = [c for c in self.columns if isinstance(values.get(c), _Unchanged)]
        text = "\t".join(COPY_NULL if c in unchanged else copy_text(values.get(c)) for c in self.columns)
        return text, ("{" + ",".join(unchanged) + "}") if unchanged else COPY_NULL


class ChangeLines:
    """Collects `test_decoding` change lines as COPY text rows `seq, op, lsn, columns…, unchanged` per captured
    table (warehouse.ChangeStages), in the order given; `seq` numbers them across tables so the
    merge knows which change of a key is the last.

    Inserts into the tables in `direct` are collected apart, in `inserts`, as landing COPY rows
    `columns…, lsn` (warehouse.ChangeStages copies them straight into landing); after a TRUNCATE
    of a table, its inserts go with its other changes again, so that the merge applies the
    TRUNCATE before them.

    Headers repeat on every line, so each distinct one is read once (with the regular
    expression) and then found by its text up to the second `: `. `add` runs once per change
    (100 k per large poll), so its common path, a line a template matches, is written out in
    place: 1.9 µs a line here, against 2.3 µs through a method per step.
    """

    def __init__(self, tables: dict[tuple[str, str], Sequence[str]], direct: Collection[tuple[str, str]] = ()):
        self._tables = {key: TableRows(key, columns, key in direct) for key, columns in tables.items()}
        self.inserts = {key: table.inserts for key, table in self._tables.items()}
        self.truncated: set[tuple[str, str]] = set()  # captured tables a TRUNCATE emptied
        #: header text -> (table's rows, op, TableRows), or None for a table not captured
        self._headers: dict[str, tuple[list[str], str, TableRows] | None] = {}
        self.rows: dict[tuple[str, str], list[str]] = {key: [] for key in tables}
        self._seq = 0

    def add(self, data: str, lsn: str) -> None:
        """Add one change line; lines of other tables and logical decoding messages are skipped."""
        end = data.find(": ", data.find(": ", 6) + 2) + 2
        known = self._headers.get(data[:end], False)
        if known is False:
            known, end = self._learn(data, lsn)
        if known is None:
            return
        rows, op, table = known
        for template in table.templates:
            if not template.complete and op != "delete":
                continue
            match = template.fullmatch(data, end)
            if match is not None:
                values = match.groups(COPY_NULL)
                if template.order is not None:
                    values = [COPY_NULL if i is None else values[i] for i in template.order]
                self._seq += 1
                text = "\t".join(values).replace("''", "'")
                if op == "insert" and table.direct:  # _append's two cases, written out
                    table.inserts.append(f"{text}\t{lsn}\n")
                else:
                    rows.append(f"{self._seq}\t{op}\t{lsn}\t{text}\t{COPY_NULL}\n")
                return
        for row_op, values, unchanged in table.scanned(op, data[end:], lsn):
            self._append(rows, table, row_op, lsn, values, unchanged)

    def _append(self, rows: list[str], table: TableRows, op: str, lsn: str, values: str, unchanged: str) -> None:
        self._seq += 1
        if op == "insert" and table.direct:
            table.inserts.append(f"{values}\t{lsn}\n")
        else:
            rows.append(f"{self._seq}\t{op}\t{lsn}\t{values}\t{unchanged}\n")

    def _learn(self, data: str, lsn: str) -> tuple[tuple[list[str], str, TableRows] | None, int]:
        header = _HEADER.match(data)
        if header is None:
            if data.startswith("message:"):
                return None, 0
            if _TRUNCATE.fullmatch(data):
                for table in tables_changed(data):
                    self._truncate(table, lsn)
                return None, 0
            raise DecodingError(f"change at {lsn}: unexpected line {data[:80]!r}")
        table = (_identifier(header["schema"]), _identifier(header["table"]))
        known = (self.rows[table], header["op"].lower(), self._tables[table]) if table in self._tables else None
        # Quoted names may hold `: ` themselves; such headers are read again each time.
        if data.find(": ", data.find(": ", 6) + 2) + 2 == header.end():
            self._headers[header.group()] = known
        return known, header.end()

    def _truncate(self, table: tuple[str, str], lsn: str) -> None:
        """A captured table emptied: one `truncate` row (no values), which the merge reads as a
        delete of every row the table held before it (warehouse.ChangeStages.merge)."""
        if table in self._tables:
            emptied = self._tables[table]
            self._append(self.rows[table], emptied, "truncate", lsn, "\t".join([COPY_NULL] * len(emptied.columns)), COPY_NULL)
            emptied.direct = False
            self.truncated.add(table)
