"""Identifier formats of the four systems, and who hands out the next one.

Every family is a prefix plus a zero-padded sequence number (`L000987`, `D0004567`; WMS
exception ids are bare numbers), numbered in the order the simulator creates the entities: a
build batch within its own block (:meth:`Counters.block`), a tick after the highest number in the
data, so no state outside the databases is needed.

Order numbers start at :data:`FIRST_ORDER_NUMBER`: numbers below it belong to "legacy" orders that
no longer exist in the ERP, which is where the planted orphan references point, so no order the
simulator ever creates can match them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FIRST_ORDER_NUMBER = 10_001


@dataclass(frozen=True)
class Family:
    prefix: str
    width: int

    def format(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"


ORDER = Family("SO-", 7)
LOAD = Family("L", 6)
DISPATCH = Family("D", 7)
POD = Family("POD", 7)
CHARGE = Family("CHG", 8)
DISPUTE = Family("DSP", 6)
#: wms_exceptions.exception_id is a bare bigint; its family has no prefix.
EXCEPTION = Family("", 1)

#: Where each family's ids live, to find the highest number in use.
ID_COLUMNS = {
    LOAD: ("wms", "loads", "load_id"),
    DISPATCH: ("fleet", "dispatches", "dispatch_id"),
    POD: ("fleet", "proof_of_delivery", "pod_id"),
    CHARGE: ("billing", "charge_lines", "charge_id"),
    DISPUTE: ("billing", "disputes", "dispute_id"),
    EXCEPTION: ("wms", "wms_exceptions", "exception_id"),
}

_REF = re.compile(r"SO-?(\d+)")


def order_ref(order_id: str) -> str:
    """The WMS's spelling of an ERP order id: `SO-0001234` -> `so0001234`."""
    return order_id.replace("-", "").lower()


def normalize_ref(ref: str) -> str:
    """LANDSCAPE §5 normalisation: upper-case, trim, restore the dash (`so0001234` -> `SO-0001234`)."""
    match = _REF.fullmatch(ref.strip().upper())
    return ORDER.format(int(match.group(1))) if match else ref.strip().upper()


def order_number(order_id: str) -> int:
    return int(order_id[len(ORDER.prefix):])


#: Ids per order a build batch may need at most, by family (see :meth:`Counters.block`).
_PER_ORDER = {LOAD: 1, DISPATCH: 2, POD: 1, CHARGE: 10, DISPUTE: 1, EXCEPTION: 10}


class Counters:
    """The next free number of every family (a bare int for exceptions, a formatted id otherwise)."""

    def __init__(self, last: dict[Family, int] | None = None, limit: dict[Family, int] | None = None):
        self._next = {family: (last or {}).get(family, 0) + 1 for family in ID_COLUMNS}
        self._limit = limit or {}

    @classmethod
    def block(cls, index: int, orders: int) -> Counters:
        """The numbers reserved for build batch `index` of `orders` orders.

        Batches are generated in parallel, so each takes its ids from its own block, like an
        application server that reserves id ranges (hi/lo): ids are unique and reproducible, with
        gaps between blocks. Batch 0 starts at 1, so a one-batch build has dense ids."""
        return cls({f: index * orders * n for f, n in _PER_ORDER.items()},
                   {f: (index + 1) * orders * n for f, n in _PER_ORDER.items()})

    def take(self, family: Family):
        number = self._next[family]
        if number > self._limit.get(family, number):
            raise OverflowError(f"id block of {family.prefix or 'exception'} ids exhausted")
        self._next[family] = number + 1
        return family.format(number) if family is not EXCEPTION else number


def read_last_numbers(connections) -> dict[Family, int]:
    """The highest number of each family in the data (ids are compared as numbers, not text)."""
    last = {}
    for family, (system, table, column) in ID_COLUMNS.items():
        expression = column if family is EXCEPTION else f"substr({column}, {len(family.prefix) + 1})::bigint"
        where = "" if family is EXCEPTION else f" WHERE {column} ~ '^{family.prefix}[0-9]+$'"
        row = connections[system].execute(f"SELECT max({expression}) FROM {table}{where}").fetchone()
        last[family] = row[0] or 0
    return last


class EntityIds:
    """Ids for one simulated slice (window `(start, end]`) of an order's entities.

    An entity created inside the window gets a new id. One created before it already has one:
    for entities whose rows change later (loads, dispatches, disputes, WMS exceptions) the tick
    passes the existing ids, in creation order, in `existing`; immutable entities created before
    the window are never written again, so they need no id. Entities created after the window
    do not exist yet (None).
    """

    def __init__(self, counters: Counters, start: int, end: int, existing: dict | None = None):
        self.counters = counters
        self.start = start
        self.end = end
        self.existing = existing or {}

    def get(self, family: Family, owner: str, index: int, created: int):
        if created > self.end:
            return None
        if created > self.start:
            return self.counters.take(family)
        known = self.existing.get((family, owner), ())
        return known[index] if index < len(known) else None
