"""The Waybill code location: every asset, check, job and resource in one `Definitions`."""


import dagster as dg

from checks.master_data import MASTER_DATA_CHECKS
from resources.settings import SOURCE_SYSTEMS, URL_ENV, configured_url
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.master_data.assets import CANONICAL_ASSETS, LANDING_ASSETS


def _url(role: str) -> dg.EnvVar | None:
    """The role's URL as an EnvVar (resolved at run time, never stored), or None for the embedded server."""
    return dg.EnvVar(URL_ENV[role]) if configured_url(role) else None


def build_resources() -> dict:
    return {
        "warehouse": Warehouse(url=_url("warehouse")),
        **{system: SourceDatabase(system=system, url=_url(system)) for system in SOURCE_SYSTEMS},
    }


master_data_sync = dg.define_asset_job(
    "master_data_sync",
    selection=dg.AssetSelection.groups("canonical_master_data").upstream(),
    description="Snapshot every master-data source table and rebuild the canonical master data.",
)

defs = dg.Definitions(
    assets=[*LANDING_ASSETS, *CANONICAL_ASSETS],
    asset_checks=MASTER_DATA_CHECKS,
    jobs=[master_data_sync],
    resources=build_resources(),
)
