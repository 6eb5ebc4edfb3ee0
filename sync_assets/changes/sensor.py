"""The change sensor: polls every source and the EDI inbox cheaply, and starts `change_capture` when one has news."""

import hashlib

import dagster as dg

from resources.settings import SOURCE_SYSTEMS
from sync_assets.changes.pending import pending_changes


def change_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="change_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={"warehouse", "edi_inbox", *SOURCE_SYSTEMS},
        description=(
            "Starts change_capture when any source has uncaptured changes. The run key names the "
            "first pending change of each source, so the same changes never start two runs."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext):
        pending = {
            system: pending_changes(context.resources.warehouse, getattr(context.resources, system))
            for system in SOURCE_SYSTEMS
        }
        inbox = context.resources.edi_inbox.folder()
        files = sorted(p.name for p in inbox.iterdir() if p.is_file()) if inbox.is_dir() else []
        pending["edi"] = f"{len(files)} files, last {files[-1]}" if files else None
        pending = {system: token for system, token in pending.items() if token}
        if not pending:
            return dg.SkipReason("every source is caught up")
        token = ",".join(f"{system}@{position}" for system, position in sorted(pending.items()))
        run_key = "changes-" + hashlib.sha256(token.encode()).hexdigest()[:16]
        context.update_cursor(token)
        return dg.RunRequest(run_key=run_key, tags={"waybill/pending": token[:250]})

    return _sensor
