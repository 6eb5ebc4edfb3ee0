"""Turn check definitions (a GX suite per table, SQL queries returning offending ids) into Dagster asset checks."""

import hashlib
import json

import dagster as dg
import sqlalchemy as sa

from checks import results
from checks.gx_bridge import check_result, validate_table
from resources.warehouse import Warehouse
from sync_assets.canonical import content_version
from sync_assets.partitions import NIGHTLY_JOB


def suite_fingerprint(id_column: str, expectations: list) -> str:
    """Changes whenever an expectation or its arguments do (a new Waybill, an edited suite)."""
    configs = [e.configuration.to_json_dict() for e in expectations]
    return hashlib.sha256(json.dumps([id_column, configs], sort_keys=True, default=str).encode()).hexdigest()[:16]


def gx_suite_check(asset: str, id_column: str, expectations: list, *, blocking: bool) -> dg.AssetChecksDefinition:
    """The suite on canonical.<asset>. Outside the nightly run, a table no refresh has rewritten
    since this suite passed on it is not validated again (GX costs ~0.5 s of Python per suite
    at any size, most of a small change's run): its content is the one that passed. The nightly
    run always validates."""
    suite = suite_fingerprint(id_column, expectations)

    @dg.asset_check(
        asset=asset,
        name="gx_suite",
        blocking=blocking,
        description=f"Great Expectations suite on canonical.{asset}, executed inside PostgreSQL.",
    )
    def gx_suite(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        engine = warehouse.engine()
        version = content_version(engine, asset)  # read first: a refresh racing the validation only makes it stale
        validated = None if version is None else f"v{version}:{suite}"
        if validated and context.run.job_name != NIGHTLY_JOB:
            earlier = results.passed_on(engine, asset, "gx_suite", validated)
            if earlier:
                return dg.AssetCheckResult(
                    passed=True,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={"unchanged_since_run": dg.MetadataValue.text(earlier),
                              "content_version": dg.MetadataValue.int(version)},
                    description=f"canonical.{asset} is unchanged since run {earlier}, whose validation passed",
                )
        url = engine.url.render_as_string(hide_password=False)
        result = check_result(validate_table(url, "canonical", asset, expectations, id_column))
        return results.record(engine, asset, "gx_suite", result, blocking=blocking,
                              description=f"GX suite on canonical.{asset}", run_id=context.run.run_id, validated=validated)

    gx_suite.__name__ = f"{asset}_gx_suite"
    return gx_suite


def sql_check(asset: str, name: str, description: str, query: str, *, blocking: bool) -> dg.AssetChecksDefinition:
    """A check that fails when `query` returns rows; its first column names the offending ids."""

    @dg.asset_check(asset=asset, name=name, blocking=blocking, description=description)
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        engine = warehouse.engine()
        with engine.connect() as conn:
            offending = conn.execute(sa.text(query)).scalars().all()
        result = results.offending_result(offending, warn=not blocking)
        return results.record(engine, asset, name, result, blocking=blocking, description=description,
                              run_id=context.run.run_id)

    _check.__name__ = f"{asset}_{name}"
    return _check


def checks_for(suites: dict, sql_checks: tuple, blocking_assets: set[str]) -> list[dg.AssetChecksDefinition]:
    return [
        gx_suite_check(asset, id_column, expectations, blocking=asset in blocking_assets)
        for asset, (id_column, expectations) in suites.items()
    ] + [sql_check(*spec[:4], blocking=spec[4] if len(spec) > 4 else spec[0] in blocking_assets) for spec in sql_checks]
