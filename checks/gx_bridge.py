"""Run a Great Expectations (GX Core 1.x) suite inside PostgreSQL and report it as a Dagster check.

dagster-ge does not support GX 1.x, so this is the bridge: an ephemeral GX context with one SQL
data source on the warehouse, one table asset, one suite; the expectations compile to SQL and
run in the database (no table is pulled into pandas). The result becomes an `AssetCheckResult`
whose metadata names, per failed expectation, how many rows failed and which ids they are.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import dagster as dg
import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.expectations.expectation import Expectation

#: How many offending ids a check's metadata lists (the count is always complete).
SAMPLE_SIZE = 20

logging.getLogger("great_expectations").setLevel(logging.WARNING)
# The generic SQL data source is deliberate: it takes any SQLAlchemy URL (the embedded server's
# socket URL has no host, which the Postgres-specific source refuses).
warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")


def validate_table(
    url: str, schema: str, table: str, expectations: Sequence[Expectation], id_column: str
) -> list[dict]:
    """Run `expectations` on `schema.table`; one summary dict per expectation."""
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(name="warehouse", connection_string=url)
    asset = source.add_table_asset(name=table, table_name=table, schema_name=schema)
    batch = asset.add_batch_definition_whole_table("whole_table")
    # Copies: GX binds an expectation to the suite it joins, and the definitions are reused per run.
    fresh = [e.copy(update={"id": None}) for e in expectations]
    suite = context.suites.add(gx.ExpectationSuite(name=f"{schema}.{table}", expectations=fresh))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{schema}.{table}", data=batch, suite=suite)
    )
    result = validation.run(
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [id_column],
            "partial_unexpected_count": SAMPLE_SIZE,
        }
    )
    return [_summarise(r, id_column) for r in result.results]


def _summarise(result, id_column: str) -> dict:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "result_format")}
    details = result.result or {}
    ids = [row.get(id_column) for row in (details.get("unexpected_index_list") or []) if isinstance(row, dict)]
    if result.exception_info and result.exception_info.get("raised_exception"):
        error = str(result.exception_info.get("exception_message", "")).splitlines()[0][:300]
    else:
        error = None
    return {
        "expectation": config.type,
        "kwargs": kwargs,
        "success": bool(result.success),
        "unexpected_count": details.get("unexpected_count", 0 if result.success else None),
        "offending_ids": sorted({str(i) for i in ids})[:SAMPLE_SIZE],
        "error": error,
    }


def check_result(outcomes: list[dict], *, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    """Pass when every expectation passed; metadata lists each failure with its offending ids."""
    failures = [o for o in outcomes if not o["success"]]
    metadata: dict[str, dg.MetadataValue] = {
        "expectations": dg.MetadataValue.int(len(outcomes)),
        "failed_expectations": dg.MetadataValue.int(len(failures)),
    }
    if failures:
        metadata["failures"] = dg.MetadataValue.json(failures)
        metadata["offending_ids"] = dg.MetadataValue.text(
            ", ".join(sorted({i for f in failures for i in f["offending_ids"]}))[:2000]
        )
    return dg.AssetCheckResult(
        asset_key=asset_key,
        passed=not failures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=metadata,
        description="; ".join(
            f"{f['expectation']}({', '.join(f'{k}={v}' for k, v in f['kwargs'].items() if k != 'value_set')}): "
            f"{f['unexpected_count']} rows" + (f" [{f['error']}]" if f["error"] else "")
            for f in failures
        )
        or None,
    )
