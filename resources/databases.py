"""Connections to the warehouse and the four source databases, with errors a person can act on.

Each role's URL comes from its environment variable (LANDSCAPE §6); when it is not set, the role
gets its own database on the embedded server. Every session runs in UTC with ISO dates, because
a source server's own TimeZone can be anything and must never leak into a date or time.
"""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

from resources import embedded
from resources.settings import (
    EMBEDDED_DATABASE,
    URL_ENV,
    WaybillError,
    configured_url,
    mask_url,
    sqlalchemy_url,
    url_secrets,
    waybill_home,
)

#: Session settings for every connection Waybill opens.
SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 -c extra_float_digits=3"


def embedded_data_dir() -> str:
    return str(waybill_home() / "pg")


def resolve_url(role: str, url: str | None = None) -> str:
    """The `postgresql+psycopg://` URL for `role`: the given or configured one, else the embedded one."""
    url = url or configured_url(role)
    if url is None:
        url = embedded.database_url(embedded_data_dir(), EMBEDDED_DATABASE[role])
    return sqlalchemy_url(url, URL_ENV[role])


def same_server(a: sa.engine.URL, b: sa.engine.URL) -> bool:
    """Whether two URLs name the same server (host or socket folder, and port). URLs that differ
    may still reach one server; callers use a True answer only."""

    def server(url: sa.engine.URL) -> tuple[str, int]:
        return ((url.host or url.query.get("host") or "").lower(), url.port or 5432)

    return server(a) == server(b)


def connection_error(role: str, url: str, exc: Exception) -> WaybillError:
    """One line naming the setting and the server, without the password or libpq's multi-line detail."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for secret in url_secrets(url):
        reason = reason.replace(secret, "***")
    return WaybillError(f"{URL_ENV[role]}: cannot connect to {mask_url(url)}: {reason}")


_ENGINES: dict[tuple[str, str, bool], sa.Engine] = {}


def engine_for(role: str, url: str, *, read_only: bool = False) -> sa.Engine:
    """A pooled engine for `role` at `url`, made once per process; its first connection is tried at
    once so a bad URL fails here, with one line naming the setting."""
    key = (role, url, read_only)
    if key not in _ENGINES:
        _ENGINES[key] = _connect(role, url, read_only)
    return _ENGINES[key]


def dispose_engines() -> None:
    """Close every pooled connection (before dropping a database, or after a fork)."""
    while _ENGINES:
        _ENGINES.popitem()[1].dispose()


def _connect(role: str, url: str, read_only: bool) -> sa.Engine:
    options = SESSION_OPTIONS + (" -c default_transaction_read_only=on" if read_only else "")
    engine = sa.create_engine(
        url,
        connect_args={"options": options, "connect_timeout": 10, "application_name": f"waybill-{role}"},
        pool_pre_ping=True,
        # The connection returned last comes back first: a poll's statements meet the backend
        # whose catalog caches they warmed (see LogReader._decoding_connection).
        pool_use_lifo=True,
    )
    try:
        with engine.connect():
            pass
    except (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError) as exc:
        engine.dispose()
        raise connection_error(role, url, exc.orig if hasattr(exc, "orig") else exc) from None
    return engine
