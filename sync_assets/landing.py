"""Landing assets: one multi-asset per source system, one asset per mapped source table.

A source's landing tables are refreshed two ways, chosen by run config:
- `snapshot` (master data runs, the nightly run): full copy + key comparison of the selected
  tables, which sees hard deletes and writes that skip `updated_at` in any capture mode;
- `changes` (the change-capture job the sensor starts): one poll of the source in its capture mode
  (log or cursor). A log poll consumes the slot for every table of the source, so it always
  covers all of them;
- `nightly` (the nightly reconciliation): the change catch-up, then the batch refresh: a snapshot
  of the master-data tables, and of every table of a source captured by cursor (the key comparison
  that finds the hard deletes a cursor cannot see).
Every successful refresh marks the source captured (checks/freshness.py).
"""

from typing import Literal

import dagster as dg

from checks.freshness import mark_captured
from resources.capture.state import polling
from resources.merge import MergeCounts
from resources.warehouse import SnapshotResult, Warehouse
from sync_assets.changes.poll import catch_up, poll_source
from sync_assets.mappings import SourceTable, tables_of
from resources.settings import SOURCE_SYSTEMS


class LandingConfig(dg.Config):
    refresh: Literal["snapshot", "changes", "nightly"] = "snapshot"


def counts_metadata(inserted: int, updated: int, deleted: int, rows: int | None, seconds: float) -> dict:
    metadata = {
        "inserted": dg.MetadataValue.int(inserted),
        "updated": dg.MetadataValue.int(updated),
        "deleted": dg.MetadataValue.int(deleted),
        "duration_s": dg.MetadataValue.float(round(seconds, 3)),
    }
    if rows is not None:
        metadata["dagster/row_count"] = dg.MetadataValue.int(rows)
    return metadata


def snapshot_metadata(result: SnapshotResult) -> dict:
    c = result.counts
    return {
        **counts_metadata(c.inserted, c.updated, c.deleted, result.rows, result.seconds),
        "source_table": dg.MetadataValue.text(result.table.name),
        "capture_position": dg.MetadataValue.text(result.position),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(col.name, col.type) for col in result.table.columns]
        ),
    }


def _spec(table: SourceTable) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=table.landing_table,
        group_name=f"{table.system}_landing",
        kinds={"postgres"},
        owners=["team:data-engineering"],
        description=(
            f"`{table.name}` as captured into landing.{table.landing_table}, merged by key "
            f"{list(table.key)}, with lineage columns; rows deleted at the source stay as tombstones "
            f"(`_operation = 'delete'`). Refreshed by snapshot (master data and nightly runs) and by "
            f"change capture ({'cursor ' + str(list(table.cursor)) if table.cursor else 'log or snapshot only'})."
        ),
        metadata={"source_table": table.name, "capture": table.capture},
    )


def _snapshot_at_night(table: SourceTable, mode: str) -> bool:
    """Master data is batch-refreshed; a cursor-captured table needs the key comparison for deletes."""
    return table.capture == "snapshot" or mode == "cursor"


def _poll_result(key: dg.AssetKey, table: SourceTable, poll) -> dg.MaterializeResult:
    counts = poll.counts.get(table.name, MergeCounts(0, 0, 0))
    return dg.MaterializeResult(
        asset_key=key,
        metadata={
            **counts_metadata(counts.inserted, counts.updated, counts.deleted, None, poll.seconds),
            "capture_mode": dg.MetadataValue.text(f"{poll.mode} ({poll.decoder})" if poll.decoder else poll.mode),
            "capture_position": dg.MetadataValue.text(poll.position or ""),
            "lag_bytes": dg.MetadataValue.int(poll.lag_bytes),
            **({"capture_restarted": dg.MetadataValue.text(poll.restarted)} if poll.restarted else {}),
        },
    )


def source_landing_asset(system: str) -> dg.AssetsDefinition:
    tables = {t.landing_table: t for t in tables_of(system)}

    @dg.multi_asset(
        name=f"{system}_landing",
        specs=[_spec(t) for t in tables.values()],
        can_subset=True,
        required_resource_keys={"warehouse", system},
        description=f"Captures the {system} source's mapped tables into landing.",
    )
    def _landing(context: dg.AssetExecutionContext, config: LandingConfig):
        warehouse: Warehouse = context.resources.warehouse
        source = getattr(context.resources, system)
        selected = sorted(context.selected_asset_keys, key=lambda k: k.to_user_string())
        snapshots = selected
        if config.refresh != "snapshot":
            # the nightly reconciles the whole day: it polls until caught up, a sync polls once
            poll = catch_up(warehouse, source) if config.refresh == "nightly" else poll_source(warehouse, source)
            context.log.info(
                f"{system}: {poll.mode} poll, {poll.transactions} transactions, {poll.changes} changes "
                f"in {poll.seconds:.2f}s; lag {poll.lag_bytes} bytes"
            )
            if poll.restarted:
                context.log.warning(f"{system}: {poll.restarted}")
            if poll.reread:
                context.log.info(f"{system}: read again with every change through the merge: {poll.reread}")
            nightly = config.refresh == "nightly"
            snapshots = [k for k in selected if nightly and _snapshot_at_night(tables[k.path[-1]], poll.mode)]
            # Every selected table reports, changed or not: downstream canonical assets in the same
            # run are skipped when an upstream output is missing.
            for key in selected:
                if key not in snapshots:
                    yield _poll_result(key, tables[key.path[-1]], poll)
        # Not while a poll of the source runs: its older read would commit over the newer rows.
        with polling(warehouse.engine(), system):
            for key in snapshots:
                result = warehouse.load_snapshot(source, tables[key.path[-1]])
                context.log.info(f"{result.table.name}: {result.rows} rows, {result.counts}, {result.seconds:.2f}s")
                yield dg.MaterializeResult(asset_key=key, metadata=snapshot_metadata(result))
        with warehouse.engine().begin() as conn:
            mark_captured(conn.connection.driver_connection.cursor(), system, config.refresh)

    return _landing


LANDING_ASSETS = [source_landing_asset(system) for system in SOURCE_SYSTEMS]
