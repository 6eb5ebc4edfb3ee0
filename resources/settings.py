"""Where Waybill's settings come from: environment variables only (LANDSCAPE §6).

Nothing here holds a secret: URLs are read from the environment when a connection is made, and
whatever is shown to a person goes through :func:`mask_url` first.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

#: The database roles Waybill talks to, in the order they are set up.
SOURCE_SYSTEMS = ("erp", "wms", "fleet", "billing")
DATABASE_ROLES = ("warehouse", *SOURCE_SYSTEMS)

#: The environment variable that points each role at a server (LANDSCAPE §6).
URL_ENV = {
    "warehouse": "WAYBILL_WAREHOUSE_URL",
    "erp": "WAYBILL_ERP_URL",
    "wms": "WAYBILL_WMS_URL",
    "fleet": "WAYBILL_FLEET_URL",
    "billing": "WAYBILL_BILLING_URL",
}

#: Database name of each role on the embedded server, used when its URL is not set.
EMBEDDED_DATABASE = {
    "warehouse": "waybill",
    "erp": "erp",
    "wms": "wms",
    "fleet": "fleet",
    "billing": "billing",
}

HOME_ENV = "WAYBILL_HOME"
EDI_INBOX_ENV = "WAYBILL_EDI_INBOX"
REPORTS_DIR_ENV = "WAYBILL_REPORTS_DIR"


class WaybillError(Exception):
    """An error meant for a person: its message is one line that names the setting or record."""


def waybill_home() -> Path:
    """The project-local folder for the embedded server, Dagster's instance and the sandbox inbox.

    `.waybill` below the working directory (the checkout, when run through make or `dagster dev`),
    unless WAYBILL_HOME says otherwise.
    """
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / ".waybill").resolve()


def edi_inbox() -> Path:
    return Path(os.environ.get(EDI_INBOX_ENV) or waybill_home() / "edi" / "inbox").resolve()


def reports_dir() -> Path:
    return Path(os.environ.get(REPORTS_DIR_ENV) or waybill_home() / "reports").resolve()


def configured_url(role: str) -> str | None:
    """The URL the environment sets for `role`, or None when the embedded server should be used."""
    return os.environ.get(URL_ENV[role]) or None


#: libpq parameters that hold a secret, which a URL may also carry in its query (`?password=…`).
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def mask_url(url: str) -> str:
    """`url` as the user wrote it (no driver suffix), passwords replaced by ***: safe to show anywhere."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable URL>"
    query = {name: "***" if name in SECRET_PARAMETERS else value for name, value in parsed.query.items()}
    shown = parsed.set(drivername=parsed.get_backend_name(), query=query).render_as_string(hide_password=True)
    return shown.replace("=%2A%2A%2A", "=***")


def url_secrets(url: str) -> list[str]:
    """The secret values in `url` (its password, wherever written), to scrub from any text shown."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []
    secrets = [parsed.password]
    for name in SECRET_PARAMETERS:
        value = parsed.query.get(name)  # a tuple where the URL repeats the parameter
        secrets += [value] if isinstance(value, str) else list(value or ())
    return [secret for secret in secrets if secret]


@cache
def sqlalchemy_url(url: str, setting: str) -> str:
    """Turn a plain `postgresql://` URL (as LANDSCAPE allows) into one for psycopg 3.

    Cached: every poll resolves its engines' URLs again (a setting may change between runs in a
    long-lived process), and parsing one cost a quarter of a millisecond of an idle poll.

    SQLAlchemy 2.1 already maps `postgresql://` to psycopg 3, but naming the driver keeps the
    choice explicit; any other scheme is refused with the setting's name.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise WaybillError(
            f"{setting}: not a URL; expected postgresql://user@host:port/database"
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise WaybillError(
            f"{setting}: {mask_url(url)} is not a PostgreSQL URL; "
            "expected postgresql://user@host:port/database"
        )
    if not parsed.database:
        raise WaybillError(f"{setting}: {mask_url(url)} names no database")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
