"""The partner carriers' EDI feed: X12 004010 files written into the inbox.

Layouts follow the public samples in tests/fixtures/edi (see SOURCES.md there):

* 214 (shipment status): `B10*<carrier PRO>*<shipment id>*<SCAC>`; the shipment id in B10-02 is
  the ERP order id as the partner typed it from the tender (`SO-0001234`, sometimes
  `SO0001234`). One `AT7*<status>*NS***<CCYYMMDD>*<HHMM>*<time code>` per message, in the local
  time of the stop with its X12 time code (ET, CT, MT, PT; MS for Arizona, which keeps standard
  time). Status codes: AF departed pick-up, X1 arrived at delivery location, D1 delivered, A7
  refused by consignee — each at the same instant as the telematics/POD record it mirrors.
* 210 (freight invoice): `B3**<invoice>*<shipment id>*PP**<date>*<net, implied 2 decimals>...`,
  `C3*<currency>`, one `LX`/`L5`/`L1*n***<charge>****<code>` per charge (400 freight, FUE fuel,
  DET detention, LFT lift gate, IDL inside delivery, RES residential) and `L3*****<total>`.
  A partner invoices the tariff amounts, so its 210 always carries the correctly rated charges.

Segments end with `~` and a newline, elements are separated by `*`. One interchange per file,
one file per message type, partner and day (build) or per tick. File names are
`<214|210>_<SCAC>_<YYYYMMDD>.edi` (daily) or `..._<YYYYMMDDTHHMM>.edi` (a tick or a one-off
transmission), so they are deterministic; `build` removes files of that shape before writing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from .clock import utc

RECEIVER = "WAYBILL"
FILE_NAME = re.compile(r"^(210|214)_[A-Z]{4}_\d{8}(T\d{4})?\.edi$")
L1_CODES = {"BASE": "400", "FUEL": "FUE", "DET": "DET", "LIFT": "LFT", "INSD": "IDL", "RESI": "RES"}
L5_TEXT = {"BASE": "LINE HAUL", "FUEL": "FUEL SURCHARGE", "DET": "DETENTION", "LIFT": "LIFT GATE",
           "INSD": "INSIDE DELIVERY", "RESI": "RESIDENTIAL DELIVERY"}
_TIME_CODES = {
    "America/New_York": "ET", "America/Toronto": "ET", "America/Detroit": "ET",
    "America/Indiana/Indianapolis": "ET", "America/Kentucky/Louisville": "ET",
    "America/Chicago": "CT", "America/Winnipeg": "CT", "America/Denver": "MT",
    "America/Phoenix": "MS", "America/Los_Angeles": "PT",
}


@dataclass(frozen=True)
class StatusMessage:
    """One 214 transaction set: a status of a shipment at a stop."""

    scac: str
    pro: str
    reference: str
    status: str
    moment: int
    zone: str
    city: str
    region: str
    country: str
    shipper: str
    consignee: str

    kind = "214"


@dataclass(frozen=True)
class InvoiceMessage:
    """One 210 transaction set: the partner's freight invoice for a shipment."""

    scac: str
    invoice_number: str
    reference: str
    moment: int
    delivered: int
    currency: str
    lines: tuple  # (charge code, amount)
    shipper: str
    consignee: str

    kind = "210"


def _local_stamp(moment: int, zone: str) -> tuple[str, str, str]:
    code = _TIME_CODES.get(zone)
    local = utc(moment).astimezone(ZoneInfo(zone)) if code else utc(moment)
    return local.strftime("%Y%m%d"), local.strftime("%H%M"), code or "UT"


def _n2(amount) -> str:
    """X12 type N2: implied two decimals."""
    return str(int(amount * 100))


def _status_segments(m: StatusMessage) -> list[str]:
    day, time, code = _local_stamp(m.moment, m.zone)
    return [
        f"B10*{m.pro}*{m.reference}*{m.scac}",
        f"L11*{m.reference}*PO",
        f"N1*SH*{m.shipper}",
        f"N1*CN*{m.consignee}",
        f"N4*{m.city}*{m.region}**{m.country}",
        "LX*1",
        f"AT7*{m.status}*NS***{day}*{time}*{code}",
        f"MS1*{m.city}*{m.region}*{m.country}",
    ]


def _invoice_segments(m: InvoiceMessage) -> list[str]:
    total = sum(amount for _, amount in m.lines)
    invoiced, delivered = utc(m.moment).strftime("%Y%m%d"), utc(m.delivered).strftime("%Y%m%d")
    segments = [
        f"B3**{m.invoice_number}*{m.reference}*PP**{invoiced}*{_n2(total)}**{delivered}*035*{m.scac}*{invoiced}",
        f"C3*{m.currency}",
        f"N1*SH*{m.shipper}",
        f"N1*CN*{m.consignee}",
    ]
    for number, (code, amount) in enumerate(m.lines, start=1):
        segments += [f"LX*{number}", f"L5*{number}*{L5_TEXT[code]}", f"L1*{number}***{_n2(amount)}****{L1_CODES[code]}"]
    segments.append(f"L3*****{_n2(total)}")
    return segments


def interchange(scac: str, kind: str, messages: list, sent: int, control: int) -> str:
    """One ISA/GS envelope around the messages' transaction sets."""
    stamp = utc(sent)
    lines = [
        f"ISA*00*{'':10}*00*{'':10}*02*{scac:<15}*ZZ*{RECEIVER:<15}*{stamp:%y%m%d}*{stamp:%H%M}*U*00401*{control:09d}*0*P*>",
        f"GS*{'QM' if kind == '214' else 'IM'}*{scac}*{RECEIVER}*{stamp:%Y%m%d}*{stamp:%H%M}*{control}*X*004010",
    ]
    for number, message in enumerate(messages, start=1):
        body = _status_segments(message) if kind == "214" else _invoice_segments(message)
        lines += [f"ST*{kind}*{number:04d}", *body, f"SE*{len(body) + 2}*{number:04d}"]
    lines += [f"GE*{len(messages)}*{control}", f"IEA*1*{control:09d}"]
    return "".join(f"{line}~\n" for line in lines)


def file_name(kind: str, scac: str, stamp: str) -> str:
    return f"{kind}_{scac}_{stamp}.edi"


def write_batches(inbox: Path, messages: list[tuple[int, object]], stamp_of, sent_of) -> list[str]:
    """Group messages into files by (type, partner, stamp_of(moment)) and write them; returns the names.

    `sent_of(stamp)` is the transmission time written into the envelope; the control number is
    derived from it, so files are reproducible.
    """
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for moment, message in sorted(messages, key=lambda m: (m[0], m[1].kind, m[1].reference, m[1].scac)):
        groups[(message.kind, message.scac, stamp_of(moment))].append(message)
    names = []
    for (kind, scac, stamp), group in sorted(groups.items()):
        sent = sent_of(stamp)
        name = file_name(kind, scac, stamp)
        # As a sender should: written under a hidden name, then renamed, so no intake reads it half-written.
        partial = inbox / f".{name}.part"
        partial.write_text(interchange(scac, kind, group, sent, (sent // 60 * 2 + (kind == "210")) % 10**9))
        partial.replace(inbox / name)
        names.append(name)
    return names


def clear_inbox(inbox: Path) -> None:
    """Remove the files an earlier build or tick wrote (only names of the sandbox's own shape)."""
    for path in inbox.iterdir():
        if path.is_file() and FILE_NAME.match(path.name):
            path.unlink()
