"""Canonical master data as Dagster assets, rebuilt from the landing tables.

Master data changes slowly and its sources keep no reliable change log (the ERP's price
correction skips `updated_at`), so its landing tables are refreshed by full snapshot and key
comparison (sync_assets/landing.py); the canonical tables are then merged from them, rewriting
only rows that changed.
"""

import time

import dagster as dg

from resources.warehouse import Warehouse
from sync_assets.landing import counts_metadata
from sync_assets.master_data.canonical import MASTER_DATA, CanonicalTable


def canonical_master_asset(table: CanonicalTable) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.name,
        group_name="canonical_master_data",
        kinds={"postgres"},
        owners=["team:data-engineering"],
        deps=list(table.landing),
        description=table.description,
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        started = time.perf_counter()
        with warehouse.engine().begin() as conn:
            cursor = conn.connection.driver_connection.cursor()
            counts = table.refresh(cursor)
            rows = cursor.execute(f"SELECT count(*) FROM canonical.{table.name}").fetchone()[0]
        seconds = time.perf_counter() - started
        context.log.info(f"canonical.{table.name}: {rows} rows; {counts}")
        return dg.MaterializeResult(
            metadata=counts_metadata(counts.inserted, counts.updated, counts.deleted, rows, seconds)
        )

    return _asset


CANONICAL_ASSETS = [canonical_master_asset(t) for t in MASTER_DATA]
