"""EDI files land exactly once: every real sample is read, a malformed file is quarantined with its reason."""

import shutil
import threading
import time
from pathlib import Path

import psycopg
import pytest

from resources.databases import engine_for, resolve_url
from sync_assets.edi import intake
from sync_assets.edi.intake import read_inbox

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "edi"
SAMPLES = sorted(p for p in FIXTURES.iterdir() if p.suffix.lower() in (".edi", ".txt"))


def test_inbox_reads_every_sample_once_and_quarantines_a_broken_file(landscape_env, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for sample in SAMPLES:
        shutil.copy(sample, inbox / sample.name)
    (inbox / "broken-214.edi").write_bytes(b"ISA*00*          *00*    ~ST*214*0001~B10*X~")
    engine = engine_for("warehouse", resolve_url("warehouse"))

    first = read_inbox(engine, inbox)
    assert sorted(first.processed) == [s.name for s in SAMPLES]
    assert list(first.quarantined) == ["broken-214.edi"]
    assert "ISA" in first.quarantined["broken-214.edi"]
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == [s.name for s in SAMPLES]
    assert [p.name for p in (inbox / "quarantine").iterdir()] == ["broken-214.edi"]
    assert not [p for p in inbox.iterdir() if p.is_file()]

    with psycopg.connect(landscape_env["warehouse"]) as conn:
        # Canada Post's file: 19 status messages; the EDI.Net 214 reports delivery (D1) of load 75027674.
        assert conn.execute(
            "SELECT count(DISTINCT set_no) FROM landing.raw_edi_status_events WHERE file_name LIKE '%canadapost%'"
        ).fetchone() == (19,)
        assert conn.execute(
            "SELECT shipment_ref, status_code, milestone FROM landing.raw_edi_status_events "
            "WHERE file_name = 'indice-co__EDI.Net__214-MGCTLYST-SAMPLE.EDI'"
        ).fetchall() == [("75027674", "D1", "DELIVERED")]
        # Every 210's lines add up to its total.
        assert conn.execute(
            "SELECT count(*) FROM (SELECT file_sha256, set_no FROM landing.raw_edi_invoice_lines "
            "GROUP BY 1, 2 HAVING sum(amount) <> max(invoice_total)) off"
        ).fetchone() == (0,)
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM landing.raw_edi_status_events), (SELECT count(*) FROM landing.raw_edi_invoice_lines)"
        ).fetchone()

    # The same bytes dropped in again are recognised and not applied twice.
    shutil.copy(SAMPLES[0], inbox / "resent.edi")
    again = read_inbox(engine, inbox)
    assert again.already_seen == ["resent.edi"] and not again.processed
    with psycopg.connect(landscape_env["warehouse"]) as conn:
        assert conn.execute(
            "SELECT (SELECT count(*) FROM landing.raw_edi_status_events), (SELECT count(*) FROM landing.raw_edi_invoice_lines)"
        ).fetchone() == counts


SAMPLE_210 = (FIXTURES / "indice-co__EDI.Net__210-MGCTLYST-SAMPLE.EDI").read_bytes()
SAMPLE_214 = FIXTURES / "indice-co__EDI.Net__214-MGCTLYST-SAMPLE.EDI"


@pytest.mark.parametrize("name, change, reason", [
    ("a_currency.edi", (b"G62*86*20160707~", b"C3*USDX~G62*86*20160707~"), "value too long for type character(3)"),
    ("a_overflow.edi", (b"L1*1*46.09*PH*363604~", b"L1*1*46.09*PH*999999999999999~"), "numeric field overflow"),
    ("a_nul.edi", (b"B3**09851270*", b"B3**0985\x001270*"), "NUL"),
])
def test_a_file_whose_values_do_not_fit_landing_is_quarantined_and_the_next_file_still_lands(
        landscape_env, tmp_path, name, change, reason):
    """The parser accepts these values; landing cannot hold them. The file must not stop the
    inbox (it used to fail every run before the files after it) nor be half-applied."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / name).write_bytes(SAMPLE_210.replace(*change))
    shutil.copy(SAMPLE_214, inbox / "b_good_214.edi")
    result = read_inbox(engine_for("warehouse", resolve_url("warehouse")), inbox)
    assert result.processed == ["b_good_214.edi"] and reason in result.quarantined[name]
    assert [p.name for p in (inbox / "quarantine").iterdir()] == [name]
    with psycopg.connect(landscape_env["warehouse"]) as conn:
        assert conn.execute("SELECT file_name, status, reason LIKE %s FROM landing.raw_edi_files ORDER BY 1",
                            (f"a value does not fit landing: %{reason}%",)).fetchall() == [
            (name, "quarantined", True), ("b_good_214.edi", "processed", None)]
        assert conn.execute("SELECT count(*) FROM landing.raw_edi_invoice_lines").fetchone() == (0,)


def inbox_with_a_214(tmp_path: Path):
    """(an inbox holding one real 214 as `a.edi`, the warehouse engine)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE_214, inbox / "a.edi")
    return inbox, engine_for("warehouse", resolve_url("warehouse"))


def test_two_intakes_at_once_take_turns(landscape_env, tmp_path, monkeypatch):
    """The sensor's run and a `waybill sync` may read the inbox at the same moment."""
    inbox, engine = inbox_with_a_214(tmp_path)
    parse = intake.parse_file
    monkeypatch.setattr(intake, "parse_file", lambda name, data: time.sleep(1.0) or parse(name, data))
    results, errors = [], []

    def run():
        try:
            results.append(read_inbox(engine, inbox))
        except Exception as error:  # noqa: BLE001 - the test reports any failure
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(len(r.processed) for r in results) == [0, 1]
    with psycopg.connect(landscape_env["warehouse"]) as conn:
        assert conn.execute("SELECT count(*) FROM landing.raw_edi_files").fetchone() == (1,)


def test_a_quarantined_file_dropped_in_again_is_read_afresh(landscape_env, tmp_path, monkeypatch):
    """Once its cause is fixed (here: a parser that refused it), the same bytes must be able to land."""
    inbox, engine = inbox_with_a_214(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(intake, "parse_file", lambda name, data: (_ for _ in ()).throw(intake.MalformedEdi("B10: refused")))
        assert list(read_inbox(engine, inbox).quarantined) == ["a.edi"]
    shutil.copy(inbox / "quarantine" / "a.edi", inbox / "a.edi")
    again = read_inbox(engine, inbox)
    assert again.processed == ["a.edi"] and again.events == 1
    with psycopg.connect(landscape_env["warehouse"]) as conn:
        assert conn.execute("SELECT status, reason FROM landing.raw_edi_files").fetchall() == [("processed", None)]
