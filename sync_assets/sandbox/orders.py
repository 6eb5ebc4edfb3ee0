"""New sales orders: when they are entered, by whom, to where, and their lines.

Drawn with the caller's Random (the build's seed, or a tick's), in creation order, so order
numbers follow `created_at`. Everything after entry is the order's lifecycle (lifecycle.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from random import Random

from .clock import DAY, HOUR, TICK_SECONDS, utc_date
from .ids import ORDER
from .world import World

#: Order entry by hour of day (UTC), roughly North American business hours.
_HOURLY_WEIGHT = (0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.5,
                  0.8, 1.0, 1.0, 1.0, 1.0, 0.9, 1.0, 1.0, 1.0, 0.9, 0.8, 0.6)
_QUANTITY = {"EA": (1, 48), "CS": (1, 20), "PL": (1, 6)}


@dataclass(slots=True)
class Order:
    order_id: str
    customer_id: str
    ship_from: str
    ship_to: str
    requested_delivery: date
    created: int
    lines: list  # (line_no, sku, quantity), as the ERP holds them now

    def header(self, status: str, updated: int) -> tuple:
        """The sales_orders row in a given status."""
        return (self.order_id, self.customer_id, self.ship_from, self.ship_to, self.requested_delivery, status,
                self.created, updated)


def entry_times(rng: Random, count: int, start: int, end: int) -> list[int]:
    """`count` sorted entry moments in (start, end), weekdays and daytime favoured.

    The last one always falls within the final hour: the clock is read back from the newest
    order change (clock.read_clock), so every slice must end with recent order activity.
    """
    times = []
    while len(times) < count:
        moment = start + 1 + int(rng.random() * (end - start - 1))
        weekday = (moment // DAY + 3) % 7  # 0 = Monday
        weight = _HOURLY_WEIGHT[moment % DAY // HOUR] * (0.35 if weekday >= 5 else 1.0)
        if rng.random() < weight:
            times.append(moment)
    times.sort()
    if times and times[-1] <= end - TICK_SECONDS:
        times[-1] = end - 1 - int(rng.random() * (TICK_SECONDS - 1))
    return times


class OrderDesk:
    """Takes new orders for a world: customer, ship-to site, warehouse, lines."""

    def __init__(self, world: World):
        self.world = world
        total = 0.0
        self.cumulative = []
        for weight in world.customer_weights:
            total += weight
            self.cumulative.append(total)

    def take(self, rng: Random, number: int, created: int) -> Order:
        world = self.world
        customer = rng.choices(world.ordering_customers, cum_weights=self.cumulative)[0]
        sites = world.customer_sites[customer.customer_id]
        ship_to = sites[int(rng.random() * len(sites))]
        nearest, second = world.nearest_warehouses[ship_to]
        ship_from = nearest if rng.random() < 0.85 else second
        stocked = world.stocked[world.site_of[ship_from].site_code]
        count = rng.choices((1, 2, 3, 4), cum_weights=(35, 65, 85, 100))[0]
        lines = []
        for line_no, item in enumerate(rng.sample(stocked, min(count, len(stocked))), start=1):
            low, high = _QUANTITY[item.uom]
            lines.append((line_no, item.sku, low + int(rng.random() * (high - low + 1))))
        requested = utc_date(created) + timedelta(days=2 + int(rng.random() * 5))
        return Order(ORDER.format(number), customer.customer_id, ship_from, ship_to, requested, created, lines)
