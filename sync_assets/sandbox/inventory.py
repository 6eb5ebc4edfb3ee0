"""The WMS stock ledger and the ERP's copy of it (inventory_balances).

Lifecycles produce the order-driven movements (PICKs, RETURN receipts); the ledger adds what a
warehouse does on its own: an OPENING count per stocked item the day before the window, a
replenishment RECEIPT a few hours before a pick would take a shelf below zero, and cycle-count
ADJUSTs. It keeps WMS on-hand per (sku, site) as it goes, so ERP balances can be written equal to
the ledger sum (LANDSCAPE §2: on-hand = sum(qty)) — except where a drift is planted.

The ERP's legacy file is modelled as up to date: after a build the ERP matches the ledger on every
pair but the planted ones, and a tick applies its own movements to the ERP balances as deltas, so
a planted drift keeps its size and no new one appears.
"""

from __future__ import annotations

from collections import defaultdict
from random import Random

from .changes import Changes
from .clock import HOUR
from .world import World

_LOT = {"EA": (200, 600), "CS": (50, 200), "PL": (10, 40)}
ADJUST_REASONS = ("CYCLE_COUNT", "DAMAGE", "FOUND")


class StockLedger:
    def __init__(self, world: World, rng: Random, on_hand: dict | None = None):
        self.world = world
        self.rng = rng
        self.uom = {item.sku.lower(): item.uom for item in world.items}
        #: (sku lower case, site_code) -> WMS on-hand
        self.on_hand: dict[tuple[str, str], int] = defaultdict(int, on_hand or {})
        #: (sku lower case, site_code) -> [quantity moved, last moment] by the movements settled here
        self.moved: dict[tuple[str, str], list[int]] = {}

    def _lot(self, sku: str) -> int:
        low, high = _LOT[self.uom[sku]]
        return low + int(self.rng.random() * (high - low))

    def _record(self, moment: int, site: str, sku: str, qty: int) -> None:
        key = (sku, site)
        self.on_hand[key] += qty
        entry = self.moved.setdefault(key, [0, moment])
        entry[0] += qty
        entry[1] = max(entry[1], moment)

    def open_shelves(self, changes: Changes, moment: int) -> None:
        """An OPENING receipt for every item each warehouse stocks."""
        for site in self.world.sites:
            for item in self.world.stocked[site.site_code]:
                sku = item.sku.lower()
                changes.add_movement(moment, site.site_code, sku, "RECEIPT", 2 * self._lot(sku), "OPENING", None)

    def settle(self, changes: Changes, adjustments: int = 0, between: tuple[int, int] = (0, 0)) -> None:
        """Replenish before picks that would go negative, add `adjustments` cycle counts at moments
        in `between` (exclusive, inclusive), and keep on-hand; the movements end up ordered by time."""
        settled = []
        for movement in changes.movements:
            moment, site, sku, kind, qty = movement[:5]
            if kind == "PICK" and self.on_hand[(sku, site)] + qty < 0:
                lot = max(self._lot(sku), -qty - self.on_hand[(sku, site)])
                received = max(changes.start + 1, moment - int((2 + 4 * self.rng.random()) * HOUR))
                settled.append((received, site, sku, "RECEIPT", lot, "REPLENISHMENT", None))
                self._record(received, site, sku, lot)
            settled.append(movement)
            self._record(moment, site, sku, qty)
        low, high = between
        for _ in range(adjustments):
            settled.append(self._adjustment(low + 1 + int(self.rng.random() * (high - low))))
        settled.sort(key=lambda m: m[0])
        changes.movements = settled

    def _adjustment(self, moment: int) -> tuple:
        site = self.world.sites[int(self.rng.random() * len(self.world.sites))].site_code
        stocked = self.world.stocked[site]
        sku = stocked[int(self.rng.random() * len(stocked))].sku.lower()
        qty = 1 + int(self.rng.random() * 5)
        if self.rng.random() < 0.6 and self.on_hand[(sku, site)] > 0:
            qty = -min(qty, self.on_hand[(sku, site)])
        reason = ADJUST_REASONS[0 if qty < 0 else 1 + int(self.rng.random() * 2)]
        self._record(moment, site, sku, qty)
        return (moment, site, sku, "ADJUST", qty, reason, None)

    def movement_rows(self, changes: Changes):
        """inventory_movements rows (local wall time of the site), movement_id left to the database."""
        local = self.world.local_time
        for moment, site, sku, kind, qty, reason, ref in changes.movements:
            yield (sku, site, kind, qty, reason, local[site](moment), ref)

    def erp_balances(self) -> dict[tuple[str, str], list]:
        """The ERP's view of every pair the ledger moved: {(SKU, location_id): [qty, updated_at moment]}."""
        location = {s.site_code: s.location_id for s in self.world.sites}
        return {(sku.upper(), location[site]): [self.on_hand[(sku, site)], moment]
                for (sku, site), (_, moment) in sorted(self.moved.items())}

    def erp_deltas(self) -> list[tuple]:
        """What the settled movements change in the ERP: (SKU, location_id, delta, updated_at)."""
        location = {s.site_code: s.location_id for s in self.world.sites}
        return [(sku.upper(), location[site], qty, moment) for (sku, site), (qty, moment) in sorted(self.moved.items())]
