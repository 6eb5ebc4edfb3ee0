"""The Waybill code location: every asset, check, job and resource in one `Definitions`."""

import os

import dagster as dg

from checks.freshness import FRESHNESS_CHECKS
from checks.master_data import MASTER_DATA_CHECKS
from checks.operational import OPERATIONAL_CHECKS
from resources.edi_inbox import EdiInbox
from resources.erp_posting import ErpPosting
from resources.settings import EDI_INBOX_ENV, SOURCE_SYSTEMS, URL_ENV, configured_url
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes.sensor import change_sensor
from sync_assets.edi.assets import edi_landing
from sync_assets.landing import LANDING_ASSETS
from sync_assets.canonical_assets import CANONICAL_ASSETS
from sync_assets.mappings import snapshot_tables
from sync_assets.nightly import (
    NIGHTLY_ASSETS,
    finance_report_job,
    nightly_reconciliation,
    nightly_schedule,
    report_after_failure,
)


def _url(role: str) -> dg.EnvVar | None:
    """The role's URL as an EnvVar (resolved at run time, never stored), or None for the embedded server."""
    return dg.EnvVar(URL_ENV[role]) if configured_url(role) else None


def build_resources() -> dict:
    return {
        "warehouse": Warehouse(url=_url("warehouse")),
        "erp_posting": ErpPosting(url=_url("erp")),
        "edi_inbox": EdiInbox(path=dg.EnvVar(EDI_INBOX_ENV) if os.environ.get(EDI_INBOX_ENV) else None),
        **{system: SourceDatabase(system=system, url=_url(system)) for system in SOURCE_SYSTEMS},
    }


master_data_sync = dg.define_asset_job(
    "master_data_sync",
    selection=dg.AssetSelection.groups("canonical_master_data")
    | dg.AssetSelection.assets(*(t.landing_table for t in snapshot_tables())),
    description="Snapshot every master-data source table and rebuild the canonical master data.",
)

change_capture = dg.define_asset_job(
    "change_capture",
    selection=dg.AssetSelection.assets(*LANDING_ASSETS, edi_landing)
    | dg.AssetSelection.groups("canonical_master_data", "canonical_shipments"),
    config={"ops": {f"{system}_landing": {"config": {"refresh": "changes"}} for system in SOURCE_SYSTEMS}},
    description=(
        "One change-data poll of every source and the EDI inbox into landing, then the canonical "
        "model (what the change sensor starts)."
    ),
)

defs = dg.Definitions(
    assets=[*LANDING_ASSETS, edi_landing, *CANONICAL_ASSETS, *NIGHTLY_ASSETS],
    asset_checks=[*MASTER_DATA_CHECKS, *OPERATIONAL_CHECKS, *FRESHNESS_CHECKS],
    jobs=[master_data_sync, change_capture, nightly_reconciliation, finance_report_job],
    schedules=[nightly_schedule],
    sensors=[change_sensor(change_capture), report_after_failure],
    resources=build_resources(),
)
