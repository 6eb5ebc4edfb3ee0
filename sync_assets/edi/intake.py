"""Carrier EDI files from the inbox into landing: each file once, a malformed one quarantined, none dropped.

A file is known by the SHA-256 of its bytes. One warehouse transaction records the file and
every status event and charge line in it; only after that commit is the file moved out of the
inbox (to `processed/` or `quarantine/`). A crash before the commit leaves the file in the inbox
to be read again; a crash after it leaves a file whose hash is already recorded, which the next
run only moves. So a file is applied exactly once whatever fails, and a file dropped in again
later (same bytes) is recognised and not applied twice. A quarantined file dropped in again is
read afresh: it applied nothing, and the cause may have been fixed since.
"""

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from resources.capture.state import polling
from sync_assets.edi.messages import FreightInvoice, StatusMessage, parse_file
from sync_assets.edi.x12 import MalformedEdi

INTAKE_DDL = """
CREATE SCHEMA IF NOT EXISTS landing;
CREATE TABLE IF NOT EXISTS landing.raw_edi_files (
    file_sha256  text PRIMARY KEY,
    file_name    text NOT NULL,
    size_bytes   bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('processed', 'quarantined')),
    reason       text,
    sets         int NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS landing.raw_edi_status_events (
    file_sha256    text NOT NULL,
    set_no         int NOT NULL,
    event_no       int NOT NULL,
    file_name      text NOT NULL,
    control_number text NOT NULL,
    shipment_ref   text,
    carrier_ref    text,
    status_code    text NOT NULL,
    reason_code    text,
    occurred_at    timestamptz,
    local_time     timestamp,
    time_code      text,
    city           text,
    state          text,
    milestone      text,
    _xid           xid8 NOT NULL DEFAULT pg_current_xact_id(),  -- for the incremental canonical refresh
    PRIMARY KEY (file_sha256, set_no, event_no)
);
CREATE TABLE IF NOT EXISTS landing.raw_edi_invoice_lines (
    file_sha256    text NOT NULL,
    set_no         int NOT NULL,
    line_no        int NOT NULL,
    file_name      text NOT NULL,
    control_number text NOT NULL,
    invoice_number text NOT NULL,
    shipment_ref   text,
    currency       char(3) NOT NULL,
    invoice_date   date,
    invoice_total  numeric(12,2) NOT NULL,
    l1_code        text NOT NULL,
    charge_code    text,
    amount         numeric(12,2) NOT NULL,
    rate           numeric,
    rate_qualifier text,
    PRIMARY KEY (file_sha256, set_no, line_no)
);
"""


@dataclass
class IntakeResult:
    processed: list[str]
    quarantined: dict[str, str]  # file name -> reason
    already_seen: list[str]
    events: int = 0
    invoice_lines: int = 0


def _record_messages(cursor, sha: str, name: str, messages: list) -> tuple[int, int]:
    events, lines = [], []
    for set_no, message in enumerate(messages, start=1):
        if isinstance(message, StatusMessage):
            for event_no, e in enumerate(message.events, start=1):
                events.append(
                    (sha, set_no, event_no, name, message.control_number, message.shipment_ref or None,
                     message.carrier_ref or None, e.status_code, e.reason_code or None, e.occurred_at, e.local_time,
                     e.time_code or None, e.city, e.state, e.milestone)
                )
        elif isinstance(message, FreightInvoice):
            for line_no, line in enumerate(message.lines, start=1):
                lines.append(
                    (sha, set_no, line_no, name, message.control_number, message.invoice_number,
                     message.shipment_ref, message.currency, message.invoice_date, message.total, line.l1_code,
                     line.charge_code, line.amount, line.rate, line.rate_qualifier)
                )
    if events:
        cursor.executemany(
            "INSERT INTO landing.raw_edi_status_events VALUES (" + ", ".join(["%s"] * 15) + ")", events
        )
    if lines:
        cursor.executemany(
            "INSERT INTO landing.raw_edi_invoice_lines VALUES (" + ", ".join(["%s"] * 15) + ")", lines
        )
    return len(events), len(lines)


def _move(path: Path, folder: str) -> None:
    target = path.parent / folder / path.name
    target.parent.mkdir(exist_ok=True)
    if target.exists():  # a later file with the same name: keep both
        target = target.with_name(f"{path.stem}.{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}{path.suffix}")
    shutil.move(path, target)


def read_inbox(engine, inbox: Path) -> IntakeResult:
    """Read every file directly in `inbox` (oldest name first) into landing; see the module docstring.

    Names starting with '.' are skipped: a sender writes a file under such a name and renames it
    when complete, so a file is never read half-written. Intakes take turns (the sensor's run and
    a `waybill sync` may meet): each holds the warehouse's lock on the inbox while it reads."""
    result = IntakeResult([], {}, [])
    inbox.mkdir(parents=True, exist_ok=True)
    with polling(engine, "edi"):
        with engine.begin() as conn:
            conn.exec_driver_sql(INTAKE_DDL)
        for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
            status = _read_file(engine, path, result)
            _move(path, "processed" if status == "processed" else "quarantine")
    return result


def _read_file(engine, path: Path, result: IntakeResult) -> str:
    """Record one file and its messages in one transaction; returns its status."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        seen = cursor.execute("SELECT status FROM landing.raw_edi_files WHERE file_sha256 = %s", (sha,)).fetchone()
        if seen == ("processed",):
            result.already_seen.append(path.name)
            return "processed"
        if seen:  # quarantined before, and dropped in again (after a fix, say): it is read afresh
            cursor.execute("DELETE FROM landing.raw_edi_files WHERE file_sha256 = %s", (sha,))
        try:
            messages = parse_file(path.name, data)
            status, reason = "processed", None
        except MalformedEdi as exc:
            messages, status, reason = [], "quarantined", exc.reason
        try:
            with conn.connection.driver_connection.transaction():  # a savepoint
                events, lines = _record_messages(cursor, sha, path.name, messages)
        except psycopg.DataError as exc:
            # Parsed, but a value does not fit its landing column: the file is kept, not half-applied.
            messages, status, events, lines = [], "quarantined", 0, 0
            reason = f"a value does not fit landing: {str(exc).strip().splitlines()[0]}"
        cursor.execute(
            "INSERT INTO landing.raw_edi_files (file_sha256, file_name, size_bytes, status, reason, sets) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (sha, path.name, len(data), status, reason, len(messages)),
        )
    if status == "processed":
        result.processed.append(path.name)
        result.events += events
        result.invoice_lines += lines
    else:
        result.quarantined[path.name] = reason
    return status
