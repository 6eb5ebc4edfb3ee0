"""The canonical model applies LANDSCAPE §5's rules: ids normalised, WMS local times to UTC,
re-sent and late events once and in device-time order, REFUSED is no delivery, orphans kept,
unmappable rows dead-lettered and replayable, each exactly once."""

import dataclasses
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from conftest import query, run_sql

from resources.dead_letters import DEAD_LETTER_DDL, DeadLetterRule
from resources.warehouse import Warehouse
from sync_assets.definitions import defs
from sync_assets.shipments.canonical import CHARGES, SHIPMENTS, VEHICLE_EVENTS
from sync_assets.shipments.scope import recompute_everything

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl"

SOURCES = {
    "erp": """
        INSERT INTO customers VALUES ('C000001', 'Acme', 'USD', 30, true, '2026-01-01T00:00Z');
        INSERT INTO items VALUES ('SKU-00001', 'Widget', 'EA', 2.5000, '2026-01-01T00:00Z');
        INSERT INTO locations VALUES
          ('WH-ATL', 'WAREHOUSE', 'Atlanta DC', 'Atlanta', 'US', 33.7, -84.4, 'America/New_York', '2026-01-01T00:00Z'),
          ('CS-000001-01', 'CUSTOMER_SITE', 'Acme Dock', 'Macon', 'US', 32.8, -83.6, 'America/New_York', '2026-01-01T00:00Z');
        INSERT INTO contracts VALUES ('K-1', 'C000001', '2026-01-01', NULL, 'USD', 1.2500, 150, 12.5, 60, 45, '{}', '2026-01-01T00:00Z');
        INSERT INTO sales_orders VALUES
          ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'SHIPPED', '2026-10-01T08:00Z', '2026-10-01T12:00Z'),
          ('SO-0000002', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'SHIPPED', '2026-10-01T08:30Z', '2026-10-01T12:00Z');
        INSERT INTO inventory_balances VALUES ('SKU-00001', 'WH-ATL', 90, '2026-10-01T00:00Z');
    """,
    "wms": """
        INSERT INTO sites VALUES ('ATL', 'WH-ATL', 'America/New_York'), ('ZZZ', 'WH-ZZZ', 'Europe/Nowhere');
        INSERT INTO loads VALUES
          ('L000001', 'so0000001', 'ATL', 'D1', 'SHIPPED', '2026-10-01 10:15:00', '2026-10-01 10:15:00'),
          ('L000099', 'so9999999', 'ATL', 'D2', 'LOADED', '2026-10-01 11:00:00', '2026-10-01 11:00:00'),
          ('L000100', 'so0000002', 'XXX', 'D3', 'LOADED', '2026-10-01 11:00:00', '2026-10-01 11:00:00');
        INSERT INTO inventory_movements (sku, site_code, movement_type, qty, reason_code, occurred_at) VALUES
          ('sku-00001', 'ATL', 'RECEIPT', 100, NULL, '2026-09-30 09:00'),
          ('sku-00001', 'ATL', 'PICK', -7, NULL, '2026-10-01 09:00');
    """,
    "fleet": """
        INSERT INTO geofences VALUES ('GF-WH-ATL', 'WH-ATL', 33.7, -84.4, 300),
                                     ('GF-CS-000001-01', 'CS-000001-01', 32.8, -83.6, 200);
        INSERT INTO dispatches VALUES
          ('D0000001', ' so-0000001 ', 'TRK-1', 'DRV-1', 135.40, 'DELIVERED', '2026-10-01T20:00Z'),
          ('D0000002', 'SO0000002', 'TRK-2', 'DRV-2', 80.00, 'DELIVERED', '2026-10-01T20:00Z'),
          ('D0000099', 'so-0099999', 'TRK-9', NULL, 10.00, 'PLANNED', '2026-10-01T20:00Z');
        INSERT INTO telematics_events VALUES
          (1, 'ev-dep', 'D0000001', 'DEPARTED', NULL, '2026-10-01T14:30Z', '2026-10-01T14:30:05Z', NULL),
          -- ARRIVED: the earliest ENTER by device time arrives last (late) and is re-sent.
          (2, 'ev-enter-2', 'D0000001', 'GEOFENCE_ENTER', 'GF-CS-000001-01', '2026-10-01T17:10Z', '2026-10-01T17:10:02Z', NULL),
          (3, 'ev-enter-1', 'D0000001', 'GEOFENCE_ENTER', 'GF-CS-000001-01', '2026-10-01T16:55Z', '2026-10-01T18:40Z', NULL),
          (4, 'ev-enter-1', 'D0000001', 'GEOFENCE_ENTER', 'GF-CS-000001-01', '2026-10-01T16:55Z', '2026-10-01T18:41Z', NULL),
          (5, 'ev-pos', 'D0000001', 'POSITION', NULL, '2026-10-01T15:00Z', '2026-10-01T15:00:01Z', '{"lat": 33.1}'),
          -- an ENTER at another geofence is not ARRIVED
          (6, 'ev-enter-wh', 'D0000002', 'GEOFENCE_ENTER', 'GF-WH-ATL', '2026-10-01T15:00Z', '2026-10-01T15:00:01Z', NULL),
          (7, 'ev-ghost', 'D7777777', 'DEPARTED', NULL, '2026-10-01T15:00Z', '2026-10-01T15:00:01Z', NULL);
        INSERT INTO proof_of_delivery VALUES
          ('P1', 'D0000001', 'J. Doe', '2026-10-01T17:40Z', NULL, '2026-10-01T17:45Z'),
          ('P2', 'D0000002', 'R. Roe', '2026-10-01T16:00Z', 'REFUSED', '2026-10-01T16:05Z');
    """,
    "billing": """
        INSERT INTO charge_lines VALUES
          ('CH-1', 'SO-0000001', 'BASE', 1, 169.25, 'USD', 'RATED', '2026-10-01T17:45Z', '2026-10-01T17:45Z'),
          ('CH-2', 'so0000001', 'FUEL', 1, 21.16, 'USD', 'RATED', '2026-10-01T17:45Z', '2026-10-01T17:45Z'),
          ('CH-3', 'SO-0055555', 'BASE', 1, 99.00, 'USD', 'RATED', '2026-10-01T17:45Z', '2026-10-01T17:45Z'),
          ('CH-4', 'SO-0000001', 'TOLL', 1, 12.00, 'USD', 'RATED', '2026-10-01T17:45Z', '2026-10-01T17:45Z');
        INSERT INTO disputes VALUES ('DS-1', ' so0000002', 'refused', 80.00, 'OPEN', '2026-10-02T09:00Z', '2026-10-02T09:00Z');
    """,
}




@pytest.fixture
def synced(landscape_env):
    for system, rows in SOURCES.items():
        run_sql(landscape_env[system], (DDL / f"{system}.sql").read_text() + rows)
    result = capture()
    assert result.success
    yield landscape_env
    for system in SOURCES:
        run_sql(
            landscape_env[system],
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()",
        )


def capture() -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("change_capture").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )


def test_ids_are_normalised_and_orphans_kept(synced):
    wh = synced["warehouse"]
    assert query(wh, "SELECT dispatch_id, shipment_id, is_orphan FROM canonical.dispatches ORDER BY 1") == [
        ("D0000001", "SO-0000001", False),
        ("D0000002", "SO-0000002", False),
        ("D0000099", "SO-0099999", True),
    ]
    assert query(wh, "SELECT load_id, shipment_id, is_orphan FROM canonical.loads ORDER BY 1") == [
        ("L000001", "SO-0000001", False),
        ("L000099", "SO-9999999", True),
    ]
    assert query(wh, "SELECT charge_id, shipment_id, is_orphan FROM canonical.charges ORDER BY 1") == [
        ("CH-1", "SO-0000001", False),
        ("CH-2", "SO-0000001", False),
        ("CH-3", "SO-0055555", True),
    ]
    assert query(wh, "SELECT shipment_id FROM canonical.disputes") == [("SO-0000002",)]
    [(correlation,)] = query(wh, "SELECT correlation_id FROM canonical.shipments WHERE shipment_id = 'SO-0000001'")
    for table in ("loads", "dispatches", "charges", "shipment_milestones"):
        assert query(wh, f"SELECT DISTINCT correlation_id FROM canonical.{table} WHERE shipment_id = 'SO-0000001'") == [
            (correlation,)
        ]


def test_milestones_follow_the_landscape_rules(synced):
    rows = query(
        synced["warehouse"],
        "SELECT milestone, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), source FROM canonical.shipment_milestones "
        "WHERE shipment_id = 'SO-0000001' ORDER BY occurred_at",
    )
    assert rows == [
        ("ORDERED", "2026-10-01 08:00", "erp"),
        ("LOADED", "2026-10-01 14:15", "wms"),  # 10:15 in Atlanta (EDT, UTC-4)
        ("DEPARTED", "2026-10-01 14:30", "fleet"),
        ("ARRIVED", "2026-10-01 16:55", "fleet"),  # the earliest ENTER by device time, though received last
        ("DELIVERED", "2026-10-01 17:40", "fleet"),
    ]
    assert query(synced["warehouse"], "SELECT resent_count FROM canonical.vehicle_events WHERE event_uid = 'ev-enter-1'") == [
        (1,)
    ]
    # A refused POD is no delivery, and an ENTER at another geofence is no arrival.
    assert query(
        synced["warehouse"],
        "SELECT milestone FROM canonical.shipment_milestones WHERE shipment_id = 'SO-0000002' ORDER BY 1",
    ) == [("ORDERED",)]


def test_inventory_positions_compare_erp_with_the_wms_ledger(synced):
    assert query(synced["warehouse"], "SELECT sku, location_id, erp_qty, wms_qty, difference FROM canonical.inventory_positions") == [
        ("SKU-00001", "WH-ATL", 90, 93, -3)
    ]


def test_unmappable_rows_are_dead_letters_until_fixed_then_replayed(synced):
    wh = synced["warehouse"]
    assert query(wh, "SELECT source_table, source_pk, reason FROM ops.dead_letters WHERE resolved_at IS NULL ORDER BY 1, 2") == [
        ("billing.charge_lines", "CH-4", "charge code TOLL / status RATED not in the governed lists"),
        ("fleet.telematics_events", "7", "unknown dispatch D7777777"),
        ("wms.loads", "L000100", "unknown WMS site XXX: no zone for its local times"),
    ]
    [(payload, position)] = query(wh, "SELECT payload->>'dock_door', capture_position FROM ops.dead_letters WHERE source_pk = 'L000100'")
    assert payload == "D3" and position

    listed = subprocess.run([sys.executable, "-m", "sync_assets.cli", "deadletter", "list"], capture_output=True, text=True)
    assert "wms.loads" in listed.stdout and "3 dead letter(s)" in listed.stdout

    # The missing site arrives in the WMS crosswalk; a replay maps the load and resolves its dead letter.
    run_sql(synced["wms"], "INSERT INTO sites VALUES ('XXX', 'WH-ATL', 'America/New_York')")
    replay = subprocess.run([sys.executable, "-m", "sync_assets.cli", "deadletter", "replay"], capture_output=True, text=True)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert "replayed 3 dead letter(s): 1 now map, 0 deleted at the source, 2 still fail" in replay.stdout
    assert query(wh, "SELECT shipment_id, load_completed_at AT TIME ZONE 'UTC' FROM canonical.loads WHERE load_id = 'L000100'")[0][0] == "SO-0000002"
    assert query(wh, "SELECT resolution FROM ops.dead_letters WHERE source_pk = 'L000100'") == [("mapped",)]


def test_a_dead_letter_whose_row_the_source_deleted_is_resolved_as_deleted_not_mapped(synced):
    """The load never reached canonical: whoever follows the record up must not read it as mapped."""
    run_sql(synced["wms"], "DELETE FROM loads WHERE load_id = 'L000100'")
    replay = subprocess.run([sys.executable, "-m", "sync_assets.cli", "deadletter", "replay"], capture_output=True, text=True)
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert "replayed 3 dead letter(s): 0 now map, 1 deleted at the source, 2 still fail" in replay.stdout
    assert query(synced["warehouse"], "SELECT resolution FROM ops.dead_letters WHERE source_pk = 'L000100'") == [
        ("source row deleted",)]
    assert not query(synced["warehouse"], "SELECT 1 FROM canonical.loads WHERE load_id = 'L000100'")
    listed = subprocess.run([sys.executable, "-m", "sync_assets.cli", "deadletter", "list", "--all"], capture_output=True, text=True)
    [line] = [line for line in listed.stdout.splitlines() if "L000100" in line]
    assert "source row deleted" in line


DEAD_LETTERS_BEFORE_RESOLUTIONS = (
    "CREATE SCHEMA ops; CREATE TABLE ops.dead_letters (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "source_table text NOT NULL, source_pk text NOT NULL, reason text NOT NULL, payload jsonb NOT NULL, "
    "capture_position text, mapped_by text NOT NULL, first_seen_at timestamptz NOT NULL DEFAULT now(), "
    "last_seen_at timestamptz NOT NULL DEFAULT now(), resolved_at timestamptz, UNIQUE (source_table, source_pk, reason))"
)


def test_a_warehouse_from_before_resolutions_were_kept_gains_the_column(landscape_env):
    """ops.dead_letters as earlier versions made it: every later statement names `resolution`."""
    run_sql(landscape_env["warehouse"], DEAD_LETTERS_BEFORE_RESOLUTIONS)
    listed = subprocess.run([sys.executable, "-m", "sync_assets.cli", "deadletter", "list", "--all"], capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert query(landscape_env["warehouse"], "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'ops' "
                                         "AND table_name = 'dead_letters' AND column_name = 'resolution'") == [(1,)]


@pytest.mark.parametrize("isolation", ["read committed", "repeatable read"])
def test_two_refreshes_adding_the_resolution_column_at_once_both_go_on(landscape_env, isolation):
    """Each refresh runs the dead letters' DDL in its own transaction: the second finds the column
    missing too, and waits for the first to commit its ALTER."""
    warehouse = landscape_env["warehouse"]
    run_sql(warehouse, DEAD_LETTERS_BEFORE_RESOLUTIONS)
    with psycopg.connect(warehouse) as first, psycopg.connect(warehouse) as second:
        second.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
        second.execute("SELECT 1")  # its snapshot, from before the first adds the column
        first.execute(DEAD_LETTER_DDL)
        outcome = []
        waiting = threading.Thread(target=lambda: outcome.append(_run_and_commit(second, DEAD_LETTER_DDL)))
        waiting.start()
        pid = second.info.backend_pid
        while not query(warehouse, f"SELECT 1 FROM pg_locks WHERE pid = {pid} AND NOT granted"):
            assert waiting.is_alive(), outcome
            time.sleep(0.05)
        first.commit()
        waiting.join()
    assert outcome == [None]


def _run_and_commit(conn, statement: str):
    try:
        conn.execute(statement)
        conn.commit()
    except psycopg.Error as error:
        return error


def test_a_dead_letter_corrected_to_another_failing_value_still_fails_in_the_replay(synced):
    """CH-4's code goes from TOLL to PARK, no more governed: its old reason is gone, the row is not."""
    run_sql(synced["billing"], "UPDATE charge_lines SET charge_code = 'PARK', updated_at = '2026-10-01T18:00Z' WHERE charge_id = 'CH-4'")
    replay = subprocess.run([sys.executable, "-m", "sync_assets.cli", "deadletter", "replay"], capture_output=True, text=True)
    assert "replayed 3 dead letter(s): 0 now map, 0 deleted at the source, 3 still fail" in replay.stdout
    assert query(synced["warehouse"], "SELECT reason, resolution FROM ops.dead_letters WHERE source_pk = 'CH-4' ORDER BY id") == [
        ("charge code TOLL / status RATED not in the governed lists", "fails for another reason"),
        ("charge code PARK / status RATED not in the governed lists", None)]


def test_a_row_whose_mapping_was_fixed_in_code_reaches_canonical_in_the_replay(synced):
    """Its shipment is pending nowhere: the replay has every shipment recomputed."""
    codes, fixed_codes = "('BASE', 'FUEL', 'DET', 'LIFT', 'INSD', 'RESI')", "('BASE', 'FUEL', 'DET', 'LIFT', 'INSD', 'RESI', 'TOLL')"
    [rule] = CHARGES.dead_letters
    fixed = dataclasses.replace(CHARGES, select=CHARGES.select.replace(codes, fixed_codes), dead_letters=(
        DeadLetterRule(rule.source_table, rule.query.replace(codes, fixed_codes), rule.key),))
    assert fixed.select != CHARGES.select
    engine = Warehouse().engine()
    with engine.begin() as conn:  # what `waybill deadletter replay` does before its run
        recompute_everything(conn.connection.driver_connection.cursor())
    SHIPMENTS.refresh(engine)  # the run's order: charges take a shipment once shipments have
    fixed.refresh(engine)
    wh = synced["warehouse"]
    assert query(wh, "SELECT resolved_at IS NOT NULL FROM ops.dead_letters WHERE source_pk = 'CH-4'") == [(True,)]
    assert query(wh, "SELECT charge_code FROM canonical.charges WHERE charge_id = 'CH-4'") == [("TOLL",)]


def test_a_row_missing_the_field_a_dead_letter_reason_names_is_still_kept(synced):
    """A nullable site_code (the schema check compares names and types only) left the reason NULL,
    and the refresh failed on it instead of keeping the load."""
    run_sql(synced["wms"], "ALTER TABLE loads ALTER COLUMN site_code DROP NOT NULL; INSERT INTO loads VALUES "
                           "('L000200', 'so0000002', NULL, 'D4', 'LOADED', '2026-10-01 12:00', '2026-10-01 12:00')")
    assert capture().success
    assert query(synced["warehouse"], "SELECT reason FROM ops.dead_letters WHERE source_pk = 'L000200'") == [
        ("unknown WMS site NULL: no zone for its local times",)]


def test_a_load_at_a_site_whose_time_zone_is_not_recognised_is_a_dead_letter_and_the_others_refresh(synced):
    """Site ZZZ's zone is `Europe/Nowhere`: its load cannot be placed in time; it alone is kept aside."""
    run_sql(synced["wms"], "INSERT INTO loads VALUES ('L000300', 'so0000002', 'ZZZ', 'D5', 'LOADED', "
                           "'2026-10-01 12:00', '2026-10-01 12:00'); UPDATE loads SET dock_door = 'D9' WHERE load_id = 'L000001'")
    assert capture().success
    wh = synced["warehouse"]
    assert query(wh, "SELECT reason FROM ops.dead_letters WHERE source_pk = 'L000300' AND resolved_at IS NULL") == [
        ("WMS site ZZZ: time zone 'Europe/Nowhere' not recognised",)]
    assert query(wh, "SELECT load_id, dock_door FROM canonical.loads ORDER BY 1") == [("L000001", "D9"), ("L000099", "D2")]


def test_arrived_is_at_the_ship_to_geofence_reconciliation_measures_dwell_at(synced):
    """A second geofence at the ship-to: ARRIVED stays at the one canonical.locations names (the
    lowest id), where reconciliation measures dwell and detention, and does not move to an
    earlier ENTER at the other."""
    run_sql(synced["fleet"], "INSERT INTO geofences VALUES ('GF-CS-000001-01-B', 'CS-000001-01', 32.8, -83.6, 400); "
                             "INSERT INTO telematics_events VALUES (9, 'ev-enter-b', 'D0000001', 'GEOFENCE_ENTER', "
                             "'GF-CS-000001-01-B', '2026-10-01T16:30Z', '2026-10-01T16:30:02Z', NULL)")
    assert capture().success
    wh = synced["warehouse"]
    assert query(wh, "SELECT geofence_id FROM canonical.locations WHERE location_id = 'CS-000001-01'") == [("GF-CS-000001-01",)]
    assert query(wh, "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'HH24:MI'), source_ref FROM canonical.shipment_milestones "
                     "WHERE shipment_id = 'SO-0000001' AND milestone = 'ARRIVED'") == [("16:55", "fleet:telematics_events:ev-enter-1")]


def test_released_comes_from_the_status_history(synced):
    """Seen SHIPPED first: no RELEASED time is invented; an order seen at RELEASED gets that moment."""
    run_sql(
        synced["erp"],
        "INSERT INTO sales_orders VALUES ('SO-0000003', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
        "'2026-10-02T08:00Z', '2026-10-02T08:00Z')",
    )
    assert capture().success
    run_sql(synced["erp"], "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-02T09:30Z' WHERE order_id = 'SO-0000003'")
    assert capture().success
    run_sql(synced["erp"], "UPDATE sales_orders SET status = 'SHIPPED', updated_at = '2026-10-02T15:00Z' WHERE order_id = 'SO-0000003'")
    assert capture().success
    assert query(
        synced["warehouse"],
        "SELECT milestone, to_char(occurred_at AT TIME ZONE 'UTC', 'HH24:MI') FROM canonical.shipment_milestones "
        "WHERE shipment_id = 'SO-0000003' ORDER BY occurred_at",
    ) == [("ORDERED", "08:00"), ("RELEASED", "09:30")]


def test_milestones_out_of_order_warn_naming_the_shipment_and_stop_nothing(synced):
    # The device clock of the DEPARTED event says it left before it was loaded.
    run_sql(synced["fleet"], "UPDATE telematics_events SET occurred_at = '2026-10-01T09:00Z' WHERE event_uid = 'ev-dep'")
    result = capture()
    assert result.success
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "milestones_in_order"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["offending_ids"].value == "SO-0000001"
    assert query(synced["warehouse"], "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI') "
                                      "FROM canonical.shipment_milestones WHERE shipment_id = 'SO-0000001' "
                                      "AND milestone = 'DEPARTED'") == [("10-01 09:00",)]


def test_a_second_run_without_source_change_writes_nothing(synced):
    result = capture()
    assert result.success
    for event in result.get_asset_materialization_events():
        meta = event.step_materialization_data.materialization.metadata
        written = meta["inserted"].value + meta["updated"].value + meta["deleted"].value
        assert written == 0, event.asset_key


def _refreshes(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata["refresh"].value
        for e in result.get_asset_materialization_events()
        if "refresh" in e.step_materialization_data.materialization.metadata
    }


def test_a_change_recomputes_its_shipments_and_a_site_change_everything(synced):
    # The dispatch the ghost event waited for arrives: a refresh of that one shipment maps it.
    run_sql(synced["fleet"], "INSERT INTO dispatches VALUES ('D7777777', 'so0000002', 'TRK-7', NULL, 5.00, 'IN_TRANSIT', "
                             "'2026-10-02T00:00Z')")
    result = capture()
    assert result.success
    assert _refreshes(result)["vehicle_events"] == "1 changed shipments"
    assert query(synced["warehouse"], "SELECT shipment_id FROM canonical.vehicle_events WHERE event_uid = 'ev-ghost'") == [
        ("SO-0000002",)
    ]
    # ... which also resolves its dead letter, and a new event of an unknown dispatch becomes one:
    # an incremental refresh examines the rows written since the last one and the waiting ones.
    run_sql(synced["fleet"], "INSERT INTO telematics_events VALUES (8, 'ev-ghost-2', 'D8888888', 'DEPARTED', NULL, "
                             "'2026-10-02T15:00Z', '2026-10-02T15:00:01Z', NULL)")
    result = capture()
    assert _refreshes(result)["vehicle_events"] == "0 changed shipments"
    assert query(synced["warehouse"], "SELECT source_pk, resolved_at IS NULL FROM ops.dead_letters "
                                      "WHERE source_table = 'fleet.telematics_events' ORDER BY 1") == [("7", False), ("8", True)]
    # Atlanta's zone is corrected: every load's UTC time moves, so every shipment is recomputed.
    run_sql(synced["wms"], "UPDATE sites SET timezone = 'America/Chicago' WHERE site_code = 'ATL'")
    result = capture()
    assert _refreshes(result)["loads"] == "full refresh"
    assert query(
        synced["warehouse"],
        "SELECT to_char(load_completed_at AT TIME ZONE 'UTC', 'HH24:MI') FROM canonical.loads WHERE load_id = 'L000001'",
    ) == [("15:15",)]


def test_an_event_re_sent_under_another_shipments_dispatch_stays_one_event_whichever_shipment_changes(synced):
    """A refresh of one shipment sees every copy of its events: the first received stays the
    event, under its own shipment, as a full refresh has it."""
    run_sql(synced["fleet"], "INSERT INTO telematics_events VALUES (9, 'ev-dep', 'D0000002', 'DEPARTED', NULL, "
                             "'2026-10-01T14:30Z', '2026-10-01T19:00Z', NULL)")
    assert capture().success
    run_sql(synced["erp"], "UPDATE sales_orders SET status = 'CLOSED', updated_at = '2026-10-02T12:00Z' WHERE order_id = 'SO-0000002'")
    result = capture()
    assert _refreshes(result)["vehicle_events"] == "1 changed shipments"
    columns = ", ".join(VEHICLE_EVENTS.columns)
    full = query(synced["warehouse"], f"SELECT * FROM ({VEHICLE_EVENTS.query(False)}) q ORDER BY 1")
    assert query(synced["warehouse"], f"SELECT {columns} FROM canonical.vehicle_events ORDER BY 1") == full
    assert query(synced["warehouse"], "SELECT seq, shipment_id, resent_count FROM canonical.vehicle_events "
                                      "WHERE event_uid = 'ev-dep'") == [(1, "SO-0000001", 1)]


def test_site_local_times_in_the_repeated_autumn_hour_read_as_its_first_occurrence(synced):
    """01:19 on 2026-11-01 happens twice in Chicago (CDT, then CST): a WMS wall clock cannot say
    which, and the first keeps a load before its truck's departure; other times convert as usual."""
    def utc(local: str, zone: str = "America/Chicago") -> str:
        [(value,)] = query(synced["warehouse"], f"SELECT to_char(canonical.local_to_utc('{local}', '{zone}') "
                                                "AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')")
        return value

    assert utc("2026-11-01 01:19") == "2026-11-01 06:19"  # CDT, not 07:19 CST
    assert utc("2026-11-01 02:30") == "2026-11-01 08:30"  # after the repeat: CST
    assert utc("2026-03-08 03:30") == "2026-03-08 08:30"  # spring forward: CDT
    assert utc("2026-07-01 12:00", "America/New_York") == "2026-07-01 16:00"


def test_a_carrier_214_contradicting_our_milestones_warns_the_same_way(synced):
    run_sql(synced["warehouse"], "INSERT INTO landing.raw_edi_status_events (file_sha256, set_no, event_no, file_name, "
            "control_number, shipment_ref, status_code, occurred_at, milestone) VALUES ('f00d', 1, 1, '214_TEST.edi', "
            "'0001', 'SO-0000002', 'AF', '2026-10-01T07:00Z', 'DEPARTED')")  # before the order was placed
    result = capture()
    assert result.success
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "milestones_in_order"]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["offending_ids"].value == "SO-0000002"


def test_carrier_214_local_times_take_the_zone_of_the_events_place_and_a_refused_delivery_stays_undelivered(synced):
    """AT7-07 `LT` (or no code): departure at the ship-from's zone, arrival at the ship-to's
    (moved to Chicago here). SO-0000002's POD was REFUSED: the carrier's D1 is no delivery."""
    run_sql(synced["erp"], "UPDATE locations SET timezone = 'America/Chicago', updated_at = '2026-10-02T00:00Z' "
                           "WHERE location_id = 'CS-000001-01'")
    run_sql(synced["warehouse"], "INSERT INTO landing.raw_edi_status_events (file_sha256, set_no, event_no, file_name, "
            "control_number, shipment_ref, status_code, occurred_at, local_time, time_code, milestone) VALUES "
            "('f00d', 1, 1, '214_LT.edi', '0001', 'SO0000002', 'AF', NULL, '2026-10-01 09:30', 'LT', 'DEPARTED'), "
            "('f00d', 1, 2, '214_LT.edi', '0001', 'SO0000002', 'X1', NULL, '2026-10-01 12:00', NULL, 'ARRIVED'), "
            "('f00d', 1, 3, '214_LT.edi', '0001', 'SO0000002', 'D1', '2026-10-01T16:30Z', NULL, 'UT', 'DELIVERED')")
    assert capture().success
    assert query(synced["warehouse"], "SELECT milestone, to_char(occurred_at AT TIME ZONE 'UTC', 'HH24:MI'), source "
                                      "FROM canonical.shipment_milestones WHERE shipment_id = 'SO-0000002' ORDER BY occurred_at") == [
        ("ORDERED", "08:30", "erp"), ("DEPARTED", "13:30", "edi"), ("ARRIVED", "17:00", "edi")]


def test_a_carrier_214_naming_the_order_in_b10_01_fills_its_milestones(synced):
    """B10-02 is the shipper's reference by the standard; a carrier that puts the order number in
    B10-01 and its own in B10-02 still fills the order's milestones. The order arrives after the
    message, as EDI often does."""
    run_sql(synced["warehouse"], "INSERT INTO landing.raw_edi_status_events (file_sha256, set_no, event_no, file_name, "
            "control_number, shipment_ref, carrier_ref, status_code, occurred_at, milestone) VALUES "
            "('f00d', 1, 1, '214_B10.edi', '0001', 'PRO-4471', 'so0000003', 'AF', '2026-10-02T10:00Z', 'DEPARTED'), "
            "('f00d', 1, 2, '214_B10.edi', '0001', 'SO0000002', 'SO-0000001', 'X1', '2026-10-01T18:00Z', 'ARRIVED')")
    assert capture().success
    assert query(synced["warehouse"], "SELECT count(*) FROM canonical.shipment_milestones WHERE source = 'edi'") == [(1,)]
    run_sql(synced["erp"], "INSERT INTO sales_orders VALUES ('SO-0000003', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, "
                           "'SHIPPED', '2026-10-02T08:00Z', '2026-10-02T08:00Z')")
    assert capture().success
    assert query(synced["warehouse"], "SELECT shipment_id, milestone, to_char(occurred_at AT TIME ZONE 'UTC', 'HH24:MI'), "
                                      "source_ref FROM canonical.shipment_milestones WHERE source = 'edi' ORDER BY 1") == [
        ("SO-0000002", "ARRIVED", "18:00", "edi:214_B10.edi:SO0000002"),  # B10-02 names an order: it wins
        ("SO-0000003", "DEPARTED", "10:00", "edi:214_B10.edi:PRO-4471"),
    ]


def test_indexes_an_earlier_version_wrote_on_every_order_are_dropped(synced):
    """A warehouse from before shipments took the ERP order_id as it is still has an expression
    index on every order and order-history write, and a second index on the shipments' key."""
    wh = synced["warehouse"]
    run_sql(wh, "CREATE INDEX raw_erp_sales_orders_canonical_shipment_id_order_id "
                "ON landing.raw_erp_sales_orders (canonical.shipment_id(order_id));"
                "CREATE INDEX shipments_shipment_id ON canonical.shipments (shipment_id)")
    assert capture().success
    assert query(wh, "SELECT indexname FROM pg_indexes WHERE indexname IN "
                     "('raw_erp_sales_orders_canonical_shipment_id_order_id', 'shipments_shipment_id')") == []
