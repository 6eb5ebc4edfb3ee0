"""Shared fixtures: a real PostgreSQL server and fresh, empty databases for each test that needs them.

The server is the embedded one Waybill uses by default (started in a temporary folder for the
session), unless WAYBILL_TEST_PG_URL names another server (e.g. the machine's PostgreSQL). Each
landscape gets its own databases, so tests never see each other's data.
"""

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from resources import databases, embedded
from resources.settings import DATABASE_ROLES, URL_ENV

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


def system_pg_available() -> bool:
    try:
        with psycopg.connect(SYSTEM_PG_URL, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False
