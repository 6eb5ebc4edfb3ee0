"""The whole code location loads, and every asset says what it is (group, kind, description, owner)."""

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
        for checks_def in defs.asset_checks
        for spec in checks_def.check_specs
    }
    assert set(checks) == set(specs)
    assert specs[("contracts", "gx_suite")].blocking
    assert specs[("contracts", "one_contract_per_customer_per_day")].blocking
    assert specs[("charges", "gx_suite")].blocking
    assert specs[("shipment_milestones", "milestones_in_order")].blocking
    assert {asset for asset, _ in specs} == {
        "customers", "items", "locations", "contracts",
        "shipments", "shipment_milestones", "charges", "inventory_positions",
    }
