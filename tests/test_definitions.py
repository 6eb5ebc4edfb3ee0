"""The whole code location loads, and every asset says what it is (group, kind, description, owner)."""

from datetime import UTC, datetime

import dagster as dg

from sync_assets.definitions import defs


def test_definitions_load():
    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("master_data_sync") is not None


def test_every_asset_is_grouped_described_and_owned():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name != "default", key
        assert node.description, key
        assert node.owners, key
        assert "postgres" in node.kinds, key


def test_money_protecting_checks_block():
    checks = {(c.asset_key.path[-1], c.name): c for c in defs.resolve_asset_graph().asset_check_keys}
    specs = {
        (spec.asset_key.path[-1], spec.name): spec
        for definition in [*defs.asset_checks, *defs.assets]
        for spec in definition.check_specs
    }
    assert set(checks) == set(specs)
    for blocking in [
        ("contracts", "gx_suite"), ("contracts", "one_contract_per_customer_per_day"), ("charges", "gx_suite"),
        ("shipment_milestones", "gx_suite"), ("expected_charges", "one_contract_per_delivery"),
        ("invoice_readiness", "ready_shipments_are_billable"),
        ("raw_fleet_geofences", "fleet_freshness"), ("raw_billing_charge_lines", "billing_freshness"),
    ]:
        assert specs[blocking].blocking, blocking
    assert not specs[("raw_erp_customers", "erp_freshness")].blocking  # standard SLA: reported, not blocking
    assert not specs[("shipment_milestones", "milestones_in_order")].blocking  # clocks disagree; no money rule
    assert {asset for asset, _ in specs} >= {
        "customers", "items", "locations", "contracts",
        "shipments", "shipment_milestones", "charges", "inventory_positions", "expected_charges", "invoice_readiness",
    }


def test_nightly_job_is_daily_partitioned_and_scheduled_at_two_utc():
    job = defs.resolve_job_def("nightly_reconciliation")
    assert isinstance(job.partitions_def, dg.DailyPartitionsDefinition)
    assert job.partitions_def.timezone == "UTC"
    schedule = defs.resolve_schedule_def("nightly_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "UTC")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 2, 2, 0, tzinfo=UTC),
                                        repository_def=defs.get_repository_def())
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-11-01"
