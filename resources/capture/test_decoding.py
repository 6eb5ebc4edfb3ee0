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
"""

import re
from dataclasses import dataclass

_HEADER = re.compile(
    r'table (?P<schema>"(?:[^"]+|"")+"|[^.]+)\.(?P<table>"(?:[^"]+|"")+"|[^:]+): (?P<op>INSERT|UPDATE|DELETE): '
)


class DecodingError(ValueError):
    """A line the parser cannot read; it names the LSN so the change can be found and replayed."""


@dataclass(frozen=True)
class RowChange:
    schema: str
    table: str
    op: str  # insert | update | delete
    values: dict[str, str | None]  # the new tuple (insert, update) or the key (delete)
    old_key: dict[str, str | None] | None  # set when an update changed the key


def _identifier(text: str) -> str:
    return text[1:-1].replace('""', '"') if text.startswith('"') else text


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


def _columns(text: str, lsn: str) -> dict[str, str | None]:
    """Column values of one tuple: `name[type]:value` separated by single spaces.

    A hand-written scan with str.find: several times faster than a regular expression here, and
    it refuses anything that is not exactly columns, so a misread value can never shift the
    columns after it.
    """
    values: dict[str, str | None] = {}
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
            if text.startswith("'", value_start):
                close = _quoted_end(text, value_start, "'")
                values[name] = text[value_start + 1 : close].replace("''", "'")
                position = close + 1
            else:
                position = text.find(" ", value_start)
                position = length if position < 0 else position
                bare = text[value_start:position]
                if not bare:
                    raise ValueError("empty value")
                values[name] = None if bare == "null" else bare
            if position < length:
                if text[position] != " ":
                    raise ValueError("no space after a value")
                position += 1
    except (ValueError, IndexError) as exc:
        raise DecodingError(f"change at {lsn}: cannot read column data ({exc}) in {text[:80]!r}") from None
    return values


def parse_change(data: str, lsn: str) -> RowChange | None:
    """One row change, or None for BEGIN/COMMIT and messages the capture does not use."""
    header = _HEADER.match(data)
    if header is None:
        if data.startswith(("BEGIN", "COMMIT", "message:")):
            return None
        raise DecodingError(f"change at {lsn}: unexpected line {data[:80]!r}")
    op = header["op"].lower()
    body = data[header.end():]
    old_key = None
    if op == "update" and body.startswith("old-key: "):
        old_text, separator, body = body[len("old-key: "):].partition("new-tuple: ")
        if not separator:
            raise DecodingError(f"change at {lsn}: update with old-key but no new-tuple")
        old_key = _columns(old_text, lsn)
    elif body == "(no-tuple-data)":
        raise DecodingError(f"change at {lsn}: {op} on a table without a replica identity")
    return RowChange(_identifier(header["schema"]), _identifier(header["table"]), op, _columns(body, lsn), old_key)
