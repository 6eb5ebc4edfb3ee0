"""Typed carrier messages from X12 files: 214 shipment status and 210 freight invoice.

Choices, each checked against tests/fixtures/edi:
- 214 shipment reference. B10-01 is the carrier's own reference (its PRO or tracking number).
  B10-02 is the Shipment Identification Number, which is the shipper's reference. In the EDI.Net
  chain, B10-02 = 75027674 is the load id that the shipper's 204 tendered (B2-04) and that the
  carrier's 210 bills (B3-03), while B10-01 = 1751807 is the carrier's. So `shipment_ref` is
  B10-02, falling back to B10-01 when B10-02 is empty. `carrier_ref` keeps B10-01. Some carriers
  put the shipper's order number in B10-01 and their own in B10-02, so the canonical model takes
  the order B10-02 names, else the one B10-01 names; a message naming none in either is an
  ORPHAN_RECORD keyed by `shipment_ref` (`edi:<file>:<B10 ref>`).
- 210 shipment reference. B3-03 (Shipment Identification Number, the same load id) is used.
  UPS leaves it empty, because one UPS invoice covers many parcels. Then it is None.
- Money. L1-04, L3-05 and B3-07 are X12 type N2: two implied decimals, so "-44949" is -449.49.
  Each sample's L1 amounts read this way add up to its L3 total. If a sender writes an explicit
  decimal point anyway, the value is taken as written. L1-02 (rate) is type R and is read as
  written ("46.09").
- Time. AT7-05/06 are read with the AT7-07 time code (codes.TIME_CODE_ZONES). LT, an empty code
  and an unknown code give `occurred_at=None`. `local_time` and `time_code` are kept, so that the
  caller, which knows the location's zone, can resolve the instant.
A set whose required content is missing or unreadable raises MalformedEdi naming the segment, so
the whole file is quarantined instead of half-loaded.
"""

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from decimal import Decimal

from sync_assets.edi.codes import CHARGE_CODES, STATUS_MILESTONES, TIME_CODE_ZONES
from sync_assets.edi.x12 import MalformedEdi, Segment, TransactionSet, read_interchanges

DEFAULT_CURRENCY = "USD"
_N2 = re.compile(r"-?\d{1,15}\Z")
_DECIMAL = re.compile(r"-?(\d{1,15}(\.\d{0,6})?|\.\d{1,6})\Z")
_DATE = re.compile(r"(\d{4})(\d\d)(\d\d)\Z")
_TIME = re.compile(r"(\d\d)(\d\d)(?:(\d\d)\d{0,2})?\Z")


@dataclass(frozen=True)
class StatusEvent:
    status_code: str  # AT7-01
    reason_code: str  # AT7-02
    occurred_at: datetime | None  # aware UTC; None when the time code does not name a zone
    city: str | None  # MS1-01 of the event's loop
    state: str | None  # MS1-02
    milestone: str | None  # codes.STATUS_MILESTONES
    local_time: datetime | None  # AT7-05/06 as sent, without a zone
    time_code: str  # AT7-07


@dataclass(frozen=True)
class StatusMessage:
    file_name: str
    control_number: str  # ST02
    shipment_ref: str  # B10-02, else B10-01
    carrier_ref: str  # B10-01
    events: list[StatusEvent]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChargeLine:
    line_no: int | None  # L1-01
    l1_code: str  # L1-08, "" on the freight line
    amount: Decimal  # L1-04; 0.00 when the line carries no charge
    rate: Decimal | None  # L1-02
    rate_qualifier: str | None  # L1-03, e.g. PH (per hundredweight), FR (flat)
    charge_code: str | None  # codes.CHARGE_CODES


@dataclass(frozen=True)
class FreightInvoice:
    file_name: str
    control_number: str  # ST02
    invoice_number: str  # B3-02
    shipment_ref: str | None  # B3-03
    currency: str  # C3-01, else USD
    invoice_date: date | None  # B3-06
    total: Decimal  # L3-05, else B3-07
    lines: list[ChargeLine]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnsupportedSet:
    """A transaction set Waybill does not read (204, 990, 943, 944...). It is not an error: such sets are skipped."""

    kind: str


Message = StatusMessage | FreightInvoice | UnsupportedSet


def parse_file(name: str, data: bytes) -> list[Message]:
    """Every transaction set in the file, in file order. Raises MalformedEdi if any part is malformed, so a file is taken whole or not at all."""
    messages: list[Message] = []
    for interchange in read_interchanges(data):
        for group in interchange.groups:
            for transaction in group.sets:
                reader = _READERS.get(transaction.kind)
                messages.append(reader(name, transaction) if reader else UnsupportedSet(transaction.kind))
    return messages


def _status_message(file_name: str, transaction: TransactionSet) -> StatusMessage:
    b10 = _required(transaction, "B10")
    shipment_ref = b10.get(2) or b10.get(1)
    if not shipment_ref:
        raise MalformedEdi(f"{b10.label}: no shipment reference in B10-02 or B10-01")
    return StatusMessage(
        file_name=file_name,
        control_number=transaction.control_number,
        shipment_ref=shipment_ref,
        carrier_ref=b10.get(1),
        events=_status_events(transaction),
        warnings=transaction.warnings,
    )


def _status_events(transaction: TransactionSet) -> list[StatusEvent]:
    """The AT7 status events in file order, each with the MS1 location that follows it in its loop.

    An AT7 without AT7-01 is an appointment (AT7-03/04), not a status, so it is left out.
    """
    events: list[StatusEvent] = []
    current: int | None = None  # index of the event an MS1 would belong to
    for segment in transaction.segments:
        if segment.id == "AT7":
            current = None
            if segment.get(1):
                events.append(_status_event(segment))
                current = len(events) - 1
        elif segment.id == "MS1" and current is not None:
            events[current] = replace(events[current], city=segment.get(1) or None, state=segment.get(2) or None)
        elif segment.id == "LX":
            current = None
    return events


def _status_event(at7: Segment) -> StatusEvent:
    local_time = _local_time(at7, 5, 6)
    zone = TIME_CODE_ZONES.get(at7.get(7))
    occurred_at = None
    if local_time and zone:
        try:
            occurred_at = local_time.replace(tzinfo=zone).astimezone(timezone.utc)
        except OverflowError:
            raise MalformedEdi(f"{at7.label}: AT7-05/06 {at7.get(5)!r} {at7.get(6)!r} is out of range") from None
    return StatusEvent(
        status_code=at7.get(1),
        reason_code=at7.get(2),
        occurred_at=occurred_at,
        city=None,
        state=None,
        milestone=STATUS_MILESTONES.get(at7.get(1)),
        local_time=local_time,
        time_code=at7.get(7),
    )


def _freight_invoice(file_name: str, transaction: TransactionSet) -> FreightInvoice:
    b3 = _required(transaction, "B3")
    if not b3.get(2):
        raise MalformedEdi(f"{b3.label}: no invoice number in B3-02")
    c3 = _find(transaction, "C3")
    total_segment, total = _invoice_total(b3, _find(transaction, "L3"))
    lines = [_charge_line(segment) for segment in transaction.segments if segment.id == "L1"]
    return FreightInvoice(
        file_name=file_name,
        control_number=transaction.control_number,
        invoice_number=b3.get(2),
        shipment_ref=b3.get(3) or None,
        currency=(c3.get(1) if c3 else "") or DEFAULT_CURRENCY,
        invoice_date=_date(b3, 6),
        total=total,
        lines=lines,
        warnings=transaction.warnings + _total_warnings(total_segment, lines, total),
    )


def _invoice_total(b3: Segment, l3: Segment | None) -> tuple[Segment, Decimal]:
    """The invoice total and the segment it came from: L3-05 (the billed total), else B3-07 (net amount due)."""
    for segment, n in ((l3, 5), (b3, 7)):
        if segment is not None and (amount := _money(segment, n)) is not None:
            return segment, amount
    raise MalformedEdi(f"{b3.label}: no total in L3-05 or B3-07")


def _charge_line(l1: Segment) -> ChargeLine:
    line_no = l1.get(1)
    if line_no and not (line_no.isascii() and line_no.isdecimal() and len(line_no) <= 9):
        raise MalformedEdi(f"{l1.label}: L1-01 {line_no!r} is not a line number")
    return ChargeLine(
        line_no=int(line_no) if line_no else None,
        l1_code=l1.get(8),
        amount=_money(l1, 4) or Decimal("0.00"),
        rate=_decimal(l1, 2),
        rate_qualifier=l1.get(3) or None,
        charge_code=CHARGE_CODES.get(l1.get(8)),
    )


def _total_warnings(where: Segment, lines: list[ChargeLine], total: Decimal) -> tuple[str, ...]:
    """Check that the invoice's own lines add up to its total. Money is not taken on trust when a sender's segment count was off."""
    charged = sum((line.amount for line in lines), Decimal("0.00"))
    if charged == total:
        return ()
    return (f"{where.label}: L1 charges sum to {charged} but the invoice total is {total}",)


def _find(transaction: TransactionSet, segment_id: str) -> Segment | None:
    return next((segment for segment in transaction.segments if segment.id == segment_id), None)


def _required(transaction: TransactionSet, segment_id: str) -> Segment:
    """The set's beginning segment. Without it the message has no identity, so the set is malformed."""
    segment = _find(transaction, segment_id)
    if segment is None:
        raise MalformedEdi(
            f"segment {transaction.segments[0].position} (ST): {transaction.kind} set "
            f"{transaction.control_number!r} has no {segment_id}"
        )
    return segment


def _element_error(segment: Segment, n: int, expected: str) -> MalformedEdi:
    return MalformedEdi(f"{segment.label}: {segment.id}-{n:02d} {segment.get(n)!r} is not {expected}")


def _money(segment: Segment, n: int) -> Decimal | None:
    """Element n as X12 N2 money (two implied decimals); a value with an explicit point is taken as written."""
    value = segment.get(n)
    if not value:
        return None
    if _N2.match(value):
        return Decimal(value).scaleb(-2)
    if _DECIMAL.match(value):
        return Decimal(value)
    raise _element_error(segment, n, "an amount")


def _decimal(segment: Segment, n: int) -> Decimal | None:
    value = segment.get(n)
    if not value:
        return None
    if not _DECIMAL.match(value):
        raise _element_error(segment, n, "a decimal number")
    return Decimal(value)


def _date(segment: Segment, n: int) -> date | None:
    value = segment.get(n)
    if not value:
        return None
    if match := _DATE.match(value):
        try:
            return date(*map(int, match.groups()))
        except ValueError:
            pass
    raise _element_error(segment, n, "a CCYYMMDD date")


def _local_time(segment: Segment, date_n: int, time_n: int) -> datetime | None:
    """The date and time elements as a naive datetime (HHMM, seconds optional). None unless both are present: a time of day is never made up."""
    day = _date(segment, date_n)
    value = segment.get(time_n)
    if day is None or not value:
        return None
    if match := _TIME.match(value):
        hour, minute, second = (int(part or 0) for part in match.groups())
        try:
            return datetime(day.year, day.month, day.day, hour, minute, second)
        except ValueError:
            pass
    raise _element_error(segment, time_n, "an HHMM[SS] time")


_READERS = {"214": _status_message, "210": _freight_invoice}
