"""What one simulated slice writes: the rows whose moment falls in its window (start, end].

A lifecycle describes every entity as a time line: an immutable row has one moment (an event's
`received_at`, a charge's `updated_at`), a mutable row a list of versions (an order's status
changes, a line's hard delete). `Changes` keeps exactly what a slice must write:

* `build` uses the window (-inf, end]: each entity's latest version at `end`;
* `tick` uses (clock, clock + 1 h]: new entities, the new version of entities that changed (to
  merge on their key), and the keys of rows deleted in the window.

Because a lifecycle is a pure function of its order, computing it again in a later tick and
keeping another window gives the continuation, never a duplicate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

#: Tables whose rows change after they are written; a tick merges them on their key.
MUTABLE_TABLES = ("sales_orders", "order_lines", "loads", "wms_exceptions", "dispatches", "disputes")


class Changes:
    def __init__(self, start: float, end: int, ingest=None):
        self.start = start
        self.end = end
        #: numbers the telematics events (telematics.IngestSeq), when the slice writes any
        self.ingest = ingest
        self.rows: dict[str, list[tuple]] = defaultdict(list)
        self.deleted: dict[str, list[tuple]] = defaultdict(list)
        #: telematics_events rows
        self.events: list[tuple] = []
        #: WMS ledger movements in UTC: (moment, site_code, sku, movement_type, qty, reason_code, ext_order_ref)
        self.movements: list[tuple] = []
        #: EDI messages: (moment, message)
        self.edi: list[tuple] = []

    def add(self, table: str, moment: int, row: tuple) -> None:
        if self.start < moment <= self.end:
            self.rows[table].append(row)

    def add_versions(self, table: str, key: tuple, versions: Sequence[tuple[int, tuple | None]],
                     make_row: Callable[..., tuple]) -> None:
        """One mutable entity: `versions` are (moment, arguments of make_row, or None for a delete) in time order."""
        latest, changed = None, False
        for moment, arguments in versions:
            if moment > self.end:
                break
            changed = changed or moment > self.start
            latest = arguments
        if not changed:
            return
        if latest is not None:
            self.rows[table].append(make_row(*latest))
        elif versions[0][0] <= self.start:
            self.deleted[table].append(key)

    def add_event(self, received: int, uid: str, dispatch_id: str, kind: str, geofence_id, occurred: int,
                  payload: str) -> None:
        if self.start < received <= self.end:
            self.events.append((self.ingest.next(received), uid, dispatch_id, kind, geofence_id, occurred, received,
                                payload))

    def add_movement(self, moment: int, *movement) -> None:
        if self.start < moment <= self.end:
            self.movements.append((moment, *movement))

    def add_edi(self, moment: int, message) -> None:
        if self.start < moment <= self.end:
            self.edi.append((moment, message))
