"""End to end: `dagster dev` serves the Waybill asset graph and its checks, as a data engineer sees them.

Drives Debian's Chromium through Playwright when it is installed; otherwise asks the same
webserver's GraphQL API, so the test runs on machines without a browser too.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import create_databases, drop_databases

from resources.settings import URL_ENV
from sync_assets.definitions import defs

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dagster_ui(pg_admin_url, tmp_path_factory):
    """`dagster dev` on a free port, in its own process group so every child stops with it; one
    for the module (it takes ~15 s to come up), with its own empty databases."""
    port = free_port()
    dagster = Path(sys.executable).with_name("dagster")
    tmp_path = tmp_path_factory.mktemp("ui")
    home = tmp_path / "dagster"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    urls = create_databases(pg_admin_url)
    env = {**os.environ, "DAGSTER_HOME": str(home), "WAYBILL_HOME": str(tmp_path / "home"),
           "WAYBILL_EDI_INBOX": str(tmp_path / "inbox"), **{URL_ENV[role]: url for role, url in urls.items()}}
    log = open(tmp_path / "dagster-dev.log", "w")
    process = subprocess.Popen(
        [str(dagster), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"dagster dev did not come up:\n{(tmp_path / 'dagster-dev.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
        drop_databases(pg_admin_url, urls)


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    deadline = time.monotonic() + 60
    while True:  # the code location may still be loading just after the server answers
        payload = json.loads(urllib.request.urlopen(request, timeout=30).read())
        if "errors" not in payload or time.monotonic() > deadline:
            return payload
        time.sleep(1)


def expected_assets() -> set[str]:
    return {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}


def test_asset_graph_and_checks_are_served(dagster_ui):
    payload = graphql(
        dagster_ui,
        "{ assetNodes { assetKey { path } groupName kinds assetChecksOrError "
        "{ ... on AssetChecks { checks { name blocking } } } } }",
    )
    nodes = {"/".join(n["assetKey"]["path"]): n for n in payload["data"]["assetNodes"]}
    assert set(nodes) == expected_assets()
    assert nodes["raw_erp_customers"]["groupName"] == "erp_landing"
    assert nodes["customers"]["groupName"] == "canonical_master_data"
    contract_checks = {c["name"]: c["blocking"] for c in nodes["contracts"]["assetChecksOrError"]["checks"]}
    assert contract_checks == {"gx_suite": True, "one_contract_per_customer_per_day": True}
    assert {c["name"]: c["blocking"] for c in nodes["expected_charges"]["assetChecksOrError"]["checks"]} == {
        "one_contract_per_delivery": True}
    assert nodes["invoices"]["groupName"] == "invoicing" and nodes["finance_report"]["groupName"] == "reports"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed; the GraphQL test covers the UI")
def test_asset_graph_renders_in_chromium(dagster_ui, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        # One asset of each layer; the catalog list is virtualised, so each has its own page.
        for name in ("raw_erp_customers", "customers", "expected_charges", "invoices", "finance_report"):
            page.goto(f"{dagster_ui}/assets/{name}", wait_until="networkidle")
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
        page.goto(f"{dagster_ui}/assets/contracts?view=checks", wait_until="networkidle")
        # Long check names are middle-truncated on screen; the full name is in the DOM.
        page.get_by_text("one_contract_per_customer_per_day").first.wait_for(state="attached", timeout=60_000)
        page.get_by_text("gx_suite").first.wait_for(state="attached", timeout=60_000)
        page.screenshot(path=os.environ.get("WAYBILL_UI_SCREENSHOT", str(tmp_path / "contracts-checks.png")))
        browser.close()
