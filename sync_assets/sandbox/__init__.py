"""The sandbox: the reference landscape of docs/landscape.md §1-4, built and kept alive for demos and tests.

`build` recreates the ERP, WMS, fleet and billing tables from ddl/*.sql and fills them with a
seeded, realistic stretch of activity carrying every flaw the landscape names, plus a handful of
planted anomalies of each LANDSCAPE §5 exception type — and no other rule violation. `tick`
simulates one more hour of live activity. Both return a :class:`SandboxSummary`.

Where things are: world.py (master data), orders.py (order entry), lifecycle.py (one order's
life in all four systems) with telematics.py, inventory.py (stock ledger, ERP balances),
anomalies.py (what is planted and its keys), edi.py (X12 files), changes.py (what a slice of
time writes), loader.py (COPY, merges), builder.py and ticker.py (the two entry points).

Choices a reader of the data should know (details in the modules named):

* Clock. `build` simulates the `days` UTC days ending with `end` and stops at `end + 1 day`
  00:00 UTC: `as_of` is that instant, which is also the as-of of the nightly run for `end`, and
  no row has a moment after it. Each `tick` adds one hour. The clock is read back from the data
  (newest `sales_orders.updated_at`, rounded up to the hour: every slice ends with an order
  entered in its last hour), so any process can tick (clock.py).
* Determinism. The seed draws the master data and the order entry times; every order's life
  comes from a Random seeded by its id and entry time, so a tick recomputes an in-flight order's
  life exactly and keeps the next hour of it. A tick's own choices are seeded by the clock and
  the newest order id, so the same data always ticks the same way. No wall clock anywhere.
* Ids. `SO-0010001` is the first order; smaller numbers are "legacy" orders the ERP no longer
  has, which is what orphans point to. Large builds run batches of 25,000 orders in parallel
  processes, each numbering its loads, dispatches, PODs, charges, disputes and WMS exceptions
  from its own block (hi/lo style): unique and reproducible, with gaps between blocks (a build
  of up to 25,000 orders is dense). Ticks continue after the highest number in the data.
  `telematics_events.seq` is the received second x 1,000,000 + writer slot x 1000 + rank, so it
  follows `received_at` (ids.py, telematics.py).
* Times. Rows carry integer seconds and are written through binary COPY (loader.py):
  `timestamptz` as UTC instants, WMS `timestamp` columns as the site's local wall time.
* Planted anomalies (anomalies.py) sit on orders whose life is over by the end of the build,
  one spoiled thing each; a planted DUPLICATE_CHARGE also unbalances its code, so the same
  shipment is listed under RATE_MISMATCH as `SO-...:BASE` (or `:FUEL`), as §5 says. Order-level
  anomalies need a window of about four days or more; a shorter build plants fewer.
  A tick plants nothing (its summary's lists are empty): the build's set stays the complete
  list of violations, which tests/test_sandbox_rules.py re-derives from the rules after ticks.
* Rules kept by construction (lifecycle.py): POD and its charges appear in one instant on the
  POD's signing day; DET is rated exactly when its inputs are in; no amount lands on a half cent;
  REFUSED deliveries never enter the ship-to geofence and are billed BASE + FUEL, so a reader
  that counts a REFUSED POD as "a POD" and one that does not find the same violations.
* Tick defects: a contract's rate corrected without touching `updated_at`, with the billing
  engine re-rating that contract's deliveries (ticker.py); WMS movements committed out of order.
"""

from .builder import DEFAULT_END, build
from .summary import SandboxSummary
from .ticker import tick

__all__ = ["DEFAULT_END", "SandboxSummary", "build", "tick"]
