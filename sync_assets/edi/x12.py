"""A tolerant ANSI X12 tokenizer and envelope reader for carrier files.

Why Waybill owns this instead of using a PyPI library: the candidates were tried on the sample
files in tests/fixtures/edi. pyx12 4.0.0 (maintained, but built for HIPAA) reads the ISA as 106
fixed characters and accepts only ISA12 00401/00501, so it rejects 7 of the 11 samples (versions
00400/00403, a line break inside the ISA, the "…" terminator). ansi-x12 0.2.0 (alpha) rejects
the wrapped ISA, the BOM file and the "…" terminator, and treats a wrong SE01 count as fatal.
badx12 0.2.2 (2018) does not import on Python 3.11, and x12-edi-tools 0.1.2 hard-codes "~" and
"*". Carrier files break each of those assumptions, and a tokenizer is small.

What real files do, and what this reader does about it:
- Delimiters come from the ISA header. The element separator is the character after "ISA". The
  component separator (ISA16) is the character after the 16th element separator. The segment
  terminator is the character after ISA16: "~", "|", a newline, or even U+2026 "…".
- A UTF-8 byte order mark is dropped. Bytes that are not UTF-8 are read as Latin-1, so a stray
  accented name does not reject the file.
- Line breaks. When the terminator is not a newline, CR/LF are line wrapping and are removed
  wherever they occur, even inside the ISA (files hard-wrapped at 80 columns). If a line break
  follows ISA16 and the next character is punctuation, that character is the terminator and the
  wrap fell just before it. Otherwise the file is newline-terminated.
- Blank segments are skipped, elements are stripped of padding, and a last segment without its
  terminator is accepted.

Envelope policy. Control numbers must match (ISA13 = IEA02, GS06 = GE02, ST02 = SE02, compared
without leading zeros): a mismatch means that a trailer closes some other header, so content was
spliced or cut. Missing trailers and segments outside their envelope are fatal too. Declared
counts are treated differently:
- A wrong SE01 is only a warning on the set. Real senders miscount: the EDI.Net 204 says 41 for
  38 segments and the first UPS 210 says 46 for 48. Matching ST02/SE02 already prove that the set
  is whole.
- A wrong GE01 or IEA01 is fatal, because that count is the only evidence that a whole
  transaction set (an invoice) or group was not lost or duplicated.
Every problem raises MalformedEdi with a one-line reason that names the segment position
(1-based across the file), for the quarantine.

The reader is linear in the file size: each segment is found with one forward search.
"""

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass

ISA_ELEMENTS = 16
#: Enough characters to hold a 106-character ISA even with line breaks wrapped into it.
_ISA_WINDOW = 400
_LINE_BREAKS = "\r\n"
_NEWLINE_TERMINATOR = re.compile(r"\r\n?|\n")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
#: Header segment id -> (what it opens, its control-number element, the trailer that closes it).
_ENVELOPES = {
    "ISA": ("interchange", 13, "IEA"),
    "GS": ("functional group", 6, "GE"),
    "ST": ("transaction set", 2, "SE"),
}
_ENVELOPE_IDS = {*_ENVELOPES, "IEA", "GE", "SE"}


class MalformedEdi(ValueError):
    """A file that cannot be read as X12. `reason` is the one-line text stored with the quarantined file."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Segment:
    """One segment. `elements[0]` is the segment id, and `elements[n]` is element n in X12 numbering."""

    position: int
    elements: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.elements[0]

    @property
    def label(self) -> str:
        """How error messages name the segment: "segment 12 (SE)"."""
        return f"segment {self.position} ({self.id})"

    def get(self, n: int) -> str:
        """Element n (AT7-05 is get(5)); "" when the sender left it out, as X12 allows for trailing elements."""
        return self.elements[n] if n < len(self.elements) else ""


@dataclass(frozen=True)
class Delimiters:
    element: str
    component: str
    #: "\n" stands for any line break (LF, CRLF or CR).
    segment: str


@dataclass(frozen=True)
class TransactionSet:
    kind: str  # ST01, e.g. "214"
    control_number: str  # ST02
    segments: tuple[Segment, ...]  # ST through SE
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class FunctionalGroup:
    functional_id: str  # GS01, e.g. "QM"
    control_number: str  # GS06
    version: str  # GS08, e.g. "004010"
    sets: tuple[TransactionSet, ...]


@dataclass(frozen=True)
class Interchange:
    control_number: str  # ISA13
    sender: str  # ISA06
    receiver: str  # ISA08
    delimiters: Delimiters
    groups: tuple[FunctionalGroup, ...]


def read_interchanges(data: bytes) -> Iterator[Interchange]:
    """Yield each interchange of a file, raising MalformedEdi at the first fault in it."""
    cursor = _Cursor(_decode(data))
    if cursor.at_end():
        raise MalformedEdi("empty file: no ISA header")
    while not cursor.at_end():
        yield _read_interchange(cursor)


def _decode(data: bytes) -> str:
    """The file's text. It is UTF-8 if possible (a U+2026 terminator takes 3 bytes); otherwise it is Latin-1, which accepts any byte."""
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Cursor:
    """Walks the text one segment at a time and numbers segments from 1 across the whole file.

    Each ISA sets the delimiters again, so a file can concatenate interchanges from different
    senders.
    """

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.count = 0
        # Both are set by read_isa, which every interchange starts with.
        self.delimiters: Delimiters
        self._terminator: re.Pattern[str]

    def at_end(self) -> bool:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1
        return self.pos >= len(self.text)

    def read_isa(self) -> Segment:
        """Read the ISA header at the cursor and learn the delimiters for the rest of its interchange."""
        self.count += 1
        where = f"segment {self.count} (ISA)"
        start = self.pos
        if not self.text.startswith("ISA", start):
            raise MalformedEdi(f"segment {self.count}: expected an ISA header, found {self.text[start:start + 12]!r}")
        window = self.text[start:start + _ISA_WINDOW]
        offsets = [i for i, ch in enumerate(window) if ch not in _LINE_BREAKS]
        flat = "".join(window[i] for i in offsets)
        separator = flat[3:4]
        if not separator or separator.isalnum() or separator.isspace():
            raise MalformedEdi(f"{where}: no element separator after 'ISA'")
        parts = flat.split(separator, ISA_ELEMENTS)
        if len(parts) <= ISA_ELEMENTS:
            raise MalformedEdi(f"{where}: truncated header, {len(parts) - 1} of {ISA_ELEMENTS} elements")
        if not parts[ISA_ELEMENTS]:
            raise MalformedEdi(f"{where}: file ends inside the ISA header")
        component = parts[ISA_ELEMENTS][0]
        after_component = start + offsets[len(flat) - len(parts[ISA_ELEMENTS])] + 1
        terminator, self.pos = self._terminator_after(after_component, where)
        elements = tuple(part.strip() for part in parts[:ISA_ELEMENTS]) + (component,)
        _check_delimiters(where, separator, component, terminator)
        if not (elements[13].isascii() and elements[13].isdecimal()):
            raise MalformedEdi(f"{where}: control number ISA13 {elements[13]!r} is not numeric")
        self.delimiters = Delimiters(separator, component, terminator)
        self._terminator = _NEWLINE_TERMINATOR if terminator == "\n" else re.compile(re.escape(terminator))
        return Segment(self.count, elements)

    def _terminator_after(self, index: int, where: str) -> tuple[str, int]:
        """The segment terminator, read from `index` (just after ISA16), and where the next segment starts."""
        text = self.text
        after_breaks = index
        while after_breaks < len(text) and text[after_breaks] in _LINE_BREAKS:
            after_breaks += 1
        candidate = text[after_breaks:after_breaks + 1]
        if after_breaks > index and (not candidate or candidate.isalnum() or candidate.isspace()):
            return "\n", after_breaks
        if not candidate:
            raise MalformedEdi(f"{where}: file ends inside the ISA header")
        return candidate, after_breaks + 1

    def next_segment(self) -> Segment | None:
        """The next non-blank segment, or None at the end of the text."""
        text = self.text
        while self.pos < len(text):
            match = self._terminator.search(text, self.pos)
            end = match.start() if match else len(text)
            raw = text[self.pos:end]
            self.pos = match.end() if match else len(text)
            if self.delimiters.segment != "\n":
                raw = raw.replace("\r", "").replace("\n", "")
            raw = raw.strip()
            if raw:
                self.count += 1
                elements = tuple(element.strip() for element in raw.split(self.delimiters.element))
                if not _SEGMENT_ID.match(elements[0]):
                    raise MalformedEdi(f"segment {self.count}: {elements[0][:20]!r} is not a segment id")
                return Segment(self.count, elements)
        return None


def _check_delimiters(where: str, element: str, component: str, terminator: str) -> None:
    """Reject delimiters that would make data ambiguous: letters, digits, blanks, or two roles sharing one character."""
    for name, ch in (("component separator", component), ("segment terminator", terminator)):
        if ch != "\n" and (ch.isalnum() or ch.isspace()):
            raise MalformedEdi(f"{where}: {name} {ch!r} is a letter, digit or blank")
    if len({element, component, terminator}) < 3:
        raise MalformedEdi(f"{where}: delimiters {element!r}, {component!r}, {terminator!r} are not distinct")


def _read_interchange(cursor: _Cursor) -> Interchange:
    isa = cursor.read_isa()
    groups = []
    while (segment := cursor.next_segment()) is not None:
        if segment.id == "GS":
            groups.append(_read_group(cursor, segment))
        elif segment.id == "IEA":
            _check_trailer(isa, segment, len(groups), "functional groups", fatal_count=True)
            return Interchange(isa.get(13), isa.get(6), isa.get(8), cursor.delimiters, tuple(groups))
        else:
            raise MalformedEdi(f"{segment.label}: expected GS or IEA in {_describe(isa)}")
    raise MalformedEdi(_unclosed(isa))


def _read_group(cursor: _Cursor, gs: Segment) -> FunctionalGroup:
    sets = []
    while (segment := cursor.next_segment()) is not None:
        if segment.id == "ST":
            sets.append(_read_set(cursor, segment))
        elif segment.id == "GE":
            _check_trailer(gs, segment, len(sets), "transaction sets", fatal_count=True)
            return FunctionalGroup(gs.get(1), gs.get(6), gs.get(8), tuple(sets))
        else:
            raise MalformedEdi(f"{segment.label}: expected ST or GE in {_describe(gs)}")
    raise MalformedEdi(_unclosed(gs))


def _read_set(cursor: _Cursor, st: Segment) -> TransactionSet:
    segments = [st]
    while (segment := cursor.next_segment()) is not None:
        segments.append(segment)
        if segment.id == "SE":
            warning = _check_trailer(st, segment, len(segments), "segments", fatal_count=False)
            return TransactionSet(st.get(1), st.get(2), tuple(segments), (warning,) if warning else ())
        if segment.id in _ENVELOPE_IDS:
            raise MalformedEdi(f"{segment.label}: {_describe(st)} has no SE")
    raise MalformedEdi(_unclosed(st))


def _check_trailer(header: Segment, trailer: Segment, actual: int, unit: str, fatal_count: bool) -> str | None:
    """Check a trailer against its header. Returns the count warning that is not fatal, if there is one."""
    _, control_element, _ = _ENVELOPES[header.id]
    if _control_key(trailer.get(2)) != _control_key(header.get(control_element)):
        raise MalformedEdi(f"{trailer.label}: control number {trailer.get(2)!r} does not match {_describe(header)}")
    declared = trailer.get(1)
    if _control_key(declared) == str(actual):
        return None
    problem = f"{trailer.label}: count {declared!r} does not match {actual} {unit}"
    if fatal_count:
        raise MalformedEdi(problem)
    return problem


def _control_key(value: str) -> str:
    """A number with its zero padding removed ("000001644" and "1644" are the same control number). Other text is unchanged."""
    if value.isascii() and value.isdecimal():
        return value.lstrip("0") or "0"
    return value


def _describe(header: Segment) -> str:
    kind, control_element, _ = _ENVELOPES[header.id]
    return f"{kind} {header.get(control_element)!r} (segment {header.position})"


def _unclosed(header: Segment) -> str:
    return f"end of file: {_describe(header)} has no {_ENVELOPES[header.id][2]}"
