"""Master data as Dagster assets: landing snapshots per source table, then the canonical tables.

Master data changes slowly and its sources keep no reliable change log (the ERP's price
correction skips `updated_at`), so each run copies the whole table and compares it by key: hard
deletes become tombstones, unchanged rows are not rewritten, a rerun without source change
writes 0 rows.
"""


import time

import dagster as dg

from resources.warehouse import SnapshotResult, Warehouse
from sync_assets.mappings import SourceTable, snapshot_tables
from sync_assets.master_data.canonical import MASTER_DATA, CanonicalTable


def _counts_metadata(inserted: int, updated: int, deleted: int, rows: int, seconds: float) -> dict:
    return {
        "dagster/row_count": dg.MetadataValue.int(rows),
        "inserted": dg.MetadataValue.int(inserted),
        "updated": dg.MetadataValue.int(updated),
        "deleted": dg.MetadataValue.int(deleted),
        "duration_s": dg.MetadataValue.float(round(seconds, 3)),
    }


def snapshot_metadata(result: SnapshotResult) -> dict:
    c = result.counts
    return {
        **_counts_metadata(c.inserted, c.updated, c.deleted, result.rows, result.seconds),
        "source_table": dg.MetadataValue.text(result.table.name),
        "capture_position": dg.MetadataValue.text(result.position),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(col.name, col.type) for col in result.table.columns]
        ),
    }


def landing_snapshot_asset(table: SourceTable) -> dg.AssetsDefinition:
    @dg.asset(
        name=table.landing_table,
        group_name=f"{table.system}_landing",
        kinds={"postgres"},
        owners=["team:data-engineering"],
        required_resource_keys={"warehouse", table.system},
        description=(
            f"`{table.name}` as captured: a full snapshot merged by key {list(table.key)} into "
            f"landing.{table.landing_table}, with lineage columns; rows deleted at the source are "
            "kept as tombstones (`_operation = 'delete'`)."
        ),
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        warehouse: Warehouse = context.resources.warehouse
        result = warehouse.load_snapshot(getattr(context.resources, table.system), table)
        context.log.info(
            f"{table.name}: {result.rows} rows read, {result.counts.inserted} inserted, "
            f"{result.counts.updated} updated, {result.counts.deleted} deleted in {result.seconds:.2f}s"
        )
        return dg.MaterializeResult(metadata=snapshot_metadata(result))

    return _asset


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
            metadata=_counts_metadata(counts.inserted, counts.updated, counts.deleted, rows, seconds)
        )

    return _asset


LANDING_ASSETS = [landing_snapshot_asset(t) for t in snapshot_tables()]
CANONICAL_ASSETS = [canonical_master_asset(t) for t in MASTER_DATA]
