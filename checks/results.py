"""Every check result is also kept in the warehouse (ops.check_results), latest per check.

The finance report is written even when a blocking check stopped the nightly run, possibly by a
separate run: it reads the results from here rather than from the Dagster instance.
"""

import dagster as dg
import sqlalchemy as sa

DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.check_results (
    asset            text NOT NULL,
    check_name       text NOT NULL,
    passed           bool NOT NULL,
    blocking         bool NOT NULL,
    severity         text NOT NULL,
    offending_count  bigint NOT NULL,
    offending_sample text NOT NULL,
    description      text NOT NULL,
    run_id           text,
    evaluated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (asset, check_name)
)
"""
#: What the check validated (a canonical table's version and the suite's fingerprint), when known;
#: added to tables an earlier Waybill created.
VALIDATED_COLUMN = "ALTER TABLE ops.check_results ADD COLUMN IF NOT EXISTS validated text"
#: Checks an earlier Waybill had: their last result would otherwise show in every report.
RETIRED_CHECKS = (
    ("shipment_milestones", "carrier_milestones_in_order"),  # now part of milestones_in_order, a warning
)


def _ensure_table(conn) -> None:
    conn.exec_driver_sql(DDL)
    if not conn.exec_driver_sql(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'ops.check_results'::regclass AND attname = 'validated')"
    ).scalar():
        conn.exec_driver_sql(VALIDATED_COLUMN)  # locks the table: only once
    for asset, check in RETIRED_CHECKS:
        conn.execute(sa.text("DELETE FROM ops.check_results WHERE asset = :asset AND check_name = :check"),
                     {"asset": asset, "check": check})


def offending_result(offending: list, *, asset: str | None = None, check: str | None = None,
                     description: str | None = None, warn: bool = False) -> dg.AssetCheckResult:
    """A result (ERROR severity, or WARN) that passes when nothing offends; metadata counts and names the ids."""
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=check,
        passed=not offending,
        severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
        description=description if offending else None,
        metadata={
            "offending_count": dg.MetadataValue.int(len(offending)),
            "offending_ids": dg.MetadataValue.text(", ".join(map(str, offending[:50]))),
        },
    )


def _value(result: dg.AssetCheckResult, key: str, default):
    entry = (result.metadata or {}).get(key)
    return default if entry is None else getattr(entry, "value", entry)


def record(engine: sa.Engine, asset: str, check: str, result: dg.AssetCheckResult, *, blocking: bool,
           description: str, run_id: str | None, validated: str | None = None) -> dg.AssetCheckResult:
    """Upsert the result as the check's latest and return it unchanged; `validated` says what it
    looked at (see passed_on)."""
    sample = str(_value(result, "offending_ids", ""))
    count = _value(result, "offending_count", None)
    if count is None:
        count = len([s for s in sample.split(", ") if s]) if not result.passed else 0
    with engine.begin() as conn:
        _ensure_table(conn)
        conn.execute(
            sa.text(
                "INSERT INTO ops.check_results (asset, check_name, passed, blocking, severity, offending_count, "
                "offending_sample, description, run_id, validated) VALUES (:asset, :check, :passed, :blocking, :severity, "
                ":count, :sample, :description, :run_id, :validated) ON CONFLICT (asset, check_name) DO UPDATE SET "
                "passed = EXCLUDED.passed, blocking = EXCLUDED.blocking, severity = EXCLUDED.severity, "
                "offending_count = EXCLUDED.offending_count, offending_sample = EXCLUDED.offending_sample, "
                "description = EXCLUDED.description, run_id = EXCLUDED.run_id, validated = EXCLUDED.validated, "
                "evaluated_at = now()"
            ),
            {
                "asset": asset,
                "check": check,
                "passed": result.passed,
                "blocking": blocking,
                "severity": result.severity.value if result.severity else "ERROR",
                "count": int(count),
                "sample": sample[:2000],
                "description": result.description or description,
                "run_id": run_id,
                "validated": validated,
            },
        )
    return result


def passed_on(engine: sa.Engine, asset: str, check: str, validated: str) -> str | None:
    """The run whose evaluation of the check passed on exactly `validated`, if that is its latest."""
    with engine.connect() as conn:
        if not conn.exec_driver_sql("SELECT to_regclass('ops.check_results') IS NOT NULL").scalar():
            return None
        row = conn.execute(
            sa.text("SELECT passed, validated, run_id FROM ops.check_results WHERE asset = :a AND check_name = :c"),
            {"a": asset, "c": check},
        ).first()
    return row.run_id or "an earlier run" if row is not None and row.passed and row.validated == validated else None
