"""`tick`: one more hour of live activity after the simulated clock, written the way live systems write.

Everything comes from the data, so any process can tick: the clock (clock.read_clock), the next
ids (ids.read_last_numbers), the master data (world.read_world) and the orders still in flight,
whose lives are recomputed (lifecycle.plan_order is a pure function of an order) and cut to the
new hour (changes.py). A tick's own choices come from a Random seeded by the clock and the newest
order number, so the same data always ticks the same way.

On top of the lives of in-flight and new orders, each tick does what the landscape's defects and
habits need to be exercised:
* hard-deletes a line of an OPEN order (when one has two lines or more);
* hard-deletes WMS exceptions resolved more than 7 days before the new clock;
* corrects one current contract's `rate_per_km` without touching `updated_at` (the ERP defect),
  and the billing engine re-rates that contract's delivered shipments (old BASE/FUEL lines VOID,
  new RATED ones) — only a contract whose shipments are all rated correctly, so no planted
  anomaly is mended or hidden;
* inserts its WMS movements from two connections that commit out of order: the later ids commit
  first, and `progress` is called while the gap is visible;
* applies its movements to the ERP balances as deltas (planted drifts keep their size).

A tick plants nothing: its summary's `planted` lists are empty, and the build's set stays the
only violations. A tick interrupted between its commits (ERP last, since it carries the clock)
can leave rows that a retry writes again.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from random import Random

from . import edi
from . import ids as idf
from .anomalies import StuckShipments, no_anomalies
from .changes import MUTABLE_TABLES, Changes
from .clock import DAY, TICK_SECONDS, LocalTime, read_clock, seconds, utc, utc_date
from .ids import Counters, EntityIds, normalize_ref, order_ref, read_last_numbers
from .inventory import StockLedger
from .lifecycle import MAX_LIFE, plan_order, purge_moment
from .loader import close_connections, copy_rows, delete_keys, merge_rows, open_connections
from .orders import Order, OrderDesk, entry_times
from .rating import base_amount, fuel_amount, has_half_cent
from .schema import all_tables, table
from .summary import SandboxSummary
from .telematics import IngestSeq
from .world import World, read_world

_FOUR = Decimal("0.0001")
_THOUSANDTH = Decimal("0.001")


@dataclass
class InFlight:
    """What the databases say about orders whose lives are not over."""

    orders: list[Order] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)
    existing: dict = field(default_factory=lambda: defaultdict(list))
    distances: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    delivered: set[str] = field(default_factory=set)


def tick(engines: Mapping, *, edi_inbox: Path, progress: Callable[[str], None] = print) -> SandboxSummary:
    """Simulate the hour after the clock in the four databases (see the module docs)."""
    started = time.perf_counter()
    raw, conn = open_connections(engines)
    try:
        clock = read_clock(conn["erp"])
        end = clock + TICK_SECONDS
        world = read_world(conn)
        counters = Counters(read_last_numbers(conn))
        newest = conn["erp"].execute("SELECT max(order_id) FROM sales_orders").fetchone()[0]
        rng = Random(f"tick/{clock}/{newest}")
        flight = read_in_flight(conn, clock)
        changes = Changes(clock, end, IngestSeq(clock + 1, end))
        writes: dict[str, int] = defaultdict(int)

        corrected = correct_contract(conn, world, rng, counters, clock + 1, writes)
        deleted_line = delete_open_line(flight, rng, changes)
        ids = EntityIds(counters, clock, end, flight.existing)
        planter = StuckShipments(clock, flight.delivered)
        for order in flight.orders:
            plan_order(order, world, changes, ids, planter=planter,
                       known_distances=tuple(flight.distances[order.order_id]))
        desk = OrderDesk(world)
        first_number = idf.order_number(newest) + 1
        for number, created in enumerate(entry_times(rng, new_order_count(conn["erp"], rng, clock), clock, end),
                                         start=first_number):
            plan_order(desk.take(rng, number, created), world, changes, ids)
        purge = purge_exceptions(conn["wms"], end)
        changes.deleted["wms_exceptions"].extend((exception_id,) for exception_id in purge)
        ledger = StockLedger(world, Random(f"stock/{clock}"), read_on_hand(conn["wms"]))
        ledger.settle(changes, 2 + int(rng.random() * 3), (clock, end))

        # ERP last: its newest order change is what the next tick reads the clock from.
        for system in ("fleet", "billing", "wms", "erp"):
            _write_slice(conn[system], system, changes, writes)
            if system == "wms":
                conn["wms"].commit()
                _write_movements_out_of_order(conn["wms"], engines["wms"], ledger, changes, writes, progress)
            elif system == "erp":
                writes["erp.inventory_balances"] += merge_rows(conn["erp"], "inventory_balances", ledger.erp_deltas(),
                                                               add=("qty_on_hand",))
            conn[system].commit()
        edi_inbox.mkdir(parents=True, exist_ok=True)
        names = edi.write_batches(edi_inbox, changes.edi, lambda _: f"{utc(end):%Y%m%dT%H%M}", lambda _: end)
        counts = {t.qualified: conn[t.system].execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]
                  for t in all_tables()}
    finally:
        for connection in conn.values():
            connection.rollback()
        close_connections(raw)
    progress(f"sandbox: tick to {utc(end):%Y-%m-%d %H:%M} UTC · {len(flight.orders):,} orders in flight · "
             f"{sum(writes.values()):,} rows written · contract {corrected or '(none)'} corrected · "
             f"line {deleted_line or '(none)'} deleted · {len(purge)} resolved exceptions purged")
    return SandboxSummary(counts=counts, elapsed=round(time.perf_counter() - started, 3), as_of=utc(end),
                          planted=no_anomalies(), changes=dict(writes), edi_files=names)


def read_in_flight(conn, clock: int) -> InFlight:
    """Orders not yet CLOSED or CANCELLED (entered within MAX_LIFE), their lines, and the ids and
    routes their entities already have."""
    since = utc(clock - MAX_LIFE)
    flight = InFlight()
    rows = conn["erp"].execute(
        "SELECT order_id, customer_id, ship_from, ship_to, requested_delivery, created_at, status FROM sales_orders "
        "WHERE status IN ('OPEN', 'RELEASED', 'SHIPPED') AND created_at > %s ORDER BY order_id", (since,)).fetchall()
    if not rows:
        return flight
    first = rows[0][0]
    lines = defaultdict(list)
    for order_id, line_no, sku, quantity in conn["erp"].execute(
            "SELECT order_id, line_no, sku, quantity FROM order_lines WHERE order_id >= %s ORDER BY order_id, line_no",
            (first,)):
        lines[order_id].append((line_no, sku, quantity))
    for order_id, customer_id, ship_from, ship_to, requested, created, status in rows:
        flight.orders.append(Order(order_id, customer_id, ship_from, ship_to, requested, seconds(created),
                                   lines[order_id]))
        flight.statuses[order_id] = status
    wanted = set(flight.statuses)
    first_ref = order_ref(first)
    for family, query in ((idf.LOAD, "SELECT load_id, ext_order_ref FROM loads WHERE ext_order_ref >= %s "
                                     "ORDER BY length(load_id), load_id"),
                          (idf.EXCEPTION, "SELECT exception_id, ext_order_ref FROM wms_exceptions "
                                          "WHERE ext_order_ref >= %s ORDER BY exception_id")):
        for entity_id, ref in conn["wms"].execute(query, (first_ref,)):
            if normalize_ref(ref) in wanted:
                flight.existing[(family, normalize_ref(ref))].append(entity_id)
    for dispatch_id, ref, distance in conn["fleet"].execute(
            "SELECT dispatch_id, shipment_ref, distance_km FROM dispatches WHERE updated_at > %s "
            "ORDER BY length(dispatch_id), dispatch_id", (since,)):
        order_id = normalize_ref(ref)
        if order_id in wanted:
            flight.existing[(idf.DISPATCH, order_id)].append(dispatch_id)
            flight.distances[order_id].append(distance)
    for (ref,) in conn["fleet"].execute(
            "SELECT d.shipment_ref FROM proof_of_delivery p JOIN dispatches d USING (dispatch_id) "
            "WHERE p.updated_at > %s", (since,)):
        flight.delivered.add(normalize_ref(ref))
    for dispute_id, ref in conn["billing"].execute(
            "SELECT dispute_id, shipment_ref FROM disputes WHERE opened_at > %s ORDER BY dispute_id", (since,)):
        if ref in wanted:
            flight.existing[(idf.DISPUTE, ref)].append(dispute_id)
    return flight


def new_order_count(erp, rng: Random, clock: int) -> int:
    """About as many orders as an average hour of the last week brought (at least one)."""
    week = erp.execute("SELECT count(*) FROM sales_orders WHERE created_at > %s", (utc(clock - 7 * DAY),)).fetchone()[0]
    return max(1, round(week / (7 * 24) * (0.6 + 0.8 * rng.random())))


def delete_open_line(flight: InFlight, rng: Random, changes: Changes) -> str | None:
    """Hard-delete one line of an OPEN order that has several; its life continues without it."""
    candidates = [o for o in flight.orders if flight.statuses[o.order_id] == "OPEN" and len(o.lines) > 1]
    if not candidates:
        return None
    order = candidates[int(rng.random() * len(candidates))]
    line = order.lines.pop(int(rng.random() * len(order.lines)))
    changes.deleted["order_lines"].append((order.order_id, line[0]))
    return f"{order.order_id}/{line[0]}"


def purge_exceptions(wms, end: int) -> list[int]:
    """Resolved WMS exceptions whose 7 days after resolution are over by `end`."""
    zones: dict[str, LocalTime] = {}
    purged = []
    for exception_id, ref, code, sku, occurred, zone in wms.execute(
            "SELECT e.exception_id, e.ext_order_ref, e.code, e.sku, e.occurred_at, s.timezone FROM wms_exceptions e "
            "JOIN loads l ON l.ext_order_ref = e.ext_order_ref JOIN sites s ON s.site_code = l.site_code "
            "WHERE e.resolved ORDER BY e.exception_id"):
        local = zones.setdefault(zone, LocalTime(zone))
        if purge_moment(local.to_utc(occurred), ref, code, sku) <= end:
            purged.append(exception_id)
    return purged


def read_on_hand(wms) -> dict:
    return {(sku, site): qty for sku, site, qty in wms.execute(
        "SELECT sku, site_code, sum(qty) FROM inventory_movements GROUP BY 1, 2")}


def correct_contract(conn, world: World, rng: Random, counters: Counters, moment: int, writes) -> str | None:
    """The ERP's price-correction job: a new rate_per_km on a current contract, updated_at untouched.

    The billing engine then re-rates the contract's delivered shipments. Only a contract whose
    delivered shipments carry exactly one correctly rated BASE and FUEL line each is corrected, so
    a planted anomaly is never re-rated away.
    """
    day = utc_date(moment)
    candidates = [c for c in world.contracts if c.covers(day)]
    rng.shuffle(candidates)
    for contract in candidates[:10]:
        shipments = _delivered_under(conn, contract)
        lines = _base_and_fuel(conn["billing"], [s[0] for s in shipments if s[2] is not None])
        if not all(_rated_as_expected(contract, distance, lines.get(order_id, ()))
                   for order_id, distance, signed in shipments if signed is not None):
            continue
        distances = [distance for _, distance, _ in shipments]
        for _ in range(20):
            rate = (contract.rate_per_km * Decimal(f"{1 + rng.choice((-1, 1)) * (0.02 + 0.06 * rng.random()):.4f}")
                    ).quantize(_FOUR)
            corrected = replace(contract, rate_per_km=rate)
            if not any(has_half_cent(corrected, d) for d in distances):
                break
        else:
            continue
        conn["erp"].execute("UPDATE contracts SET rate_per_km = %s WHERE contract_id = %s",
                            (rate, contract.contract_id))
        writes["erp.contracts"] += 1
        world.replace_contract(corrected)
        _rerate(conn["billing"], corrected, shipments, lines, counters, moment, writes)
        return contract.contract_id
    return None


def _delivered_under(conn, contract) -> list[tuple[str, Decimal, int | None]]:
    """(order id, distance of its latest live dispatch, POD signed moment or None) of the customer's
    dispatched shipments whose POD falls under the contract, or that have no POD yet."""
    orders = [r[0] for r in conn["erp"].execute("SELECT order_id FROM sales_orders WHERE customer_id = %s",
                                                (contract.customer_id,))]
    if not orders:
        return []
    latest = {}
    for ref, distance, signed in conn["fleet"].execute(
            "SELECT d.shipment_ref, d.distance_km, p.signed_at FROM dispatches d "
            "LEFT JOIN proof_of_delivery p USING (dispatch_id) "
            "WHERE d.status <> 'CANCELLED' AND upper(replace(btrim(d.shipment_ref), '-', '')) = ANY(%s) "
            "ORDER BY length(d.dispatch_id), d.dispatch_id", ([o.replace("-", "") for o in orders],)):
        latest[normalize_ref(ref)] = (distance, None if signed is None else seconds(signed))
    return [(order_id, distance, signed) for order_id, (distance, signed) in sorted(latest.items())
            if signed is None or contract.covers(utc_date(signed))]


def _base_and_fuel(billing, order_ids: list[str]) -> dict[str, list[tuple]]:
    lines = defaultdict(list)
    for row in billing.execute(
            "SELECT shipment_ref, charge_id, charge_code, quantity, amount, currency FROM charge_lines "
            "WHERE shipment_ref = ANY(%s) AND status = 'RATED' AND charge_code IN ('BASE', 'FUEL') "
            "ORDER BY charge_id", (order_ids,)):
        lines[row[0]].append(row[1:])
    return lines


def _rated_as_expected(contract, distance: Decimal, lines) -> bool:
    base = base_amount(contract, distance)
    expected = {"BASE": base, "FUEL": fuel_amount(contract, base)}
    return (sorted(code for _, code, *_ in lines) == ["BASE", "FUEL"]
            and all(amount == expected[code] and currency == contract.currency
                    for _, code, _, amount, currency in lines))


def _rerate(billing, contract, shipments, lines, counters: Counters, moment: int, writes) -> None:
    void, rated = [], []
    for order_id, distance, signed in shipments:
        if signed is None:
            continue
        void += [charge_id for charge_id, *_ in lines[order_id]]
        base = base_amount(contract, distance)
        for code, quantity, amount in (("BASE", distance.quantize(_THOUSANDTH), base),
                                       ("FUEL", Decimal("1.000"), fuel_amount(contract, base))):
            rated.append((counters.take(idf.CHARGE), order_id, code, quantity, amount, contract.currency, "RATED",
                          moment, moment))
    if void:
        billing.execute("UPDATE charge_lines SET status = 'VOID', updated_at = %s WHERE charge_id = ANY(%s)",
                        (utc(moment), void))
    writes["billing.charge_lines"] += len(void) + copy_rows(billing, table("charge_lines"), rated)


def _write_slice(connection, system: str, changes: Changes, writes) -> None:
    """A system's new and changed rows (merged on the key where rows change, else copied) and its deletes."""
    for name, rows in changes.rows.items():
        target = table(name)
        if target.system != system:
            continue
        if name in MUTABLE_TABLES:
            writes[target.qualified] += merge_rows(connection, name, rows)
        else:
            writes[target.qualified] += copy_rows(connection, target, rows)
    for name, keys in changes.deleted.items():
        writes[table(name).qualified] += delete_keys(connection, name, keys) if table(name).system == system else 0
    if system == "fleet":
        writes["fleet.telematics_events"] += copy_rows(connection, table("telematics_events"), changes.events)


def _write_movements_out_of_order(wms, engine, ledger: StockLedger, changes: Changes, writes, progress) -> None:
    """The tick's WMS movements from two connections: the later ids commit first (`progress` is
    called while the earlier ones are still invisible), then the earlier ones."""
    movements = list(ledger.movement_rows(changes))
    half = len(movements) // 2
    target = table("inventory_movements")
    other_raw = engine.raw_connection()
    try:
        other = other_raw.driver_connection
        copy_rows(wms, target, movements[:half])
        last_early = wms.execute(
            "SELECT currval(pg_get_serial_sequence('inventory_movements', 'movement_id'))").fetchone()[0]
        copy_rows(other, target, movements[half:])
        other.commit()
        progress(f"sandbox: wms movements {last_early + 1}-{last_early + len(movements) - half} committed "
                 f"before {last_early - half + 1}-{last_early} (out of order)")
        wms.commit()
    finally:
        other_raw.close()
    writes["wms.inventory_movements"] += len(movements)
