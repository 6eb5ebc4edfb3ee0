"""EDI files land exactly once: every real sample is read, a malformed file is quarantined with its reason."""

import shutil
from pathlib import Path

import psycopg

from resources.databases import engine_for, resolve_url
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
