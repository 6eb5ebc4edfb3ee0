"""Carrier X12 files come from many senders' tools: each public sample must read to the values checked by eye, and anything else must fail as MalformedEdi, never crash or hang."""

import dataclasses
import time
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_assets.edi import (
    ChargeLine,
    FreightInvoice,
    MalformedEdi,
    StatusMessage,
    UnsupportedSet,
    parse_file,
)
from sync_assets.edi.x12 import read_interchanges

FIXTURES = Path(__file__).parent / "fixtures" / "edi"
SAMPLES = sorted(p.name for p in FIXTURES.iterdir() if p.suffix.lower() in {".edi", ".txt"})

CANADA_POST_214 = "jf-tech__omniparser__1_canadapost_edi_214.input.txt"
UPS_210 = "jf-tech__omniparser__2_ups_edi_210.input.txt"
EDINET_214 = "indice-co__EDI.Net__214-MGCTLYST-SAMPLE.EDI"
EDINET_214_BOM = "indice-co__EDI.Net__x12.214.edi"
EDINET_210 = "indice-co__EDI.Net__210-MGCTLYST-SAMPLE.EDI"
STAEDI_210_WRAPPED = "xlate__staedi__ts210_80char.edi"
STAEDI_214_ELLIPSIS = "xlate__staedi__ts214_ellipses_segterm.edi"

#: What each sample holds, read from the file: the kind of every transaction set, in order.
EXPECTED_KINDS = {
    CANADA_POST_214: ["214"] * 19,
    UPS_210: ["210"] * 5,
    EDINET_214: ["214"],
    EDINET_214_BOM: ["214"],
    EDINET_210: ["210"],
    "indice-co__EDI.Net__204-MGCTLYST-SAMPLE.EDI": ["204"],
    "indice-co__EDI.Net__990-MGCTLYST-SAMPLE.EDI": ["990"],
    "kputnam__stupidedi__004010_SM204_1.edi": ["204"],
    "kputnam__stupidedi__004010_AR943_1.edi": ["943"],
    "kputnam__stupidedi__004010_RE944_1.edi": ["944"],
    STAEDI_210_WRAPPED: ["210"],
    STAEDI_214_ELLIPSIS: ["214"],
}


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse(name: str) -> list:
    return parse_file(name, sample(name))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def kind(message) -> str:
    return {StatusMessage: "214", FreightInvoice: "210"}.get(type(message)) or message.kind


def edited(name: str, old: bytes, new: bytes) -> bytes:
    data = sample(name)
    assert data.count(old) == 1, old
    return data.replace(old, new)


def malformed_reason(data: bytes) -> str:
    with pytest.raises(MalformedEdi) as caught:
        parse_file("bad.edi", data)
    return caught.value.reason


# --- every sample, with values read from the files ---------------------------------------------


def test_every_sample_has_expectations():
    assert SAMPLES == sorted(EXPECTED_KINDS)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_parses_to_its_transaction_sets(name):
    messages = parse(name)
    assert [kind(m) for m in messages] == EXPECTED_KINDS[name]
    assert all(m.file_name == name for m in messages if not isinstance(m, UnsupportedSet))


def test_canada_post_214_newline_terminated_with_padded_b10_and_empty_time_code():
    messages = parse(CANADA_POST_214)
    assert [m.control_number for m in messages] == [f"{n:09d}" for n in range(1, 20)]
    assert all(len(m.events) == 1 for m in messages)
    events = [m.events[0] for m in messages]
    assert Counter(e.status_code for e in events) == {"AF": 7, "XB": 6, "AP": 3, "AH": 1, "CA": 1, "D1": 1}
    assert Counter(e.milestone for e in events) == {None: 11, "DEPARTED": 7, "DELIVERED": 1}

    first = messages[0]
    assert first.shipment_ref == first.carrier_ref == "4343638097845589"  # padding stripped
    assert (first.events[0].time_code, first.events[0].occurred_at) == ("", None)  # empty AT707
    assert first.events[0].local_time == datetime(2019, 11, 3, 15, 34)
    assert (first.events[0].city, first.events[0].state) == ("WRENCH", "ON")

    delivered = messages[3].events[0]
    assert (delivered.status_code, delivered.reason_code, delivered.milestone) == ("D1", "NS", "DELIVERED")
    assert delivered.occurred_at == utc(2019, 11, 2, 22, 48)  # 16:48 MT is MDT, UTC-6
    assert (delivered.city, delivered.state) == ("SWITCH", "AB")
    assert messages[1].events[0].occurred_at == utc(2019, 11, 2, 23, 25)  # 16:25 PDT
    assert messages[4].events[0].occurred_at == utc(2019, 11, 3, 21, 9)  # CS: fixed UTC-6
    assert messages[10].events[0].occurred_at == utc(2019, 11, 3, 15, 37)  # 08:37 MT after DST ended: MST


def test_ups_210_five_invoices_whose_l1_amounts_sum_to_their_l3_totals():
    invoices = parse(UPS_210)
    assert [i.invoice_number for i in invoices] == [
        "0000001808WW308", "0000001502WW308", "0000004045WW308", "0000002063WW308", "0000004469WW318",
    ]
    assert [i.total for i in invoices] == [Decimal(t) for t in ("17.00", "94.15", "285.55", "1056.47", "21642.90")]
    assert [i.currency for i in invoices] == ["USD"] * 4 + ["CAD"]
    assert [i.invoice_date for i in invoices] == [date(2008, 7, 26)] * 4 + [date(2008, 8, 2)]
    for invoice in invoices:
        assert sum(line.amount for line in invoice.lines) == invoice.total
        assert invoice.shipment_ref is None  # UPS leaves B3-03 empty
    assert [(l.l1_code, l.amount, l.charge_code) for l in invoices[0].lines] == [
        ("SAC", Decimal("17.00"), None),
        ("400", Decimal("127.40"), "BASE"),
        ("395", Decimal("15.00"), None),
        ("FUE", Decimal("25.48"), "FUEL"),
        ("295", Decimal("-12.74"), None),
        ("CDF", Decimal("-167.88"), None),
        ("275", Decimal("12.74"), None),
    ]
    # The sender miscounted its first set (SE01 says 46 for 48 segments): kept, with a warning.
    assert invoices[0].warnings == ("segment 50 (SE): count '46' does not match 48 segments",)
    assert all(i.warnings == () for i in invoices[1:])


def test_edinet_chain_214_and_210_share_the_b10_02_shipment_reference():
    (status,) = parse(EDINET_214)
    (invoice,) = parse(EDINET_210)
    assert status.shipment_ref == invoice.shipment_ref == "75027674"  # the 204's load id (B2-04)
    assert status.carrier_ref == "1751807"
    (event,) = status.events
    assert (event.status_code, event.milestone, event.city, event.state) == ("D1", "DELIVERED", "BRATTLEBORO", "VT")
    assert (event.time_code, event.local_time, event.occurred_at) == ("LT", datetime(2016, 7, 26, 12, 30), None)


def test_edinet_210_per_cwt_line_haul_fuel_customs_and_discount():
    (invoice,) = parse(EDINET_210)
    assert (invoice.invoice_number, invoice.currency, invoice.invoice_date) == ("09851270", "USD", date(2016, 7, 7))
    assert invoice.total == Decimal("659.40")
    assert invoice.lines == [
        ChargeLine(1, "", Decimal("3636.04"), Decimal("46.09"), "PH", "BASE"),
        ChargeLine(2, "CUS", Decimal("15.00"), None, None, None),
        ChargeLine(3, "FUE", Decimal("26.27"), Decimal("26.27"), "FR", "FUEL"),
        ChargeLine(4, "DSC", Decimal("-3017.91"), None, None, None),
    ]


def test_wrapped_210_has_fuel_and_a_negative_discount():
    (invoice,) = parse(STAEDI_210_WRAPPED)
    assert (invoice.control_number, invoice.invoice_number, invoice.shipment_ref) == ("1305", "699751522", "134982")
    assert (invoice.invoice_date, invoice.total, invoice.warnings) == (date(2018, 9, 14), Decimal("124.17"), ())
    assert invoice.lines == [
        ChargeLine(1, "", Decimal("561.86"), Decimal("41.93"), "PH", "BASE"),
        ChargeLine(2, "DSC", Decimal("-449.49"), None, None, None),
        ChargeLine(3, "FUE", Decimal("11.80"), Decimal("11.8"), "FR", "FUEL"),
    ]


def test_ellipsis_terminated_214():
    (interchange,) = read_interchanges(sample(STAEDI_214_ELLIPSIS))
    assert (interchange.delimiters.element, interchange.delimiters.component, interchange.delimiters.segment) == (
        "*", ">", "\u2026",
    )
    (status,) = parse(STAEDI_214_ELLIPSIS)
    assert (status.shipment_ref, status.carrier_ref) == ("7727019", "0542550913")
    assert [(e.status_code, e.occurred_at, e.milestone, e.city) for e in status.events] == [
        ("AG", utc(2020, 9, 11, 15, 59), None, None),
        ("AF", utc(2020, 9, 10, 15, 35), "DEPARTED", None),
    ]


def test_bom_and_wrapped_isa_file_equals_its_plain_twin():
    def anonymous(messages):
        return [dataclasses.replace(m, file_name="") for m in messages]

    assert anonymous(parse(EDINET_214_BOM)) == anonymous(parse(EDINET_214))


def test_concatenated_interchanges_each_use_their_own_delimiters():
    names = [EDINET_214, CANADA_POST_214, STAEDI_214_ELLIPSIS]
    joined = parse_file("joined", b"\n".join(sample(n) for n in names))
    separately = [dataclasses.replace(m, file_name="joined") for n in names for m in parse(n)]
    assert joined == separately


# --- tolerated deviations -----------------------------------------------------------------------


def test_wrong_se_count_is_a_warning_not_a_quarantine():
    (status,) = parse_file("x.edi", edited(EDINET_214, b"SE*16*", b"SE*15*"))
    assert status.warnings == ("segment 18 (SE): count '15' does not match 16 segments",)
    assert status.events[0].status_code == "D1"


@pytest.mark.parametrize(
    ("time_code", "occurred_at"),
    [
        ("UT", utc(2016, 7, 26, 12, 30)),
        ("ET", utc(2016, 7, 26, 16, 30)),  # July: EDT
        ("ES", utc(2016, 7, 26, 17, 30)),  # standard time even in July
        ("ED", utc(2016, 7, 26, 16, 30)),
        ("PT", utc(2016, 7, 26, 19, 30)),
        ("LT", None),
        ("", None),
        ("ZZ", None),  # unknown code: accepted, no instant
    ],
)
def test_time_codes(time_code, occurred_at):
    data = edited(EDINET_214, b"*1230*LT~", f"*1230*{time_code}~".encode())
    (status,) = parse_file("x.edi", data)
    assert status.events[0].occurred_at == occurred_at
    assert status.events[0].local_time == datetime(2016, 7, 26, 12, 30)


def test_time_with_seconds():
    (status,) = parse_file("x.edi", edited(EDINET_214, b"*1230*LT~", b"*123045*UT~"))
    assert status.events[0].occurred_at == utc(2016, 7, 26, 12, 30, 45)


def test_appointment_at7_is_not_a_status_event_and_keeps_its_ms1():
    data = edited(EDINET_214, b"MS2*SCAC*30402~", b"MS2*SCAC*30402~\nLX*2~\nAT7***AB*NA*20160727*0800*LT~\nMS1*KEENE*NH~")
    (status,) = parse_file("x.edi", data)
    assert [(e.status_code, e.city) for e in status.events] == [("D1", "BRATTLEBORO")]


def test_unknown_status_and_charge_codes_are_kept_raw_and_map_to_none():
    (status,) = parse_file("x.edi", edited(EDINET_214, b"AT7*D1*", b"AT7*Q9*"))
    assert (status.events[0].status_code, status.events[0].milestone) == ("Q9", None)
    (invoice,) = parse_file("x.edi", edited(EDINET_210, b"****CUS~", b"****QQQ~"))
    assert (invoice.lines[1].l1_code, invoice.lines[1].charge_code) == ("QQQ", None)


def test_explicit_decimal_point_in_n2_amount_is_taken_as_written():
    (invoice,) = parse_file("x.edi", edited(EDINET_210, b"L1*2***1500****CUS", b"L1*2***15.00****CUS"))
    assert invoice.lines[1].amount == Decimal("15.00")
    assert invoice.warnings == ()


def test_line_without_charge_counts_zero_and_the_total_mismatch_is_reported():
    (invoice,) = parse_file("x.edi", edited(EDINET_210, b"L1*2***1500****CUS", b"L1*2*****1500**CUS"))
    assert invoice.lines[1].amount == Decimal("0.00")
    assert invoice.warnings == ("segment 32 (L3): L1 charges sum to 644.40 but the invoice total is 659.40",)


def test_total_falls_back_to_b3_net_amount_without_l3():
    (invoice,) = parse_file("x.edi", edited(EDINET_210, b"L3*7889*G***65940******3~\n", b""))
    assert invoice.total == Decimal("659.40")
    assert invoice.warnings == ("segment 32 (SE): count '31' does not match 30 segments",)


# --- malformed files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file: no ISA header"),
        (b" \r\n\t", "empty file: no ISA header"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"segment 1: expected an ISA header, found '\x89PNG\r\n\x1a\n\x00\x00\x00\r'"),
        (sample(EDINET_214)[:60], "segment 1 (ISA): truncated header, 8 of 16 elements"),
        (sample(EDINET_214)[:104], "segment 1 (ISA): file ends inside the ISA header"),
        (b"ISA*00*A*00*B*ZZ*C*ZZ*D*1*2*U*00401*XYZ*0*T*>~", "segment 1 (ISA): control number ISA13 'XYZ' is not numeric"),
        (b"ISA*00*A*00*B*ZZ*C*ZZ*D*1*2*U*00401*1*0*T*~~", "segment 1 (ISA): delimiters '*', '~', '~' are not distinct"),
        (
            edited(EDINET_214, b"SE*16*822650001~\n", b""),
            "segment 18 (GE): transaction set '822650001' (segment 3) has no SE",
        ),
        (
            sample(EDINET_214).split(b"SE*")[0],
            "end of file: transaction set '822650001' (segment 3) has no SE",
        ),
        (
            sample(EDINET_214).split(b"IEA")[0],
            "end of file: interchange '000082265' (segment 1) has no IEA",
        ),
        (
            edited(EDINET_214, b"IEA*1*000082265", b"IEA*1*000082266"),
            "segment 20 (IEA): control number '000082266' does not match interchange '000082265' (segment 1)",
        ),
        (
            edited(EDINET_214, b"SE*16*822650001", b"SE*16*822650002"),
            "segment 18 (SE): control number '822650002' does not match transaction set '822650001' (segment 3)",
        ),
        (
            edited(EDINET_214, b"GE*1*82265", b"GE*2*82265"),
            "segment 19 (GE): count '2' does not match 1 transaction sets",
        ),
        (
            edited(EDINET_214, b"IEA*1*", b"IEA*3*"),
            "segment 20 (IEA): count '3' does not match 1 functional groups",
        ),
        (
            edited(EDINET_214, b"GE*1*82265~", b"N1*SH*STRAY~\nGE*1*82265~"),
            "segment 19 (N1): expected ST or GE in functional group '82265' (segment 2)",
        ),
        (
            edited(EDINET_214, b"MS1*BRATTLEBORO*VT~", b"ms1*BRATTLEBORO*VT~"),
            "segment 16: 'ms1' is not a segment id",
        ),
        (
            edited(EDINET_214, b"B10*1751807*75027674*SCAC~\n", b""),
            "segment 3 (ST): 214 set '822650001' has no B10",
        ),
        (
            edited(EDINET_214, b"B10*1751807*75027674*", b"B10***"),
            "segment 4 (B10): no shipment reference in B10-02 or B10-01",
        ),
        (
            edited(EDINET_214, b"*20160726*1230*", b"*20161326*1230*"),
            "segment 15 (AT7): AT7-05 '20161326' is not a CCYYMMDD date",
        ),
        (
            edited(EDINET_214, b"*20160726*1230*", b"*20160726*1290*"),
            "segment 15 (AT7): AT7-06 '1290' is not an HHMM[SS] time",
        ),
        (
            edited(EDINET_214, b"*20160726*1230*", b"*20160726*12304*"),
            "segment 15 (AT7): AT7-06 '12304' is not an HHMM[SS] time",
        ),
        (
            edited(EDINET_214, b"*20160726*1230*LT", b"*99991231*2359*ET"),
            "segment 15 (AT7): AT7-05/06 '99991231' '2359' is out of range",
        ),
        (
            edited(EDINET_210, b"-301791", b"-30x791"),
            "segment 31 (L1): L1-04 '-30x791' is not an amount",
        ),
        (
            edited(EDINET_210, b"L1*1*46.09*", b"L1*1*NaN*"),
            "segment 18 (L1): L1-02 'NaN' is not a decimal number",
        ),
        (
            edited(EDINET_210, b"B3**09851270*", b"B3***"),
            "segment 4 (B3): no invoice number in B3-02",
        ),
    ],
)
def test_malformed_file_raises_with_a_one_line_reason(data, reason):
    assert malformed_reason(data) == reason


# --- fuzzing: only MalformedEdi, in linear time -------------------------------------------------

SAMPLE_BYTES = [sample(name) for name in SAMPLES]
#: Bytes that steer mutations into the parser's interesting places: delimiters and envelope ids.
INTERESTING = [b"*", b"~", b"|", b">", b"\n", b"\r\n", "\u2026".encode(), b"ISA*", b"SE*1*1~", b"ST*214*1~", b"GE*", b"\xef\xbb\xbf"]
MUTATION = st.tuples(
    st.sampled_from(["delete", "insert", "replace"]),
    st.integers(min_value=0, max_value=40_000),
    st.integers(min_value=1, max_value=8),
    st.one_of(st.binary(min_size=1, max_size=4), st.sampled_from(INTERESTING)),
)
FUZZ = settings(
    max_examples=500, deadline=timedelta(seconds=2), database=None, suppress_health_check=[HealthCheck.too_slow]
)


def mutate(data: bytes, mutations) -> bytes:
    buffer = bytearray(data)
    for action, at, width, payload in mutations:
        at %= len(buffer) + 1
        if action == "delete":
            del buffer[at:at + width]
        elif action == "insert":
            buffer[at:at] = payload
        else:
            buffer[at:at + len(payload)] = payload
    return bytes(buffer)


def parses_or_fails_cleanly(data: bytes) -> None:
    try:
        messages = parse_file("fuzz.edi", data)
    except MalformedEdi as error:
        assert error.reason and len(error.reason.splitlines()) == 1, error.reason
    else:
        assert all(isinstance(m, StatusMessage | FreightInvoice | UnsupportedSet) for m in messages)


@FUZZ
@given(st.sampled_from(SAMPLE_BYTES), st.lists(MUTATION, min_size=1, max_size=6))
def test_mutated_samples_raise_only_malformed_edi(data, mutations):
    parses_or_fails_cleanly(mutate(data, mutations))


@FUZZ
@given(st.one_of(st.binary(max_size=2_000), st.binary(max_size=400).map(lambda tail: b"ISA*" + tail)))
def test_random_bytes_raise_only_malformed_edi(data):
    parses_or_fails_cleanly(data)


def test_parse_time_grows_linearly():
    """Quadratic behaviour would show up as the 16x file taking far more than 16x as long."""
    small = sample(UPS_210) * 4

    def seconds(data: bytes) -> float:
        start = time.perf_counter()
        parse_file("big.edi", data)
        return time.perf_counter() - start

    seconds(small)  # warm up
    assert seconds(small * 16) < 16 * 4 * max(seconds(small), 0.005)
