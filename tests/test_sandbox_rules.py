"""The sandbox's promise, re-derived from LANDSCAPE §5 independently: planted anomalies are the only violations."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from conftest import connections

from sync_assets.sandbox import build, tick

CENT = Decimal("0.01")
_REF = re.compile(r"SO-?(\d+)")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def normalize(ref: str) -> str:
    ref = ref.strip().upper()
    match = _REF.fullmatch(ref)
    return f"SO-{match.group(1)}" if match else ref


def edi_references(inbox: Path) -> list[tuple[str, str]]:
    """(file name, shipment reference) of every 214 (B10-02) and 210 (B3-03) in well-formed files."""
    found = []
    for path in sorted(inbox.iterdir()):
        text = path.read_text()
        if not text.startswith("ISA") or len(text) < 106:
            continue
        separator, terminator = text[3], text[105]
        for segment in text.split(terminator):
            elements = segment.strip().split(separator)
            if elements[0] == "B10":
                found.append((path.name, elements[2]))
            elif elements[0] == "B3":
                found.append((path.name, elements[3]))
    return found


def violations(conn: dict, inbox: Path, as_of, *, refused_is_pod: bool) -> dict[str, set[str]]:
    """Every LANDSCAPE §5 exception key the data raises at `as_of`, computed from scratch."""
    erp, wms, fleet, billing = conn["erp"], conn["wms"], conn["fleet"], conn["billing"]
    found = defaultdict(set)
    orders = dict(erp.execute("SELECT order_id, customer_id FROM sales_orders").fetchall())
    ship_to = dict(erp.execute("SELECT order_id, ship_to FROM sales_orders").fetchall())
    contracts = defaultdict(list)
    for row in erp.execute("SELECT customer_id, valid_from, valid_to, currency, rate_per_km, min_charge, "
                           "fuel_surcharge_pct, detention_free_minutes, detention_rate_per_hour, accessorial_rates "
                           "FROM contracts"):
        contracts[row[0]].append(row[1:])

    # ORPHAN_RECORD
    for load_id, ref in wms.execute("SELECT load_id, ext_order_ref FROM loads"):
        if normalize(ref) not in orders:
            found["ORPHAN_RECORD"].add(f"wms:loads:{load_id}")
    dispatches = defaultdict(list)
    for dispatch_id, ref, km, status in fleet.execute(
            "SELECT dispatch_id, shipment_ref, distance_km, status FROM dispatches ORDER BY dispatch_id"):
        if normalize(ref) not in orders:
            found["ORPHAN_RECORD"].add(f"fleet:dispatches:{dispatch_id}")
        dispatches[normalize(ref)].append((dispatch_id, km, status))
    lines = defaultdict(list)
    for charge_id, ref, code, qty, amount, currency, status in billing.execute(
            "SELECT charge_id, shipment_ref, charge_code, quantity, amount, currency, status FROM charge_lines "
            "ORDER BY charge_id"):
        if normalize(ref) not in orders:
            found["ORPHAN_RECORD"].add(f"billing:charge_lines:{charge_id}")
        elif status == "RATED":
            lines[normalize(ref)].append((code, qty, amount, currency))
    for name, ref in edi_references(inbox):
        if normalize(ref) not in orders:
            found["ORPHAN_RECORD"].add(f"edi:{name}:{ref}")

    # INVENTORY_MISMATCH
    location = dict(wms.execute("SELECT site_code, erp_location_id FROM sites").fetchall())
    ledger = {(sku, location[site]): qty for sku, site, qty in wms.execute(
        "SELECT upper(sku), site_code, sum(qty) FROM inventory_movements GROUP BY 1, 2")}
    balances = {(sku, loc): qty for sku, loc, qty in erp.execute(
        "SELECT sku, location_id, qty_on_hand FROM inventory_balances")}
    for key in ledger.keys() | balances.keys():
        if ledger.get(key, 0) != balances.get(key, 0):
            found["INVENTORY_MISMATCH"].add(f"{key[0]}@{key[1]}")

    # Shipments: POD, ARRIVED, dwell.
    geofence = dict(fleet.execute("SELECT location_ref, geofence_id FROM geofences WHERE location_ref IS NOT NULL"))
    shipment_of = {d[0]: ref for ref, ds in dispatches.items() for d in ds}
    pods = {}
    for dispatch_id, signed, code in fleet.execute(
            "SELECT dispatch_id, signed_at, exception_code FROM proof_of_delivery"):
        if refused_is_pod or code != "REFUSED":
            pods[shipment_of[dispatch_id]] = signed
    visits = defaultdict(list)
    for dispatch_id, kind, geofence_id, occurred in fleet.execute(
            "SELECT DISTINCT ON (event_uid) dispatch_id, event_type, geofence_id, occurred_at FROM telematics_events "
            "WHERE event_type IN ('GEOFENCE_ENTER', 'GEOFENCE_EXIT') ORDER BY event_uid, seq"):
        shipment = shipment_of.get(dispatch_id)
        if shipment in ship_to and geofence.get(ship_to[shipment]) == geofence_id:
            visits[shipment].append((occurred, kind))

    for order_id, customer_id in orders.items():
        enters = sorted(t for t, kind in visits[order_id] if kind == "GEOFENCE_ENTER")
        arrived = enters[0] if enters else None
        exits = sorted(t for t, kind in visits[order_id] if kind == "GEOFENCE_EXIT" and arrived and t > arrived)
        signed = pods.get(order_id)
        rated = lines[order_id]
        for code in ("BASE", "FUEL"):
            if sum(1 for line in rated if line[0] == code) > 1:
                found["DUPLICATE_CHARGE"].add(order_id)
        if signed is None:
            if arrived and arrived < as_of - timedelta(hours=24):
                found["MISSING_POD"].add(order_id)
            continue
        day = signed.astimezone(as_of.tzinfo).date()
        (currency, rate, minimum, pct, free, per_hour, accessorials), = [
            c[2:] for c in contracts[customer_id] if c[0] <= day and (c[1] is None or day <= c[1])]
        live = [d for d in dispatches[order_id] if d[2] != "CANCELLED"]
        base = cents(max(minimum, rate * live[-1][1]))
        expected = {"BASE": base, "FUEL": cents(base * pct / 100), "DET": Decimal(0)}
        if arrived and exits:
            excess = max(0, (exits[0] - arrived).total_seconds() - free * 60)
            expected["DET"] = cents(Decimal(int(excess)) / 3600 * per_hour)
        totals, accessorial_expected = defaultdict(Decimal), defaultdict(Decimal)
        for code, qty, amount, line_currency in rated:
            totals[code] += amount
            if code in ("LIFT", "INSD", "RESI"):
                rate_of = accessorials.get(code)
                accessorial_expected[code] += cents(qty * Decimal(str(rate_of))) if rate_of is not None else 0
            if line_currency != currency:
                found["CURRENCY_MISMATCH"].add(order_id)
        expected.update(accessorial_expected)
        if "BASE" not in totals:
            found["UNBILLED_DELIVERY"].add(order_id)
        if expected["DET"] > 0 and totals.get("DET", Decimal(0)) < expected["DET"] - CENT:
            found["DETENTION_NOT_BILLED"].add(order_id)
        for code, total in totals.items():
            if code == "DET" and total < expected["DET"]:
                continue
            if abs(total - expected[code]) > CENT:
                found["RATE_MISMATCH"].add(f"{order_id}:{code}")
    return found


def assert_only_planted(conn, inbox, as_of, planted) -> None:
    for refused_is_pod in (True, False):
        found = violations(conn, inbox, as_of, refused_is_pod=refused_is_pod)
        for kind, keys in planted.items():
            assert found.get(kind, set()) == set(keys), (kind, refused_is_pod)
        assert set(found) <= set(planted)


def test_after_build_only_the_planted_anomalies_violate_the_rules(built_landscape):
    with connections(built_landscape.urls) as conn:
        assert_only_planted(conn, built_landscape.inbox, built_landscape.summary.as_of, built_landscape.summary.planted)


@pytest.mark.parametrize("seed", [3, 8])
def test_after_ticks_still_only_the_planted_anomalies(fresh_landscape, seed):
    planted = build(fresh_landscape.engines, seed=seed, orders=1200, edi_inbox=fresh_landscape.inbox,
                    progress=lambda _: None).planted
    with connections(fresh_landscape.urls) as conn:
        for _ in range(4):
            summary = tick(fresh_landscape.engines, edi_inbox=fresh_landscape.inbox, progress=lambda _: None)
            assert not any(summary.planted.values())
            assert_only_planted(conn, fresh_landscape.inbox, summary.as_of, planted)


def test_a_build_in_parallel_batches_is_as_exact(monkeypatch, fresh_landscape):
    from sync_assets.sandbox import builder

    monkeypatch.setattr(builder, "BATCH_ORDERS", 250)
    summary = build(fresh_landscape.engines, seed=21, orders=1000, edi_inbox=fresh_landscape.inbox,
                    progress=lambda _: None)
    with connections(fresh_landscape.urls) as conn:
        assert_only_planted(conn, fresh_landscape.inbox, summary.as_of, summary.planted)
