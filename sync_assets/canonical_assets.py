"""The canonical tables as Dagster assets: master data and the operational model.

Each asset merges its named query (sync_assets/canonical.py) into `canonical.<name>`, rewriting
only rows that changed (per changed shipment for the operational tables), and reports its counts,
what it recomputed and its open dead letters.
"""

import time

import dagster as dg

from resources.warehouse import Warehouse
from sync_assets.landing import counts_metadata
from sync_assets.canonical import CanonicalTable
from sync_assets.master_data.canonical import MASTER_DATA
from sync_assets.partitions import NIGHTLY_JOB
from sync_assets.shipments.canonical import OPERATIONAL


def canonical_asset(table: CanonicalTable, group: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.name,
        group_name=group,
        kinds={"postgres"},
        owners=["team:data-engineering"],
        deps=list(table.landing),
        description=table.description,
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        started = time.perf_counter()
        done = table.refresh(warehouse.engine(), examine_all=context.job_name == NIGHTLY_JOB)
        seconds = time.perf_counter() - started
        context.log.info(
            f"canonical.{table.name}: {done.rows} rows; {done.describe()}; {done.counts}; {done.dead_letters} open dead letters"
        )
        metadata = counts_metadata(done.counts.inserted, done.counts.updated, done.counts.deleted, done.rows, seconds)
        if done.scope is not None:
            metadata["refresh"] = dg.MetadataValue.text(done.describe())
        if table.dead_letters:
            metadata["dead_letters"] = dg.MetadataValue.int(done.dead_letters)
        return dg.MaterializeResult(metadata=metadata)

    return _asset


CANONICAL_ASSETS = [canonical_asset(t, "canonical_master_data") for t in MASTER_DATA] + [
    canonical_asset(t, "canonical_shipments") for t in OPERATIONAL
]
