"""The finance report is how finance learns what was invoiced and why invoicing stopped: it must open offline, show the right figures and never run injected markup."""

import re
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sync_assets.reports.html import render_report, write_report
from sync_assets.reports.model import (
    CheckOutcome,
    DeadLetterCount,
    ExceptionRow,
    ExceptionTotal,
    Freshness,
    ReportData,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SECTION_IDS = ["header", "summary", "cycle-time", "exceptions", "checks", "dead-letters", "freshness"]
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"


def check(name: str, *, passed: bool = True, blocking: bool = True, description: str = "looks fine") -> CheckOutcome:
    return CheckOutcome(
        asset="invoices",
        check=name,
        passed=passed,
        blocking=blocking,
        severity="ERROR" if blocking else "WARN",
        offending_count=0 if passed else 3,
        offending_sample="" if passed else "INV-1,INV-2,INV-3",
        description=description,
        evaluated_at=AS_OF,
    )


def full_report() -> ReportData:
    """A day with something in every section."""
    return ReportData(
        run_date=date(2026, 10, 31),
        as_of=AS_OF,
        generated_at=datetime(2026, 11, 1, 0, 7, 12, tzinfo=UTC),
        run_id="run-7f3a",
        succeeded=True,
        failure_reasons=[],
        invoices_posted=1234,
        amount_invoiced={"USD": Decimal("12345.67"), "EUR": Decimal("980.5")},
        invoices_posted_total=56789,
        cycle_time_hours=[2.0, 5.5, 7.0, 9.0, 13.0, 20.0, 26.5, 30.0, 47.0, 71.0],
        exception_totals=[
            ExceptionTotal("amount_mismatch", 2, {"USD": Decimal("1500.00"), "EUR": Decimal("20.00")}),
            ExceptionTotal("missing_pod", 1, {"USD": Decimal("250.25")}),
            ExceptionTotal("orphan_invoice", 0, {}),
        ],
        top_exceptions=[
            ExceptionRow(
                exception_type="amount_mismatch",
                shipment_id="SHP-001",
                sku="SKU-9",
                location_id="LOC-3",
                expected="1000.00",
                actual="2500.00",
                amount_at_risk=Decimal("1500.00"),
                currency="USD",
                correlation_id="corr-1",
                detected_at=datetime(2026, 10, 31, 23, 10, tzinfo=UTC),
            ),
            ExceptionRow("missing_pod", "SHP-002", None, None, None, None, None, None, None, AS_OF),
        ],
        open_disputes=4,
        open_dispute_amount={"USD": Decimal("3210.00")},
        checks=[
            check("gx_suite"),
            check("one_invoice_per_shipment"),
            check("currency_known", blocking=False, passed=False, description="a few rows lack a currency"),
        ],
        dead_letters=[
            DeadLetterCount("erp.orders", 3, datetime(2026, 10, 29, 4, 0, tzinfo=UTC)),
            DeadLetterCount("wms.picks", 0, None),
        ],
        freshness=[
            Freshness("erp", "critical", 15, datetime(2026, 10, 31, 23, 55, tzinfo=UTC), 5.0, True),
            Freshness("fleet", "standard", 240, datetime(2026, 10, 31, 12, 0, tzinfo=UTC), 720.0, False),
            Freshness("billing", "critical", 15, None, None, False),
        ],
        notes=["Fuel surcharge table updated on 2026-10-30."],
    )


def empty_report() -> ReportData:
    """A day on which nothing happened at all."""
    return replace(
        full_report(),
        invoices_posted=0,
        amount_invoiced={},
        cycle_time_hours=[],
        exception_totals=[ExceptionTotal(t, 0, {}) for t in ("amount_mismatch", "missing_pod")],
        top_exceptions=[],
        open_disputes=0,
        open_dispute_amount={},
        dead_letters=[],
        notes=[],
    )


def section(page: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.S)
    assert match, f"no section {section_id}"
    return match.group(1)


def tile(page: str, tile_id: str) -> str:
    match = re.search(rf'<div class="tile" id="{tile_id}">.*?<div class="value">(.*?)</div></div>', page, re.S)
    assert match, f"no tile {tile_id}"
    return match.group(1)


@pytest.mark.parametrize("data", [full_report(), empty_report()], ids=["full", "empty"])
def test_report_is_self_contained(data):
    page = render_report(data)
    assert page.startswith("<!DOCTYPE html>")
    for reference in ("http://", "https://", 'src="//', "<script", "@import", "url("):
        assert reference not in page
    assert [m for m in re.findall(r'<section id="([^"]+)"', page) if m != "notes"] == SECTION_IDS


def test_hostile_values_are_escaped():
    data = replace(
        full_report(),
        run_id=HOSTILE,
        checks=[check("gx_suite", passed=False, description=HOSTILE)],
        failure_reasons=[HOSTILE],
        csv_name='x"><script>alert(1)</script>.csv',
    )
    page = render_report(data)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(page, "checks")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section(page, "header")


def test_summary_figures_are_formatted():
    page = render_report(full_report())
    assert tile(page, "invoices-posted") == "1,234"
    assert tile(page, "amount-invoiced") == "EUR 980.50<br>USD 12,345.67"
    assert tile(page, "invoices-total") == "56,789"
    assert tile(page, "cycle-median") == "16.5 h"
    assert tile(page, "cycle-p90") == "49.4 h"
    assert tile(page, "open-exceptions") == "3"
    assert tile(page, "amount-at-risk") == "EUR 20.00<br>USD 1,750.25"
    assert tile(page, "disputes") == "4<br>USD 3,210.00"
    assert "as of 2026-11-01 00:00 UTC" in section(page, "header")
    assert "Waybill finance report — 2026-10-31" in section(page, "header")


def test_money_is_formatted_from_the_decimal_not_a_float():
    """A float has 15-17 significant digits; an amount past that must still print to the cent."""
    data = replace(full_report(), amount_invoiced={"USD": Decimal("12345678901234567.89")})
    assert tile(render_report(data), "amount-invoiced") == "USD 12,345,678,901,234,567.89"


@pytest.mark.parametrize(
    ("hours", "median", "p90"),
    [
        ([10.0], "10.0 h", "10.0 h"),
        ([5.0, 1.0, 3.0], "3.0 h", "4.6 h"),
        ([1.0, 2.0, 3.0, 4.0], "2.5 h", "3.7 h"),
        ([float(h) for h in range(1, 11)], "5.5 h", "9.1 h"),
        ([], "—", "—"),
    ],
)
def test_cycle_time_median_and_p90(hours, median, p90):
    page = render_report(replace(full_report(), cycle_time_hours=hours))
    assert tile(page, "cycle-median") == median
    assert tile(page, "cycle-p90") == p90


def test_failed_run_lists_reasons_and_highlights_the_failed_blocking_check():
    reasons = ["Blocking check invoices/gx_suite failed: 3 rows", "No invoices were posted"]
    data = replace(
        full_report(),
        succeeded=False,
        failure_reasons=reasons,
        checks=[check("gx_suite", passed=False, blocking=True), check("one_invoice_per_shipment")],
    )
    page = render_report(data)
    header = section(page, "header")
    assert '<div class="banner failed"' in header and "Run FAILED" in header
    listed = re.search(r'<ul id="failure-reasons">(.*?)</ul>', header, re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", listed) == reasons
    checks = section(page, "checks")
    failed_rows = re.findall(r'<tr class="failed">(.*?)</tr>', checks, re.S)
    assert len(failed_rows) == 1
    assert "gx_suite" in failed_rows[0] and "<td>yes</td>" in failed_rows[0] and "FAILED" in failed_rows[0]
    assert "1 of 2 checks passed" in checks


def test_succeeded_run_has_no_failure_reasons():
    page = render_report(full_report())
    assert '<div class="banner succeeded"' in page and "Run succeeded" in page
    assert 'id="failure-reasons"' not in page
    assert "2 of 3 checks passed" in section(page, "checks")


def test_empty_inputs_render_and_say_so():
    page = render_report(replace(empty_report(), checks=[], freshness=[]))
    assert "No invoices posted in this run." in section(page, "cycle-time")
    assert "<svg" not in section(page, "cycle-time")
    exceptions = section(page, "exceptions")
    assert "No open reconciliation exceptions." in exceptions and "No amount at risk." in exceptions
    assert "No open dead letters." in section(page, "dead-letters")
    assert "0 of 0 checks passed" in section(page, "checks")
    assert "No source freshness recorded." in section(page, "freshness")
    assert tile(page, "amount-invoiced") == "—"
    assert tile(page, "disputes") == "0"


def test_stale_sources_and_dead_letters_are_shown():
    page = render_report(full_report())
    freshness = section(page, "freshness")
    assert len(re.findall(r'<tr class="stale">', freshness)) == 2
    assert "never" in freshness and "<svg" in freshness
    dead = section(page, "dead-letters")
    assert "erp.orders" in dead and "wms.picks" not in dead  # tables with nothing open are left out
    assert "3 open dead letters in total." in dead


def test_exceptions_section_names_the_csv_and_shows_all_its_columns():
    exceptions = section(render_report(full_report()), "exceptions")
    assert 'href="./reconciliation_exceptions.csv"' in exceptions
    header = re.search(r'<table class="exception-rows">\s*<thead><tr>(.*?)</tr>', exceptions).group(1)
    assert len(re.findall("<th>", header)) == 10
    assert "EUR 20.00 · USD 1,500.00" in exceptions  # bar label, per currency


def test_write_report_replaces_the_file_atomically(tmp_path):
    directory = tmp_path / "reports" / "2026-10-31"
    first = write_report(empty_report(), directory)
    assert first == directory / "report.html"
    second = write_report(full_report(), directory)
    assert second == first
    assert "1,234" in second.read_text(encoding="utf-8")
    assert [p.name for p in directory.iterdir()] == ["report.html"]  # no temporary file left behind
    assert second.stat().st_mode & 0o444 == 0o444


@pytest.mark.e2e
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed, so the report cannot be opened in a browser")
def test_report_renders_offline_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    path = write_report(full_report(), tmp_path / "out")
    blocked = []

    def only_local(route):
        if route.request.url.startswith(("file://", "about:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        try:
            context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
            context.route("**/*", only_local)
            page = context.new_page()
            page.goto(path.as_uri(), wait_until="load")

            assert page.title() == "Waybill finance report — 2026-10-31"
            for section_id in SECTION_IDS + ["notes"]:
                assert page.locator(f"section#{section_id}").is_visible(), section_id
            tiles = page.locator("#summary .tile")
            assert tiles.count() == 8
            assert page.locator("#invoices-posted").inner_text().split("\n") == ["Invoices posted (this run)", "1,234"]
            assert page.locator("#amount-invoiced .value").inner_text().split("\n") == ["EUR 980.50", "USD 12,345.67"]
            assert page.locator("#cycle-median .value").inner_text() == "16.5 h"
            assert page.locator("#disputes .value").inner_text().split("\n") == ["4", "USD 3,210.00"]
            assert page.locator("#checks table tbody tr").count() == 3
            assert page.locator("#checks tr.failed").count() == 1
            charts = page.locator("svg.chart")
            assert charts.count() == 3  # cycle-time histogram, exceptions bars, freshness bars
            for i in range(charts.count()):
                box = charts.nth(i).bounding_box()
                assert box is not None and box["width"] > 0 and box["height"] > 0
            screenshot = tmp_path / "report.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert blocked == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 20_000
