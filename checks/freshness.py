"""Per-source freshness with SLA classes (quality gate): how long ago each source was last captured.

A source is captured by every successful landing run (`ops.source_freshness`, written by the
landing assets). Freshness is the one check measured against the clock, on purpose: it asks
whether capture is running, not what the data says. The nightly run catches up every source
first, so a healthy nightly always finds them fresh; a source that could not be captured is stale.

SLA classes (LANDSCAPE: POD and billing critical, master data standard):
- critical, 30 minutes: fleet (PODs, telematics) and billing (charge lines): invoices are built
  from them, so a stale one blocks invoicing;
- standard, 26 hours: ERP and WMS, batch-fed master data and stock (a daily load plus slack).
"""

import dagster as dg
import sqlalchemy as sa

from checks import results
from resources.warehouse import Warehouse
from sync_assets.mappings import tables_of

DDL = """
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.source_freshness (
    source_system   text PRIMARY KEY,
    captured_at     timestamptz NOT NULL,
    how             text NOT NULL
)
"""

#: system → (SLA class, minutes)
SLA = {
    "fleet": ("critical", 30),
    "billing": ("critical", 30),
    "erp": ("standard", 26 * 60),
    "wms": ("standard", 26 * 60),
}


def mark_captured(cursor, system: str, how: str) -> None:
    """Record a successful capture of `system` (in the caller's transaction)."""
    cursor.execute(DDL)
    cursor.execute(
        "INSERT INTO ops.source_freshness VALUES (%s, now(), %s) "
        "ON CONFLICT (source_system) DO UPDATE SET captured_at = now(), how = EXCLUDED.how",
        (system, how),
    )


def freshness_check(system: str) -> dg.AssetChecksDefinition:
    """A check on the system's first landing table (each source is captured as one unit)."""
    sla_class, minutes = SLA[system]
    asset = tables_of(system)[0].landing_table
    blocking = sla_class == "critical"
    description = f"{system} was captured less than {minutes} minutes ago ({sla_class} SLA)."

    @dg.asset_check(asset=asset, name=f"{system}_freshness", blocking=blocking, description=description)
    def _freshness(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        engine = warehouse.engine()
        with engine.begin() as conn:
            conn.exec_driver_sql(DDL)
            lag = conn.execute(
                sa.text(
                    "SELECT extract(epoch FROM now() - captured_at) / 60 FROM ops.source_freshness "
                    "WHERE source_system = :system"
                ),
                {"system": system},
            ).scalar()
        fresh = lag is not None and lag <= minutes
        result = dg.AssetCheckResult(
            passed=fresh,
            severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
            description=None if fresh else (
                f"{system} never captured" if lag is None else f"{system} last captured {float(lag):.0f} minutes ago"
            ),
            metadata={
                "sla_class": dg.MetadataValue.text(sla_class),
                "sla_minutes": dg.MetadataValue.int(minutes),
                "lag_minutes": dg.MetadataValue.float(round(float(lag), 2) if lag is not None else -1.0),
                "offending_ids": dg.MetadataValue.text("" if fresh else system),
            },
        )
        return results.record(engine, asset, f"{system}_freshness", result, blocking=blocking,
                              description=description, run_id=context.run.run_id)

    _freshness.__name__ = f"{system}_freshness"
    return _freshness


FRESHNESS_CHECKS = [freshness_check(system) for system in SLA]
