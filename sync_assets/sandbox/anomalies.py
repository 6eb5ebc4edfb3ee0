"""The anomalies the sandbox plants on purpose, by LANDSCAPE §5 exception type, and their keys.

They must be the *only* rule violations in the data, so each is planted on an order whose life
is over by the end of the build (nothing later can mend or worsen it) and spoils exactly one
thing. Keys are LANDSCAPE's: a shipment id, `SO-...:CODE` for RATE_MISMATCH, `SKU@LOCATION` for
INVENTORY_MISMATCH, `system:table:id` or `edi:<file>:<ref>` for ORPHAN_RECORD.

What each one looks like:
* UNBILLED_DELIVERY: a delivered shipment with no RATED BASE line — no charge lines at all, or
  only the BASE line, VOID. Chosen among shipments whose dwell earned no detention, so nothing
  else is expected of them.
* DETENTION_NOT_BILLED: the DET line is missing, or billed at 30-80 % of the expected amount.
* RATE_MISMATCH: one code's RATED amount is off by 4-20 % (at least 1.00): BASE, FUEL, an
  accessorial, or DET billed *above* expected.
* DUPLICATE_CHARGE: the RATED BASE (or FUEL) line is written twice. Its total is then off too, so
  the same shipment is also planted as RATE_MISMATCH `SO-...:BASE` (or `:FUEL`), as §5 says.
* CURRENCY_MISMATCH: all RATED lines, or only the FUEL line, carry another currency than the
  contract's (amounts unchanged).
* MISSING_POD: the truck arrived (and left) more than 30 h before the end, and no POD ever comes.
* INVENTORY_MISMATCH: the ERP balance differs from the WMS ledger (count off, ERP row missing
  although the WMS holds stock, or an ERP row for an item the warehouse never stocked).
* ORPHAN_RECORD: a WMS load, a dispatch and a charge line for order numbers below the first one
  the ERP knows (ids.FIRST_ORDER_NUMBER), and one EDI 214 file about such an order.

A tick plants nothing; :class:`StuckShipments` is how it recognises the planted MISSING_PODs.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from random import Random

from . import ids as idf
from .changes import Changes
from .clock import DAY, HOUR, MINUTE, utc
from .edi import StatusMessage, interchange
from .geography import REGION_OF
from .ids import Counters
from .lifecycle import Charge, Delivery, typed_ref
from .rating import to_cents
from .telematics import Trip
from .world import PARTNERS, World

EXCEPTION_TYPES = ("UNBILLED_DELIVERY", "DETENTION_NOT_BILLED", "RATE_MISMATCH", "DUPLICATE_CHARGE",
                   "CURRENCY_MISMATCH", "MISSING_POD", "INVENTORY_MISMATCH", "ORPHAN_RECORD")
CHARGE_ANOMALIES = ("UNBILLED_DELIVERY", "DETENTION_NOT_BILLED", "RATE_MISMATCH", "DUPLICATE_CHARGE",
                    "CURRENCY_MISMATCH")
#: The anomalies planted on single orders while batches are generated.
ORDER_ANOMALIES = (*CHARGE_ANOMALIES, "MISSING_POD")
#: How long before the end a planted MISSING_POD must have arrived (24 h of the rule + a margin).
MISSING_POD_AGE = 30 * HOUR


def handful(orders: int) -> int:
    """How many anomalies of each type: a handful, growing slowly with the order volume."""
    return max(3, round(1.5 * math.log10(max(orders, 10))))


def no_anomalies() -> dict[str, list[str]]:
    return {kind: [] for kind in EXCEPTION_TYPES}


def spread_quotas(rng: Random, quota: int, batches: int, eligible: list[int]) -> list[dict[str, int]]:
    """How many anomalies of each order-level kind each build batch plants, among batches whose
    orders are (mostly) over by the end."""
    quotas = [dict.fromkeys(ORDER_ANOMALIES, 0) for _ in range(batches)]
    for kind in ORDER_ANOMALIES:
        for _ in range(quota):
            quotas[rng.choice(eligible)][kind] += 1
    return quotas


class BuildPlanter:
    """Chooses and spoils one build batch's planted shipments while its orders are generated.

    The odds spread the batch's quotas over about its first half; a quota the batch cannot fill
    (too few eligible orders) is simply planted fewer times — `planted` is what was done.
    """

    def __init__(self, rng: Random, quotas: dict[str, int], orders: int, end: int):
        self.rng = rng
        self.end = end
        self.quotas = quotas
        self.stuck_odds = min(1.0, 2.5 * quotas["MISSING_POD"] / max(orders, 1))
        self.charge_odds = min(1.0, 2.5 * sum(quotas[k] for k in CHARGE_ANOMALIES) / max(orders, 1))
        self.planted = no_anomalies()
        self.spoiled = dict.fromkeys(EXCEPTION_TYPES, 0)

    def _room(self, kind: str) -> bool:
        return self.spoiled[kind] < self.quotas[kind]

    def _plant(self, kind: str, key: str) -> None:
        self.spoiled[kind] += 1
        self.planted[kind].append(key)

    def stuck(self, order, trip: Trip, enter_received: int) -> bool:
        latest = self.end - MISSING_POD_AGE
        if not self._room("MISSING_POD") or trip.arrived >= latest or enter_received >= latest:
            return False
        if self.rng.random() >= self.stuck_odds:
            return False
        self._plant("MISSING_POD", order.order_id)
        return True

    def charges(self, delivery: Delivery, charges: list[Charge]) -> list[Charge]:
        if delivery.closed > self.end or delivery.refused or self.rng.random() >= self.charge_odds:
            return charges
        fits = {"UNBILLED_DELIVERY": not delivery.detention, "DETENTION_NOT_BILLED": bool(delivery.detention)}
        kinds = [k for k in CHARGE_ANOMALIES if self._room(k) and fits.get(k, True)]
        if not kinds:
            return charges
        kind = min(kinds, key=self.spoiled.__getitem__)
        spoil = {"UNBILLED_DELIVERY": self._unbilled, "DETENTION_NOT_BILLED": self._detention_not_billed,
                 "RATE_MISMATCH": self._rate_mismatch, "DUPLICATE_CHARGE": self._duplicate,
                 "CURRENCY_MISMATCH": self._other_currency}[kind]
        return spoil(delivery, charges, [c for c in charges if c.status == "RATED"])

    def _unbilled(self, delivery: Delivery, charges: list[Charge], rated: list[Charge]) -> list[Charge]:
        """No lines at all, or only the BASE line, VOID."""
        self._plant("UNBILLED_DELIVERY", delivery.order.order_id)
        base = next(c for c in rated if c.code == "BASE")
        base.status = "VOID"
        return [base] if self.rng.random() < 0.3 else []

    def _detention_not_billed(self, delivery: Delivery, charges: list[Charge], rated: list[Charge]) -> list[Charge]:
        """The DET line dropped, or billed at 30-80 % (when that leaves a visible shortfall)."""
        self._plant("DETENTION_NOT_BILLED", delivery.order.order_id)
        det = next(c for c in rated if c.code == "DET")
        if det.amount < 1 or self.rng.random() < 0.7:
            return [c for c in charges if c is not det]
        det.amount = to_cents(det.amount * Decimal(f"{0.3 + 0.5 * self.rng.random():.2f}"))
        return charges

    def _rate_mismatch(self, delivery: Delivery, charges: list[Charge], rated: list[Charge]) -> list[Charge]:
        """One line off by 4-20 % (at least 1.00); DET only upwards (below expected is DETENTION_NOT_BILLED)."""
        weights = {"BASE": 4, "FUEL": 2.5, "DET": 1.5}
        line = self.rng.choices(rated, [weights.get(c.code, 2) for c in rated])[0]
        delta = max(to_cents(line.amount * Decimal(f"{0.04 + 0.16 * self.rng.random():.3f}")), Decimal("1.00"))
        line.amount += delta if line.code == "DET" or self.rng.random() < 0.5 else -min(delta, line.amount - 1)
        self._plant("RATE_MISMATCH", f"{delivery.order.order_id}:{line.code}")
        return charges

    def _duplicate(self, delivery: Delivery, charges: list[Charge], rated: list[Charge]) -> list[Charge]:
        """The BASE (or FUEL) line written twice; its total is then off too, so also a RATE_MISMATCH."""
        code = "BASE" if self.rng.random() < 0.7 else "FUEL"
        line = next(c for c in rated if c.code == code)
        self._plant("DUPLICATE_CHARGE", delivery.order.order_id)
        self.planted["RATE_MISMATCH"].append(f"{delivery.order.order_id}:{code}")
        return [*charges, replace(line)]

    def _other_currency(self, delivery: Delivery, charges: list[Charge], rated: list[Charge]) -> list[Charge]:
        """All RATED lines, or only FUEL, in another currency than the contract's (amounts unchanged)."""
        other = "CAD" if delivery.contract.currency == "USD" else "USD"
        only_fuel = self.rng.random() < 0.5
        for line in rated:
            if not only_fuel or line.code == "FUEL":
                line.currency = other
        self._plant("CURRENCY_MISMATCH", delivery.order.order_id)
        return charges


def plant_drifts(rng: Random, count: int, balances: dict, world: World, end: int) -> list[str]:
    """Spoil `count` ERP balances: one row missing, one for an item the warehouse never stocked,
    the rest counted wrong. Returns the INVENTORY_MISMATCH keys."""
    stocked = sorted(key for key, (qty, _) in balances.items() if qty > 0)
    chosen = rng.sample(stocked, min(count - 1, len(stocked)))
    for number, key in enumerate(chosen):
        if number == 0:
            del balances[key]
        else:
            qty = balances[key][0]
            balances[key][0] = max(0, qty + rng.choice((-1, 1)) * (1 + int(rng.random() * 25)))
            if balances[key][0] == qty:
                balances[key][0] = qty + 7
    site = world.sites[int(rng.random() * len(world.sites))]
    stocked_skus = {i.sku for i in world.stocked[site.site_code]}
    unstocked = [i for i in world.items if i.sku not in stocked_skus]
    item = unstocked[int(rng.random() * len(unstocked))]
    extra = (item.sku, site.location_id)
    balances[extra] = [5 + int(rng.random() * 55), end - 3 * DAY]
    return sorted(f"{sku}@{location}" for sku, location in [*chosen, extra])


def plant_orphans(rng: Random, count: int, changes: Changes, counters: Counters, world: World, start: int,
                  end: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Rows whose shipment reference matches no ERP order, and two odd EDI files.

    Returns the ORPHAN_RECORD keys and the EDI files to write as (name, content); the malformed
    file is the second."""
    per_kind = max(1, (count - 1) // 3)
    numbers = iter(rng.sample(range(1001, idf.FIRST_ORDER_NUMBER), 3 * per_kind + 1))
    moment = lambda: start + int((0.2 + 0.75 * rng.random()) * (end - start))  # noqa: E731
    keys = []
    for _ in range(per_kind):
        at, site = moment(), world.sites[int(rng.random() * len(world.sites))]
        load_id = counters.take(idf.LOAD)
        local = world.local_time[site.site_code]
        changes.add("loads", at, (load_id, idf.order_ref(idf.ORDER.format(next(numbers))), site.site_code,
                                  "D03", "SHIPPED", local(at - HOUR), local(at)))
        keys.append(f"wms:loads:{load_id}")
    for _ in range(per_kind):
        dispatch_id, at = counters.take(idf.DISPATCH), moment()
        changes.add("dispatches", at, (
            dispatch_id, typed_ref(idf.ORDER.format(next(numbers)), rng.random()),
            f"TRK-{1 + int(rng.random() * world.vehicles):04d}", None,
            Decimal(f"{50 + 400 * rng.random():.2f}"), "DELIVERED", at))
        keys.append(f"fleet:dispatches:{dispatch_id}")
    for _ in range(per_kind):
        charge_id, at = counters.take(idf.CHARGE), moment()
        changes.add("charge_lines", at, (
            charge_id, idf.ORDER.format(next(numbers)), "BASE", Decimal("312.000"),
            Decimal(f"{300 + 500 * rng.random():.2f}"), "USD", "RATED", at, at))
        keys.append(f"billing:charge_lines:{charge_id}")
    scac = PARTNERS[1][0]
    site = world.locations[world.customer_sites[world.ordering_customers[0].customer_id][0]]
    warehouse = world.locations[world.sites[0].location_id]
    reference = idf.ORDER.format(next(numbers))
    at = moment()
    orphan = StatusMessage(scac, f"9{rng.randrange(10**9):09d}", reference, "X1", at, site.zone,
                           site.city.upper(), REGION_OF[site.city], site.country, warehouse.name.upper(),
                           site.name.upper())
    orphan_name = f"214_{scac}_{utc(at + 20 * MINUTE):%Y%m%dT%H%M}.edi"
    keys.append(f"edi:{orphan_name}:{reference}")
    broken_at = moment()
    broken = interchange(PARTNERS[0][0], "214", [orphan], broken_at, broken_at // 60 % 10**9)
    broken_name = f"214_{PARTNERS[0][0]}_{utc(broken_at):%Y%m%dT%H%M}.edi"
    return keys, [(orphan_name, interchange(scac, "214", [orphan], at + 20 * MINUTE, (at // 60 + 1) % 10**9)),
                  (broken_name, broken[:61])]


class StuckShipments:
    """A tick's planter: it recognises the planted MISSING_PODs and plants nothing new.

    An unplanted shipment always has its POD within a few hours of ARRIVED, so one that arrived
    more than 24 h before the clock and has no POD in the data can only be a planted one: its
    life stays frozen (no POD, no charges, no close).
    """

    def __init__(self, clock: int, delivered: set[str]):
        self.clock = clock
        self.delivered = delivered

    def stuck(self, order, trip: Trip, enter_received: int) -> bool:
        return trip.arrived < self.clock - DAY and order.order_id not in self.delivered

    def charges(self, delivery: Delivery, charges: list[Charge]) -> list[Charge]:
        return charges
