"""The change sensor: polls every source and the EDI inbox cheaply, and starts `change_capture` when one has news."""

import hashlib

import dagster as dg

from resources.edi_inbox import EdiInbox
from resources.settings import SOURCE_SYSTEMS
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes.pending import pending_changes


def change_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="change_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Starts change_capture when any source has uncaptured changes. The run key names the "
            "first pending change of each source, so the same changes never start two runs."
        ),
    )
    def _sensor(
        context: dg.SensorEvaluationContext,
        warehouse: Warehouse,
        edi_inbox: EdiInbox,
        erp: SourceDatabase,
        wms: SourceDatabase,
        fleet: SourceDatabase,
        billing: SourceDatabase,
    ):
        sources = {"erp": erp, "wms": wms, "fleet": fleet, "billing": billing}
        pending = {system: pending_changes(warehouse, sources[system]) for system in SOURCE_SYSTEMS}
        inbox = edi_inbox.folder()
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
