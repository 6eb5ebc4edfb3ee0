"""`build`: the whole landscape from scratch, from a seed.

The window is the `days` UTC days ending with `end`; the simulated clock stops at `end + 1 day`
00:00 UTC, which is exactly the as-of instant of the nightly run for `end`.

Orders are entered over the window and generated in batches of :data:`BATCH_ORDERS`. A batch is
self-contained: its own Random (from the seed and its index), its own block of ids
(ids.Counters.block), its own seq slot (telematics.IngestSeq) and its own share of the planted
anomalies (anomalies.spread_quotas) — so batches run in parallel worker processes (one per core,
forked) and the result does not depend on which finishes first. Each worker writes its rows with
COPY; the main process keeps what must be sequential: the stock ledger (replenishment depends on
stock so far), the WMS movements (their ids come from the database's identity), EDI files,
orphans, ERP balances, and finally the primary keys. A one-batch build runs in-process.

The tables are recreated first and filled by several transactions, so a build that fails half-way
leaves a partial landscape: build again.
"""

from __future__ import annotations

import gc
import multiprocessing
import threading
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from random import Random

from . import edi
from .anomalies import BuildPlanter, handful, no_anomalies, plant_drifts, plant_orphans, spread_quotas
from .changes import Changes
from .clock import DAY, HOUR, day_seconds, utc, utc_date
from .ids import FIRST_ORDER_NUMBER, Counters, EntityIds
from .inventory import StockLedger
from .lifecycle import MAX_LIFE, plan_order
from .loader import Writer, add_primary_keys, recreate_tables
from .orders import OrderDesk, entry_times
from .schema import all_tables
from .summary import SandboxSummary
from .telematics import IngestSeq
from .world import World, make_world, world_rows

DEFAULT_END = date(2026, 10, 31)
BATCH_ORDERS = 25_000
#: Cycle-count adjustments per order generated.
ADJUSTMENTS_PER_ORDER = 0.02


@dataclass
class Plan:
    """Everything a batch needs, fixed before any batch runs (inherited by forked workers)."""

    engines: Mapping
    seed: int
    world: World
    entries: list[int]
    start: int
    clock: int
    quotas: list[dict[str, int]]


@dataclass
class BatchResult:
    counts: Counter
    planted: dict[str, list[str]]
    movements: list[tuple]
    edi: list[tuple]
    counters: Counters  # the batch's id block, as far as it used it


def build(engines: Mapping, *, seed: int = 42, orders: int = 5000, days: int = 30, end: date = DEFAULT_END,
          edi_inbox: Path, progress: Callable[[str], None] = print) -> SandboxSummary:
    """Drop and recreate the landscape's tables in the four databases and fill them (see the package docs)."""
    if orders < 1 or days < 1:
        raise ValueError("orders and days must be at least 1")
    with paused_gc():
        return _build(engines, seed, orders, days, end, edi_inbox, progress)


@contextmanager
def paused_gc():
    """The cyclic garbage collector off: a build makes millions of short-lived tuples and no
    reference cycles, and the collector would only rescan them (a third of the run time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(engines, seed, orders, days, end, edi_inbox, progress) -> SandboxSummary:
    started = time.perf_counter()
    clock = day_seconds(end) + DAY
    start = clock - days * DAY
    rng = Random(seed)
    world = make_world(rng, orders, start)
    entries = entry_times(rng, orders, start, clock)
    batches = -(-orders // BATCH_ORDERS)
    count = handful(orders)
    plan = Plan(engines, seed, world, entries, start, clock,
                spread_quotas(rng, count, batches, _eligible_batches(entries, clock)))
    recreate_tables(engines)
    main = Writer(engines)
    ledger = StockLedger(world, Random(f"{seed}/stock"))
    planted, messages, counts = no_anomalies(), [], Counter()
    try:
        for name, rows in world_rows(world).items():
            main.copy(name, rows)
        opening = Changes(float("-inf"), clock)
        ledger.open_shelves(opening, start - 18 * HOUR)
        ledger.settle(opening)
        main.copy("inventory_movements", ledger.movement_rows(opening))
        batch_started = time.perf_counter()
        for index, result in enumerate(_run_batches(plan, batches)):
            changes = Changes(float("-inf"), clock)
            changes.movements = result.movements
            batch = entries[index * BATCH_ORDERS:(index + 1) * BATCH_ORDERS]
            ledger.settle(changes, round(ADJUSTMENTS_PER_ORDER * len(batch)), (batch[0], batch[-1]))
            main.copy("inventory_movements", ledger.movement_rows(changes))
            counts.update(result.counts)
            for kind, keys in result.planted.items():
                planted[kind] += keys
            messages += result.edi
            done = min((index + 1) * BATCH_ORDERS, orders)
            written = sum(counts.values()) + sum(main.counts.values())
            progress(f"sandbox: orders {done:,}/{orders:,} · {written:,} rows · "
                     f"{written / (time.perf_counter() - batch_started):,.0f} rows/s")
        final = Changes(float("-inf"), clock)
        odd = Random(f"{seed}/odd")
        # Orphans take the ids after the last batch's, in its block.
        planted["ORPHAN_RECORD"], odd_files = plant_orphans(odd, count, final, result.counters, world, start, clock)
        for name, rows in final.rows.items():
            main.copy(name, rows)
        balances = ledger.erp_balances()
        planted["INVENTORY_MISMATCH"] = plant_drifts(odd, count, balances, world, clock)
        main.copy("inventory_balances", [(sku, location, qty, moment)
                                         for (sku, location), (qty, moment) in sorted(balances.items())])
        main.commit()
    except BaseException:
        main.abort()
        raise
    progress("sandbox: adding primary keys")
    add_primary_keys(engines)
    names = _write_inbox(edi_inbox, messages, odd_files)
    counts.update(main.counts)
    rows = {t.qualified: counts[t.qualified] for t in all_tables()}
    summary = SandboxSummary(
        counts=rows, elapsed=round(time.perf_counter() - started, 3), as_of=utc(clock),
        planted={kind: sorted(keys) for kind, keys in planted.items()}, malformed_edi=[odd_files[1][0]],
        changes=dict(rows), edi_files=names)
    progress(f"sandbox: built {sum(summary.counts.values()):,} rows in {summary.elapsed:.1f} s, "
             f"clock {summary.as_of:%Y-%m-%d %H:%M} UTC")
    return summary


def _end_of_day(stamp: str) -> int:
    """23:59 UTC of a YYYYMMDD stamp: when a day's EDI file is sent."""
    return day_seconds(date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:]))) + DAY - 60


def _eligible_batches(entries: list[int], clock: int) -> list[int]:
    """Batches whose orders are all over by the end (else those at least 3 days old, else the first)."""
    firsts = entries[::BATCH_ORDERS]
    lasts = entries[BATCH_ORDERS - 1::BATCH_ORDERS] + [entries[-1]]
    done = [b for b, last in enumerate(lasts[:len(firsts)]) if last < clock - MAX_LIFE]
    return done or [b for b, first in enumerate(firsts) if first < clock - 3 * DAY] or [0]


#: The plan a forked worker inherits (set just before the pool starts).
_PLAN: Plan | None = None


def _run_batches(plan: Plan, batches: int):
    """Batch results in batch order: from worker processes when there are several batches, the
    platform can fork and this process has no other thread, else generated here."""
    global _PLAN
    workers = min(batches, os.cpu_count() or 1)
    # Forking a process that runs other threads (a Dagster run, a test session with a server
    # client) can copy a lock some thread holds and hang the child: fork only when we are alone.
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        for index in range(batches):
            yield generate_batch(plan, index)
        return
    _PLAN = plan
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_start_worker) as pool:
            yield from pool.imap(_generate_in_worker, range(batches))
    finally:
        _PLAN = None


def _start_worker() -> None:
    """A forked worker must not touch the parent's pooled connections: give it fresh pools."""
    for engine in _PLAN.engines.values():
        engine.dispose(close=False)


def _generate_in_worker(index: int) -> BatchResult:
    with paused_gc():
        return generate_batch(_PLAN, index)


def generate_batch(plan: Plan, index: int) -> BatchResult:
    """Generate batch `index` and write all its rows but the WMS movements (returned, for the ledger)."""
    first = index * BATCH_ORDERS
    entries = plan.entries[first:first + BATCH_ORDERS]
    rng = Random(f"{plan.seed}/orders/{index}")
    planter = BuildPlanter(Random(f"{plan.seed}/planted/{index}"), plan.quotas[index], len(entries), plan.clock)
    ids = EntityIds(Counters.block(index, BATCH_ORDERS), float("-inf"), plan.clock)
    desk = OrderDesk(plan.world)
    changes = Changes(float("-inf"), plan.clock, IngestSeq(plan.start, plan.clock, index))
    for number, created in enumerate(entries, start=FIRST_ORDER_NUMBER + first):
        plan_order(desk.take(rng, number, created), plan.world, changes, ids, planter=planter)
    writer = Writer(plan.engines)
    try:
        for name, rows in changes.rows.items():
            writer.copy(name, rows)
        writer.copy("telematics_events", changes.events)
    except BaseException:
        writer.abort()
        raise
    writer.commit()
    return BatchResult(writer.counts, planter.planted, changes.movements, changes.edi, ids.counters)


def _write_inbox(inbox: Path, messages: list, odd_files: list[tuple[str, str]]) -> list[str]:
    """The partner files, one per type, partner and day (sent at 23:59 UTC), and the two odd ones."""
    inbox.mkdir(parents=True, exist_ok=True)
    edi.clear_inbox(inbox)
    names = edi.write_batches(inbox, messages, lambda moment: f"{utc_date(moment):%Y%m%d}", _end_of_day)
    for name, content in odd_files:
        (inbox / name).write_text(content)
    return sorted(names + [name for name, _ in odd_files])


