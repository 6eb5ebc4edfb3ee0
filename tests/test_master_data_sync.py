"""Master-data batch sync against real PostgreSQL: inserts, updates, deletes, idempotent reruns, drift."""

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest
from conftest import query, run_sql

from resources.settings import SOURCE_SYSTEMS
from sync_assets.definitions import build_resources
from sync_assets.landing import LANDING_ASSETS
from sync_assets.canonical_assets import CANONICAL_ASSETS
from sync_assets.mappings import snapshot_tables
from checks.master_data import MASTER_DATA_CHECKS

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl"

SEED = {
    "erp": """
        INSERT INTO customers VALUES
          ('C000001', 'Acme Freight', 'USD', 30, true, '2026-01-01T00:00Z'),
          ('C000002', 'Beta Foods', 'EUR', 45, true, '2026-01-01T00:00Z'),
          (' c000003 ', 'Gamma Retail', 'usd', 15, false, '2026-01-01T00:00Z');
        INSERT INTO items VALUES ('SKU-00001', 'Pallet of widgets', 'PL', 12.5, '2026-01-01T00:00Z'),
                                 ('SKU-00002', 'Box of gadgets', 'CS', 3.25, '2026-01-01T00:00Z');
        INSERT INTO locations VALUES
          ('WH-ATL', 'WAREHOUSE', 'Atlanta DC', 'Atlanta', 'US', 33.749, -84.388, 'America/New_York', '2026-01-01T00:00Z'),
          ('CS-000001-01', 'CUSTOMER_SITE', 'Acme Dock 1', 'Macon', 'US', 32.84, -83.63, 'America/New_York', '2026-01-01T00:00Z');
        INSERT INTO contracts VALUES
          ('K-0001', 'C000001', '2026-01-01', '2026-06-30', 'USD', 1.2500, 150.00, 12.500, 60, 45.00, '{"LIFT": 75.00}', '2026-01-01T00:00Z'),
          ('K-0002', 'C000001', '2026-07-01', NULL, 'USD', 1.3000, 150.00, 12.500, 60, 45.00, '{"LIFT": 80.00}', '2026-01-01T00:00Z');
    """,
    "wms": "INSERT INTO sites VALUES ('ATL', 'WH-ATL', 'America/New_York');",
    "fleet": """
        INSERT INTO geofences VALUES ('GF-WH-ATL', 'WH-ATL', 33.749, -84.388, 300),
                                     ('GF-CS-000001-01', 'CS-000001-01', 32.84, -83.63, 200),
                                     ('GF-ADHOC-1', NULL, 30.0, -85.0, 150);
    """,
    "billing": "",
}




@pytest.fixture
def sources(landscape_env):
    for system in SOURCE_SYSTEMS:
        run_sql(landscape_env[system], (DDL / f"{system}.sql").read_text() + SEED[system])
    return landscape_env


def sync() -> dg.ExecuteInProcessResult:
    """The master_data_sync selection: snapshots of the master-data landing tables, then canonical."""
    return dg.materialize(
        [*LANDING_ASSETS, *CANONICAL_ASSETS, *MASTER_DATA_CHECKS],
        selection=dg.AssetSelection.groups("canonical_master_data")
        | dg.AssetSelection.assets(*(t.landing_table for t in snapshot_tables())),
        resources=build_resources(),
        raise_on_error=False,
    )


def counts(result: dg.ExecuteInProcessResult, asset: str) -> tuple[int, int, int]:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset]
    meta = event.step_materialization_data.materialization.metadata
    return meta["inserted"].value, meta["updated"].value, meta["deleted"].value


def test_first_sync_lands_and_normalises_master_data(sources):
    result = sync()
    assert result.success
    assert counts(result, "raw_erp_customers") == (3, 0, 0)
    wh = sources["warehouse"]
    assert query(wh, "SELECT customer_id, currency FROM canonical.customers ORDER BY 1") == [
        ("C000001", "USD"),
        ("C000002", "EUR"),
        ("C000003", "USD"),
    ]
    assert query(
        wh, "SELECT _source_system, _source_pk, _operation FROM landing.raw_erp_customers WHERE customer_id = 'C000001'"
    ) == [("erp", "C000001", "insert")]
    assert query(wh, "SELECT location_id, wms_site_code, geofence_id FROM canonical.locations ORDER BY 1") == [
        ("CS-000001-01", None, "GF-CS-000001-01"),
        ("WH-ATL", "ATL", "GF-WH-ATL"),
    ]
    assert all(e.passed for e in result.get_asset_check_evaluations())


def test_rerun_without_source_change_writes_nothing(sources):
    assert sync().success
    wh = sources["warehouse"]
    before = query(wh, "SELECT customer_id, xmin::text, _captured_at FROM landing.raw_erp_customers ORDER BY 1")
    canonical_before = query(wh, "SELECT contract_id, xmin::text FROM canonical.contracts ORDER BY 1")
    result = sync()
    assert result.success
    for asset in ("raw_erp_customers", "raw_erp_contracts", "raw_wms_sites", "customers", "locations", "contracts"):
        assert counts(result, asset) == (0, 0, 0), asset
    assert query(wh, "SELECT customer_id, xmin::text, _captured_at FROM landing.raw_erp_customers ORDER BY 1") == before
    assert query(wh, "SELECT contract_id, xmin::text FROM canonical.contracts ORDER BY 1") == canonical_before


def test_inserts_updates_and_hard_deletes_are_seen(sources):
    assert sync().success
    run_sql(
        sources["erp"],
        """
        INSERT INTO customers VALUES ('C000004', 'Delta Parts', 'CAD', 60, true, '2026-02-01T00:00Z');
        UPDATE customers SET payment_terms_days = 60, updated_at = '2026-02-01T00:00Z' WHERE customer_id = 'C000002';
        DELETE FROM customers WHERE customer_id = 'C000001';
        """,
    )
    result = sync()
    assert result.success
    assert counts(result, "raw_erp_customers") == (1, 1, 1)
    assert counts(result, "customers") == (1, 1, 1)
    wh = sources["warehouse"]
    assert query(wh, "SELECT _operation FROM landing.raw_erp_customers WHERE customer_id = 'C000001'") == [("delete",)]
    assert query(wh, "SELECT customer_id FROM canonical.customers ORDER BY 1") == [
        ("C000002",),
        ("C000003",),
        ("C000004",),
    ]
    assert query(wh, "SELECT payment_terms_days FROM canonical.customers WHERE customer_id = 'C000002'") == [(60,)]

    # The deleted customer comes back: its tombstone turns live again.
    run_sql(sources["erp"], "INSERT INTO customers VALUES ('C000001', 'Acme', 'USD', 30, true, '2026-03-01T00:00Z')")
    result = sync()
    assert counts(result, "raw_erp_customers") == (0, 1, 0)
    assert query(wh, "SELECT _operation FROM landing.raw_erp_customers WHERE customer_id = 'C000001'") == [("insert",)]


def test_price_correction_that_skips_updated_at_is_caught(sources):
    assert sync().success
    run_sql(sources["erp"], "UPDATE contracts SET rate_per_km = 1.3500 WHERE contract_id = 'K-0002'")
    result = sync()
    assert counts(result, "raw_erp_contracts") == (0, 1, 0)
    assert query(sources["warehouse"], "SELECT rate_per_km FROM canonical.contracts WHERE contract_id = 'K-0002'") == [
        (Decimal("1.3500"),)
    ]


def test_failed_checks_name_the_offending_ids(sources):
    run_sql(
        sources["erp"],
        """
        UPDATE customers SET currency = 'XXX' WHERE customer_id = 'C000002';
        UPDATE contracts SET valid_to = NULL WHERE contract_id = 'K-0001';
        """,
    )
    result = sync()
    evaluations = {e.check_name + "@" + e.asset_key.path[-1]: e for e in result.get_asset_check_evaluations()}
    gx = evaluations["gx_suite@customers"]
    assert not gx.passed
    assert "C000002" in gx.metadata["offending_ids"].value
    overlap = evaluations["one_contract_per_customer_per_day@contracts"]
    assert not overlap.passed
    assert overlap.metadata["offending_ids"].value == "K-0001, K-0002"


def test_schema_drift_stops_the_table_with_its_name(sources):
    run_sql(sources["erp"], "ALTER TABLE items RENAME COLUMN uom TO unit_of_measure")
    result = sync()
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "erp_landing"
    assert "erp.items.uom: column missing in the source" in str(failure.step_failure_data.error)
    # Nothing downstream of the drifted table ran.
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert "items" not in materialized
    assert "raw_wms_sites" in materialized


def gx_evaluation(result: dg.ExecuteInProcessResult, asset: str):
    [evaluation] = [e for e in result.get_asset_check_evaluations() if (e.check_name, e.asset_key.path[-1]) == ("gx_suite", asset)]
    return evaluation


def test_a_suite_is_not_run_again_on_a_table_unchanged_since_it_passed(sources):
    first = sync()
    assert "unchanged_since_run" not in gx_evaluation(first, "customers").metadata
    second = sync()
    unchanged = gx_evaluation(second, "customers")
    assert unchanged.passed and unchanged.metadata["unchanged_since_run"].value == first.run_id
    # A changed table is validated again; one that failed is validated every time.
    run_sql(sources["erp"], "UPDATE customers SET currency = 'XXX', updated_at = '2026-02-01T00:00Z' WHERE customer_id = 'C000002'")
    assert not gx_evaluation(sync(), "customers").passed
    again = gx_evaluation(sync(), "customers")
    assert not again.passed and "unchanged_since_run" not in again.metadata
    assert "C000002" in again.metadata["offending_ids"].value
