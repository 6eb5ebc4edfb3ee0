"""The nightly reconciliation: job, 02:00 UTC schedule, and the report after a failed run.

`nightly_reconciliation` runs, for one UTC day D (as of D+1 00:00 UTC): the change catch-up and
batch refresh of every source (landing `nightly` mode) and the EDI inbox, the canonical model and
its quality gates, reconciliation, invoice posting and the finance report. A blocking check that
fails stops everything after it in the run; `report_after_failure` then writes that day's report
(saying why) with `finance_report_job`.
"""

from datetime import timedelta

import dagster as dg

from resources.settings import SOURCE_SYSTEMS
from sync_assets.canonical_assets import CANONICAL_ASSETS
from sync_assets.edi.assets import edi_landing
from sync_assets.invoicing.assets import invoices
from sync_assets.landing import LANDING_ASSETS
from sync_assets.partitions import NIGHTLY_JOB, NIGHTLY_PARTITIONS
from sync_assets.reconciliation.assets import RECONCILIATION_ASSETS
from sync_assets.reports.assets import finance_report

NIGHTLY_ASSETS = [*RECONCILIATION_ASSETS, invoices, finance_report]

nightly_reconciliation = dg.define_asset_job(
    NIGHTLY_JOB,
    selection=dg.AssetSelection.assets(*LANDING_ASSETS, edi_landing, *CANONICAL_ASSETS, *NIGHTLY_ASSETS),
    partitions_def=NIGHTLY_PARTITIONS,
    config={"ops": {f"{system}_landing": {"config": {"refresh": "nightly"}} for system in SOURCE_SYSTEMS}},
    description=(
        "Yesterday, reconciled: change catch-up and batch refresh of every source, canonical model, "
        "quality gates, reconciliation as of the next midnight UTC, exactly-once invoice posting, "
        "finance report."
    ),
)

finance_report_job = dg.define_asset_job(
    "finance_report_job",
    selection=dg.AssetSelection.assets(finance_report),
    partitions_def=NIGHTLY_PARTITIONS,
    description="Write one day's finance report from what the warehouse holds (after a failed nightly run).",
)


@dg.schedule(job=nightly_reconciliation, cron_schedule="0 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """At 02:00 UTC, reconcile the UTC day that ended two hours ago."""
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"nightly-{day}", partition_key=day)


def failure_reasons(failure_events) -> list[str]:
    """One line per failed step, from its error's first line (never a traceback or a secret)."""
    reasons = []
    for event in failure_events:
        error = event.step_failure_data.error if event.step_failure_data else None
        cause = (error.cause or error) if error else None
        message = cause.message.strip().splitlines()[0] if cause and cause.message.strip() else "failed"
        reasons.append(f"step {event.step_key}: {message}")
    return reasons


@dg.run_failure_sensor(monitored_jobs=[nightly_reconciliation], request_job=finance_report_job,
                       default_status=dg.DefaultSensorStatus.RUNNING)
def report_after_failure(context: dg.RunFailureSensorContext):
    """A failed nightly run still owes finance its report: write it, with the reasons."""
    partition = context.dagster_run.tags.get("dagster/partition")
    if not partition:
        return dg.SkipReason("the failed run had no partition")
    reasons = failure_reasons(context.get_step_failure_events()) or [context.failure_event.message or "run failed"]
    return dg.RunRequest(
        run_key=f"report-after-{context.dagster_run.run_id}",
        partition_key=partition,
        run_config={"ops": {"finance_report": {"config": {
            "failed_run_id": context.dagster_run.run_id, "failure_reasons": reasons}}}},
    )
