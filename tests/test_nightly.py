"""`waybill nightly --date D` end to end on a sandbox landscape: the exact exception set, exactly-once
invoices (also across a rerun and a SIGKILL mid-posting), a blocking check that stops invoicing,
and the report finance reads. These are the outputs LANDSCAPE §5-6 says Waybill is judged on."""

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner
from conftest import SYSTEM_PG_URL, connections, query, scratch_databases, system_pg_available
from test_sandbox_rules import normalize, violations

from checks.results import DDL as RESULTS_DDL
from resources.databases import dispose_engines, engine_for, resolve_url
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes.poll import poll_all
from sync_assets.cli import main
from sync_assets.instance import instance
from sync_assets.invoicing.posting import DDL as INVOICING_DDL
from sync_assets.nightly import report_after_failure
from sync_assets.mappings import load_mappings
from sync_assets.reports.gather import CSV_COLUMNS
from sync_assets.sandbox import build, tick

SOURCES = ("erp", "wms", "fleet", "billing")
WAYBILL = Path(sys.executable).with_name("waybill")


@pytest.fixture
def world(landscape_env, tmp_path, monkeypatch):
    """A sandbox (seed 5, 400 orders) in the test's source databases; reports under tmp_path."""
    monkeypatch.setenv("WAYBILL_REPORTS_DIR", str(tmp_path / "reports"))
    engines = {s: engine_for(s, resolve_url(s)) for s in SOURCES}
    summary = build(engines, seed=5, orders=400, edi_inbox=tmp_path / "inbox", progress=lambda _: None)
    yield {"urls": landscape_env, "summary": summary, "engines": engines, "inbox": tmp_path / "inbox",
           "day": (summary.as_of - timedelta(days=1)).date().isoformat(), "reports": tmp_path / "reports"}
    for system in SOURCES:
        with psycopg.connect(landscape_env[system], autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                         "WHERE database = current_database()")


def nightly(day: str):
    result = CliRunner().invoke(main, ["nightly", "--date", day])
    dispose_engines()  # the CLI's pooled connections must not outlive the test's databases
    return result


def exception_keys(path: Path) -> dict[str, set[str]]:
    """The CSV's rows as LANDSCAPE §5 keys, per type (the sandbox manifest's notation)."""
    found: dict[str, set[str]] = {}
    for row in csv.DictReader(path.open()):
        kind = row["exception_type"]
        key = {
            "RATE_MISMATCH": f"{row['shipment_id']}:{row['expected'].split(':')[0]}",
            "INVENTORY_MISMATCH": f"{row['sku']}@{row['location_id']}",
            "ORPHAN_RECORD": row["actual"],
        }.get(kind, row["shipment_id"])
        found.setdefault(kind, set()).add(key)
    return found


def erp_postings(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT p.invoice_id, p.order_id, p.total_amount, p.line_count, p.posted_at, count(l.*), sum(l.amount) "
            "FROM invoice_postings p LEFT JOIN invoice_posting_lines l USING (invoice_id) "
            "GROUP BY p.invoice_id ORDER BY p.invoice_id"
        ).fetchall()


def ready_shipments(url: str, day: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "SELECT shipment_id FROM reconciliation.invoice_readiness WHERE run_date = %s AND ready", (day,))}


def assert_every_ready_shipment_invoiced_once(world) -> list[tuple]:
    postings = erp_postings(world["urls"]["erp"])
    assert {p[1] for p in postings} == ready_shipments(world["urls"]["warehouse"], world["day"])
    for invoice_id, order_id, total, line_count, _, lines, line_total in postings:
        assert invoice_id == f"INV-{order_id}"
        assert (lines, line_total) == (line_count, total), invoice_id  # every posting has all its lines
    with psycopg.connect(world["urls"]["warehouse"]) as conn:
        recorded = conn.execute("SELECT invoice_id, total_amount, line_count FROM invoicing.invoices ORDER BY 1").fetchall()
    assert recorded == [(p[0], p[2], p[3]) for p in postings]
    return postings


def test_nightly_reports_exactly_the_planted_anomalies_and_a_rerun_changes_nothing(world):
    assert {SourceDatabase(system=s).capture_mode() for s in SOURCES} == {"log"}  # 'auto' on a logical server
    result = nightly(world["day"])
    assert result.exit_code == 0, result.output
    report_dir = world["reports"] / world["day"]
    csv_path = report_dir / "reconciliation_exceptions.csv"
    assert next(csv.reader(csv_path.open())) == list(CSV_COLUMNS)
    found = exception_keys(csv_path)
    assert found == {kind: set(keys) for kind, keys in world["summary"].planted.items() if keys}
    with connections(world["urls"]) as conn:  # and what an independent reading of §5 finds (files read by the intake)
        independent = violations(conn, world["inbox"] / "processed", world["summary"].as_of, refused_is_pod=False)
    assert found == {kind: keys for kind, keys in independent.items() if keys}
    with csv_path.open() as rows:
        for row in csv.DictReader(rows):
            assert row["detected_at"] == world["summary"].as_of.isoformat()
            if row["shipment_id"]:
                assert row["correlation_id"], row
    postings = assert_every_ready_shipment_invoiced_once(world)
    assert len(postings) > 300
    with psycopg.connect(world["urls"]["warehouse"]) as conn:  # every source was caught up in nightly mode
        assert dict(conn.execute("SELECT source_system, how FROM ops.source_freshness").fetchall()) == {
            system: "nightly" for system in SOURCES}
    with psycopg.connect(world["urls"]["erp"]) as conn:  # due date = POD date + payment terms
        terms = dict(conn.execute("SELECT o.order_id, c.payment_terms_days FROM sales_orders o "
                                  "JOIN customers c USING (customer_id)").fetchall())
        due = conn.execute("SELECT order_id, due_date, issued_at FROM invoice_postings").fetchall()
    pod_day = {}
    with psycopg.connect(world["urls"]["fleet"]) as conn:
        for ref, signed_at in conn.execute(
                "SELECT d.shipment_ref, p.signed_at FROM proof_of_delivery p JOIN dispatches d USING (dispatch_id) "
                "WHERE p.exception_code IS DISTINCT FROM 'REFUSED' ORDER BY p.signed_at DESC"):
            pod_day[normalize(ref)] = signed_at.astimezone(UTC).date()  # the earliest wins
    for order_id, due_date, issued_at in due:
        assert due_date == pod_day[order_id] + timedelta(days=terms[order_id]), order_id
        assert issued_at == world["summary"].as_of
    report = (report_dir / "report.html").read_text()
    assert "Run succeeded" in report and f"{len(postings)}" in report

    with psycopg.connect(world["urls"]["warehouse"]) as conn:
        before = conn.execute("SELECT * FROM reconciliation.reconciliation_exceptions ORDER BY 1, 2, 3").fetchall()
    first_csv = csv_path.read_text()
    gx_runs = "SELECT DISTINCT run_id FROM ops.check_results WHERE check_name = 'gx_suite'"
    [first_gx] = query(world["urls"]["warehouse"], gx_runs)
    again = nightly(world["day"])
    assert again.exit_code == 0, again.output
    [again_gx] = query(world["urls"]["warehouse"], gx_runs)  # the nightly run validates every table again
    assert again_gx != first_gx
    assert erp_postings(world["urls"]["erp"]) == postings  # same postings, same posted_at: nothing re-posted
    assert csv_path.read_text() == first_csv
    with psycopg.connect(world["urls"]["warehouse"]) as conn:
        assert conn.execute("SELECT * FROM reconciliation.reconciliation_exceptions ORDER BY 1, 2, 3").fetchall() == before
        # the rerun's canonical refresh saw the first run's invoices: every invoice is a milestone
        invoiced = conn.execute("SELECT shipment_id, occurred_at FROM canonical.shipment_milestones "
                                "WHERE milestone = 'INVOICED' ORDER BY 1").fetchall()
    assert invoiced == [(p[1], world["summary"].as_of) for p in postings]


def test_a_failing_blocking_check_posts_no_invoice_and_the_report_says_why(world):
    with psycopg.connect(world["urls"]["billing"], autocommit=True) as conn:
        conn.execute("INSERT INTO charge_lines SELECT 'CH-BAD-1', shipment_ref, charge_code, quantity, amount, 'US$', "
                     "status, rated_at, updated_at FROM charge_lines ORDER BY charge_id LIMIT 1")
    result = nightly(world["day"])
    assert result.exit_code == 1
    assert "charges_gx_suite" in result.output
    assert erp_postings(world["urls"]["erp"]) == []
    report_dir = world["reports"] / world["day"]
    report = (report_dir / "report.html").read_text()
    assert "FAILED" in report and "charges:gx_suite" in report and "CH-BAD-1" in report
    assert (report_dir / "reconciliation_exceptions.csv").read_text().strip() == ",".join(CSV_COLUMNS)
    # Under the daemon, the failure sensor asks for the same report for the same day.
    store = instance()
    [run] = store.get_runs(filters=dg.RunsFilter(job_name="nightly_reconciliation"))
    failure = next(e.dagster_event for e in store.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_run_failure)
    context = dg.build_run_status_sensor_context(
        sensor_name="report_after_failure", dagster_instance=store, dagster_run=run, dagster_event=failure
    ).for_run_failure()
    request = report_after_failure(context)
    assert (request.partition_key, request.run_key) == (world["day"], f"report-after-{run.run_id}")
    reasons = request.run_config["ops"]["finance_report"]["config"]["failure_reasons"]
    assert any("charges_gx_suite" in reason for reason in reasons), reasons


def test_one_shipments_odd_data_is_reported_for_it_not_a_stopped_night(world):
    """`charge_lines.currency` is any char(3): a RATED line in another currency than the contract's
    is that shipment's CURRENCY_MISMATCH (LANDSCAPE §5), not a data error that stops the night. A
    truck whose device clock puts its departure before the order was placed is a warning naming
    the shipment, which is still invoiced: no money rule depends on the milestones' order."""
    as_of = world["summary"].as_of
    planted = {key.split(":")[0] for keys in world["summary"].planted.values() for key in keys}
    with connections(world["urls"]) as conn:
        delivered = {normalize(ref) for (ref,) in conn["fleet"].execute(
            "SELECT d.shipment_ref FROM proof_of_delivery p JOIN dispatches d USING (dispatch_id) "
            "WHERE p.exception_code IS DISTINCT FROM 'REFUSED' AND p.signed_at <= %s", (as_of,))}
        disputed = {normalize(ref) for (ref,) in conn["billing"].execute(
            "SELECT shipment_ref FROM disputes WHERE status = 'OPEN'")}
        (charge_id, shipment, amount), (_, skewed, _) = [
            (charge_id, normalize(ref), amount) for charge_id, ref, amount in conn["billing"].execute(
                "SELECT charge_id, shipment_ref, amount FROM charge_lines "
                "WHERE status = 'RATED' AND charge_code = 'BASE' AND rated_at <= %s ORDER BY charge_id", (as_of,))
            if normalize(ref) in delivered - disputed - planted][:2]
        skewed_dispatches = [d for d, ref in conn["fleet"].execute("SELECT dispatch_id, shipment_ref FROM dispatches")
                             if normalize(ref) == skewed]
        departures = conn["fleet"].execute(
            "UPDATE telematics_events SET occurred_at = occurred_at - interval '60 days' "
            "WHERE event_type = 'DEPARTED' AND dispatch_id = ANY(%s)", (skewed_dispatches,)).rowcount
        assert departures >= 1
        conn["billing"].execute("UPDATE charge_lines SET currency = 'CHF' WHERE charge_id = %s", (charge_id,))
    with psycopg.connect(world["urls"]["warehouse"], autocommit=True) as conn:  # a check an earlier Waybill had
        conn.execute(RESULTS_DDL)
        conn.execute("INSERT INTO ops.check_results (asset, check_name, passed, blocking, severity, offending_count, "
                     "offending_sample, description) VALUES ('shipment_milestones', 'carrier_milestones_in_order', "
                     "false, false, 'WARN', 1, 'SO-RETIRED', 'a check this Waybill no longer has')")
    result = nightly(world["day"])
    assert result.exit_code == 0, result.output
    warehouse = world["urls"]["warehouse"]
    assert query(warehouse, "SELECT passed, offending_count FROM ops.check_results "
                            "WHERE asset = 'charges' AND check_name = 'gx_suite'") == [(True, 0)]
    found = exception_keys(world["reports"] / world["day"] / "reconciliation_exceptions.csv")
    expected = {kind: set(keys) for kind, keys in world["summary"].planted.items() if keys}
    expected.setdefault("CURRENCY_MISMATCH", set()).add(shipment)
    assert found == expected  # the planted anomalies and this one, nothing else
    [(contract_currency, actual, at_risk, currency)] = query(
        warehouse, "SELECT expected, actual, amount_at_risk, currency FROM reconciliation.reconciliation_exceptions "
                   "WHERE exception_type = 'CURRENCY_MISMATCH' AND shipment_id = %(s)s", {"s": shipment})
    assert (actual, at_risk, currency) == ("CHF", amount, "CHF") and contract_currency != "CHF"
    [(ready, held)] = query(warehouse, "SELECT ready, open_exceptions FROM reconciliation.invoice_readiness "
                                       "WHERE run_date = %(d)s AND shipment_id = %(s)s",
                            {"d": world["day"], "s": shipment})
    assert (ready, held) == (False, ["CURRENCY_MISMATCH"])  # held by the mismatch alone
    postings = assert_every_ready_shipment_invoiced_once(world)
    assert shipment not in {p[1] for p in postings} and len(postings) > 300
    assert skewed in {p[1] for p in postings}
    [(passed, blocking, sample)] = query(warehouse, "SELECT passed, blocking, offending_sample FROM ops.check_results "
                                                    "WHERE check_name = 'milestones_in_order'")
    assert (passed, blocking) == (False, False) and skewed in sample.split(", ")
    report = (world["reports"] / world["day"] / "report.html").read_text()
    assert "milestones_in_order" in report and skewed in report
    assert "carrier_milestones_in_order" not in report and "SO-RETIRED" not in report


def _wait_for_blocked_writer(url: str, table: str, process: subprocess.Popen, timeout: float = 240) -> None:
    """Until the run waits for the lock on `table` (not any lock: creating a slot waits for open transactions)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while not conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                               (table,)).fetchone()[0]:
            assert process.poll() is None, "the nightly run ended before it reached the locked table"
            assert time.monotonic() < deadline, "the nightly run never reached the locked table"
            time.sleep(0.2)


def _killed_at_the_lock(world, where: str, table: str) -> None:
    """Start `waybill nightly` while the test holds a lock on `table`, SIGKILL it once it waits there."""
    lock = psycopg.connect(world["urls"][where])
    lock.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    process = subprocess.Popen([str(WAYBILL), "nightly", "--date", world["day"]], env=os.environ.copy(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_for_blocked_writer(world["urls"][where], table, process)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        lock.rollback()
        lock.close()


def test_sigkill_during_posting_then_rerun_posts_exactly_once(world):
    with psycopg.connect(world["urls"]["warehouse"], autocommit=True) as conn:
        conn.execute(INVOICING_DDL)  # so the table to lock exists before the run
    # The slots first: creating one waits for open transactions, the test's lock included.
    poll_all(Warehouse(), {system: SourceDatabase(system=system) for system in SOURCES})
    dispose_engines()
    # Killed inside the ERP transaction (postings inserted, their lines waiting): nothing is posted.
    _killed_at_the_lock(world, "erp", "invoice_posting_lines")
    assert erp_postings(world["urls"]["erp"]) == []
    # Killed after the ERP committed, before the warehouse recorded it: everything is posted, once.
    _killed_at_the_lock(world, "warehouse", "invoicing.invoice_lines")
    ready = ready_shipments(world["urls"]["warehouse"], world["day"])
    assert {p[1] for p in erp_postings(world["urls"]["erp"])} == ready
    with psycopg.connect(world["urls"]["warehouse"]) as conn:
        assert conn.execute("SELECT count(*) FROM invoicing.invoices").fetchone()[0] == 0
    rerun = nightly(world["day"])
    assert rerun.exit_code == 0, rerun.output
    assert_every_ready_shipment_invoiced_once(world)  # no second posting, no posting without its lines
    with psycopg.connect(world["urls"]["warehouse"]) as conn:  # the rerun found and recorded the ERP's copies
        outcomes = dict(conn.execute("SELECT outcome, count(*) FROM invoicing.invoices GROUP BY 1").fetchall())
    assert outcomes == {"found posted": len(ready)}


@pytest.fixture
def cursor_world(landscape_env, pg_admin_url, tmp_path, monkeypatch):
    """Sources captured by cursor: on this machine's PostgreSQL when it runs without logical decoding
    (a landscape another tool built on a stock server; capture mode 'auto' must choose cursor),
    else on the test server with cursor mode forced."""
    monkeypatch.setenv("WAYBILL_REPORTS_DIR", str(tmp_path / "reports"))
    stock_server = False
    if system_pg_available():
        with psycopg.connect(SYSTEM_PG_URL) as conn:
            stock_server = conn.execute("SHOW wal_level").fetchone()[0] != "logical"
    with scratch_databases(SYSTEM_PG_URL if stock_server else pg_admin_url) as urls:
        for system, url in urls.items():
            monkeypatch.setenv(f"WAYBILL_{system.upper()}_URL", url)
            monkeypatch.setenv(f"WAYBILL_CAPTURE_{system.upper()}", "auto" if stock_server else "cursor")
        assert {SourceDatabase(system=s).capture_mode() for s in SOURCES} == {"cursor"}
        engines = {s: engine_for(s, resolve_url(s)) for s in SOURCES}
        summary = build(engines, seed=5, orders=300, edi_inbox=tmp_path / "inbox", progress=lambda _: None)
        yield {"urls": {**landscape_env, **urls}, "summary": summary, "engines": engines, "inbox": tmp_path / "inbox",
               "day": (summary.as_of - timedelta(days=1)).date().isoformat(), "reports": tmp_path / "reports"}
        dispose_engines()


def test_nightly_by_cursor_is_as_exact_and_finds_hard_deletes_and_silent_updates(cursor_world):
    world = cursor_world
    assert nightly(world["day"]).exit_code == 0
    found = exception_keys(world["reports"] / world["day"] / "reconciliation_exceptions.csv")
    assert found == {kind: set(keys) for kind, keys in world["summary"].planted.items() if keys}
    assert len(erp_postings(world["urls"]["erp"])) > 200
    for _ in range(2):  # hard deletes of order lines and WMS exceptions, the contract price correction
        tick(world["engines"], edi_inbox=world["inbox"], progress=lambda _: None)
    assert nightly(world["day"]).exit_code == 0
    for table in load_mappings():
        cols = ", ".join(f"{c}::text" for c in table.column_names)
        with psycopg.connect(world["urls"][table.system]) as conn:
            source = conn.execute(f"SELECT {cols} FROM {table.table} ORDER BY 1, 2").fetchall()
        with psycopg.connect(world["urls"]["warehouse"]) as conn:
            landing = conn.execute(f"SELECT {cols} FROM landing.{table.landing_table} "
                                   "WHERE _operation <> 'delete' ORDER BY 1, 2").fetchall()
        assert landing == source, table.name
