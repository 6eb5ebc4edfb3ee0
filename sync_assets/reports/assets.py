"""The finance report asset: `$WAYBILL_REPORTS_DIR/<day>/reconciliation_exceptions.csv` and `report.html`.

It is the nightly run's last step. When the run fails earlier (a blocking check stopped it), the
report is written by a run of `finance_report_job` for the same day (started by the failure
sensor, or by `waybill nightly` itself), whose config carries the failed run's reasons.
"""

from datetime import date

import dagster as dg

from resources.settings import reports_dir
from resources.warehouse import Warehouse
from sync_assets.invoicing.assets import invoices
from sync_assets.partitions import NIGHTLY_PARTITIONS
from sync_assets.reconciliation.assets import reconciliation_exceptions
from sync_assets.reports.gather import gather, write_exceptions_csv
from sync_assets.reports.html import write_report


class FinanceReportConfig(dg.Config):
    failed_run_id: str = ""
    failure_reasons: list[str] = []


@dg.asset(
    group_name="reports",
    kinds={"postgres", "html", "csv"},
    owners=["team:finance-data"],
    partitions_def=NIGHTLY_PARTITIONS,
    deps=[invoices, reconciliation_exceptions],
)
def finance_report(context: dg.AssetExecutionContext, config: FinanceReportConfig, warehouse: Warehouse) -> dg.MaterializeResult:
    """The morning report for finance: invoices posted and amount invoiced, invoice cycle time,
    amount at risk by exception type, open disputes, quality-check results, dead letters and
    freshness, as one self-contained HTML file beside the exception CSV."""
    run_date = date.fromisoformat(context.partition_key)
    directory = reports_dir() / context.partition_key
    with warehouse.engine().begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        csv_path, exceptions = write_exceptions_csv(cursor, run_date, directory)
        data = gather(cursor, run_date, run_id=config.failed_run_id or context.run_id,
                      failure_reasons=list(config.failure_reasons))
    html_path = write_report(data, directory)
    context.log.info(f"finance report for {run_date}: {html_path} ({exceptions} exceptions in {csv_path.name})")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(html_path)),
            "exceptions_csv": dg.MetadataValue.path(str(csv_path)),
            "exceptions": dg.MetadataValue.int(exceptions),
            "invoices_posted": dg.MetadataValue.int(data.invoices_posted),
            "run_succeeded": dg.MetadataValue.bool(data.succeeded),
        }
    )
