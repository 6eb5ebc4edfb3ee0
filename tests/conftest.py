"""Shared fixtures: a real PostgreSQL server and fresh, empty databases for each test that needs them.

The server is the embedded one Waybill uses by default (started in a temporary folder for the
session), unless WAYBILL_TEST_PG_URL names another server (e.g. the machine's PostgreSQL). Each
landscape gets its own databases, so tests never see each other's data.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from resources.merge import MergeCounts

from resources import databases, embedded
from resources.settings import DATABASE_ROLES, URL_ENV
from sync_assets.sandbox import SandboxSummary, build
from sync_assets.sandbox.schema import SYSTEMS

#: The machine's PostgreSQL service, used by the tests that prove "any server by URL".
SYSTEM_PG_URL = os.environ.get("WAYBILL_SYSTEM_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory) -> Iterator[str]:
    """An admin URL on a real server: WAYBILL_TEST_PG_URL, else an embedded server of this session."""
    if os.environ.get("WAYBILL_TEST_PG_URL"):
        yield os.environ["WAYBILL_TEST_PG_URL"]
        return
    data_dir = tmp_path_factory.mktemp("embedded") / "pg"
    url = embedded.ensure_running(str(data_dir))
    yield url
    embedded.stop(data_dir)


def _database_url(admin_url: str, name: str) -> str:
    base, _, query = admin_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def create_databases(admin_url: str, roles=DATABASE_ROLES) -> dict[str, str]:
    """Fresh, empty databases, one per role; returns their URLs."""
    prefix = f"t_{uuid.uuid4().hex[:10]}"
    urls = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for role in roles:
            name = f"{prefix}_{role}"
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            urls[role] = _database_url(admin_url, name)
    return urls


def drop_databases(admin_url: str, urls: dict[str, str]) -> None:
    databases.dispose_engines()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for url in urls.values():
            name = url.split("?")[0].rsplit("/", 1)[1]
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def landscape_env(pg_admin_url, tmp_path, monkeypatch) -> Iterator[dict[str, str]]:
    """Five empty databases (warehouse + four sources) wired through the WAYBILL_*_URL variables."""
    urls = create_databases(pg_admin_url)
    for role, url in urls.items():
        monkeypatch.setenv(URL_ENV[role], url)
    monkeypatch.setenv("WAYBILL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("WAYBILL_EDI_INBOX", str(tmp_path / "inbox"))
    yield urls
    drop_databases(pg_admin_url, urls)


def run_sql(url: str, statement: str, params=None) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def query(url: str, statement: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


def check_truncates_are_captured(erp: str, warehouse: str, poll) -> None:
    """A TRUNCATE of a captured table lands as a tombstone of every row it emptied, rows written
    after it (in its transaction or later ones in the same poll) land, rows written before it in
    the same poll do not, and a TRUNCATE of a table the capture does not read (alone, or listed
    with a captured one) changes nothing.
    `poll()` polls the ERP by log."""
    poll()
    run_sql(erp, "CREATE TABLE scratch (id int PRIMARY KEY); INSERT INTO scratch VALUES (1)")
    run_sql(erp, "INSERT INTO order_lines SELECT 'SO-000000' || g, 1, 'SKU-00001', g, '2026-10-01' FROM generate_series(1, 5) g")
    poll()
    run_sql(erp, "TRUNCATE scratch")
    with psycopg.connect(erp) as conn:  # one transaction: emptied, then partly filled again
        conn.execute("INSERT INTO order_lines VALUES ('SO-0000006', 1, 'SKU-00001', 6, '2026-10-01')")
        conn.execute("TRUNCATE order_lines, scratch")
        conn.execute("INSERT INTO order_lines VALUES ('SO-0000008', 1, 'SKU-00009', 20, '2026-10-02')")
    run_sql(erp, "UPDATE order_lines SET quantity = 21; INSERT INTO order_lines VALUES ('SO-0000007', 1, 'SKU-00001', 7, '2026-10-02')")
    result = poll()
    live = "SELECT order_id, line_no, sku, quantity FROM landing.raw_erp_order_lines WHERE _operation <> 'delete' ORDER BY 1"
    assert query(warehouse, live) == query(erp, "SELECT order_id, line_no, sku, quantity FROM order_lines ORDER BY 1") == [
        ("SO-0000007", 1, "SKU-00001", 7), ("SO-0000008", 1, "SKU-00009", 21)
    ]
    # SO-0000006 lived only inside the truncating transaction: it never lands, not even as a tombstone.
    assert query(warehouse, "SELECT order_id FROM landing.raw_erp_order_lines WHERE _operation = 'delete' ORDER BY 1") == [
        ("SO-0000001",), ("SO-0000002",), ("SO-0000003",), ("SO-0000004",), ("SO-0000005",)
    ]
    assert result.counts["erp.order_lines"] == MergeCounts(inserted=2, updated=0, deleted=5)
    assert sum(c.written for c in poll().counts.values()) == 0


def system_pg_available() -> bool:
    try:
        with psycopg.connect(SYSTEM_PG_URL, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


# --- sandbox landscapes (sources only) --------------------------------------------------------



# --- scratch databases -------------------------------------------------------------------------

@contextmanager
def scratch_databases(admin_url: str):
    """Four empty source databases on the server of `admin_url`, as {system: URL}; dropped afterwards."""
    admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    prefix = f"sbx_{uuid.uuid4().hex[:8]}"
    urls = {}
    try:
        for system in SYSTEMS:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(f"{prefix}_{system}")))
            urls[system] = _database_url(admin_url, f"{prefix}_{system}")
        yield urls
    finally:
        for system in urls:
            name = sql.Identifier(f"{prefix}_{system}")
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        admin.close()


@contextmanager
def sandbox_engines_for(urls: dict[str, str]):
    """Engines as Waybill makes them, except the session TimeZone: the sandbox must not depend on it."""
    engines = {s: sa.create_engine(sa.engine.make_url(u).set(drivername="postgresql+psycopg"),
                                   connect_args={"options": "-c TimeZone=America/New_York"}) for s, u in urls.items()}
    try:
        yield engines
    finally:
        for engine in engines.values():
            engine.dispose()


@contextmanager
def connections(urls: dict[str, str]):
    conns = {s: psycopg.connect(u, autocommit=True) for s, u in urls.items()}
    try:
        yield conns
    finally:
        for conn in conns.values():
            conn.close()


@dataclass
class Landscape:
    urls: dict[str, str]
    engines: dict
    inbox: Path
    summary: SandboxSummary


@pytest.fixture(scope="module")
def built_landscape(pg_admin_url, tmp_path_factory):
    """One small landscape (seed 42, 300 orders) shared by the read-only tests of a module."""
    with scratch_databases(pg_admin_url) as urls, sandbox_engines_for(urls) as engines:
        inbox = tmp_path_factory.mktemp("edi") / "inbox"
        yield Landscape(urls, engines, inbox, build(engines, seed=42, orders=300, edi_inbox=inbox, progress=lambda _: None))


@pytest.fixture
def fresh_landscape(pg_admin_url, tmp_path):
    """A fresh, empty landscape to build and tick at will."""
    with scratch_databases(pg_admin_url) as urls, sandbox_engines_for(urls) as engines:
        yield Landscape(urls, engines, tmp_path / "edi" / "inbox", None)
