"""The change sensor asks cheaply, starts a run with a deterministic key when something is new,
and skips once everything is captured."""

from pathlib import Path

import dagster as dg
import pytest

from conftest import run_sql
from sync_assets.definitions import build_resources, defs

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl"


def evaluate():
    sensor = defs.resolve_sensor_def("change_sensor")
    with dg.build_sensor_context(resources=build_resources()) as context:
        return sensor(context)


@pytest.mark.parametrize("mode", ["log", "cursor"])
def test_sensor_requests_once_per_pending_change_and_then_skips(landscape_env, monkeypatch, mode):
    for system in ("erp", "wms", "fleet", "billing"):
        monkeypatch.setenv(f"WAYBILL_CAPTURE_{system.upper()}", mode)
        run_sql(landscape_env[system], (DDL / f"{system}.sql").read_text())

    first = evaluate()
    if mode == "log":
        assert isinstance(first, dg.RunRequest)  # no slot yet: every source starts with a snapshot
        assert evaluate().run_key == first.run_key  # same pending state, same key: no second run
    else:
        assert isinstance(first, dg.SkipReason)  # empty tables and no position: nothing to capture

    result = defs.resolve_job_def("change_capture").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert result.success
    assert isinstance(evaluate(), dg.SkipReason)

    run_sql(
        landscape_env["billing"],
        "INSERT INTO disputes VALUES ('DS-1', 'SO-0000001', 'late', 10.00, 'OPEN', '2027-01-01T00:00Z', '2027-01-01T00:00Z')",
    )
    pending = evaluate()
    assert isinstance(pending, dg.RunRequest)
    assert evaluate().run_key == pending.run_key
    assert pending.tags["waybill/pending"].startswith("billing@")
    for system in ("erp", "wms", "fleet", "billing"):
        run_sql(
            landscape_env[system],
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()",
        )
