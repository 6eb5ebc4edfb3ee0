"""One poll of a source's replication slot into the landing tables (see resources/capture/log_reader.py).

The first poll of a source creates its slot and then copies every mapped table whole: changes
committed after the slot was created are replayed over the copy in commit order, so the end state
is exact whichever side saw a row first.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field

import sqlalchemy as sa
from psycopg import sql

from resources.capture.log_reader import LogReader, lsn_value
from resources.capture.state import ensure_state_table, read_position, store_position, stored_position
from resources.capture.test_decoding import MissingColumn
from resources.merge import MergeCounts
from resources.sources import SchemaDriftError, SourceDatabase, check_schema
from resources.warehouse import ChangeStages, DirectInsertConflict, Warehouse, ensure_landing_table, history_table
from sync_assets.mappings import SourceTable


@dataclass
class PollResult:
    system: str
    mode: str
    position: str | None
    transactions: int = 0
    changes: int = 0
    counts: dict[str, MergeCounts] = field(default_factory=dict)
    initialised: bool = False
    lag_bytes: int = 0
    seconds: float = 0.0
    caught_up: bool = True  # False: the poll stopped at its size limit with changes still waiting
    decoder: str | None = None  # the slot's output plugin (log mode)
    #: Why the poll started the source again from a new slot and a whole-table comparison, where
    #: it did so for a reason the operator should hear about (a slot the server invalidated).
    restarted: str | None = None
    #: Why a large poll read the slot a second time with every change through the merge (an
    #: insert of a key landing holds: ChangeStages), or None.
    reread: str | None = None

    def add(self, later: PollResult) -> None:
        """Fold a later poll of the same source into this one (a catch-up of several polls)."""
        self.position = later.position or self.position
        self.transactions += later.transactions
        self.changes += later.changes
        for name, counts in later.counts.items():
            self.counts[name] = self.counts.get(name, MergeCounts(0, 0, 0)) + counts
        self.initialised = self.initialised or later.initialised
        self.restarted = self.restarted or later.restarted
        self.reread = self.reread or later.reread
        self.lag_bytes, self.seconds, self.caught_up = later.lag_bytes, self.seconds + later.seconds, later.caught_up


@dataclass
class _Read:
    """What a poll read from the slot: rows (BEGIN and COMMIT lines too), transactions, and the
    last commit's LSN. The changes themselves went to the warehouse's staging tables."""

    rows: int = 0
    transactions: int = 0
    last_commit: str | None = None
    truncated: set[tuple[str, str]] = field(default_factory=set)  # captured tables a TRUNCATE emptied


def _read_changes(
    reader: LogReader,
    end: str,
    max_changes: int,
    tables: dict[tuple[str, str], SourceTable],
    stages: ChangeStages,
    direct: Collection[tuple[str, str]],
) -> _Read:
    """Parse the slot's pending changes as they are fetched and hand each fetched batch's COPY
    rows to the warehouse (inserts into the `direct` tables straight into landing): the
    warehouse copies one batch while the next is parsed, and only one batch is ever in memory.

    (Parsing in a thread was tried: it was no faster, as the parse holds the interpreter.)"""
    read = _Read()
    decoder = reader.decoder
    lines = decoder.lines({key: table.column_names for key, table in tables.items()}, direct)
    for batch in reader.peek(end, max_changes):
        read.rows += len(batch)
        for lsn, data in batch:
            if data.startswith(decoder.commit):
                read.transactions += 1
                read.last_commit = lsn
            elif not data.startswith(decoder.begin):
                try:
                    lines.add(data, lsn)
                except MissingColumn as missing:
                    raise SchemaDriftError(
                        f"{tables[missing.table].name}.{missing.column}: column missing in the change at {missing.lsn} "
                        f"(the table was altered while changes were pending). To take the table as it is now, drop "
                        f"replication slot {reader.slot} on the source and sync again: every table is then compared whole"
                    ) from None
        stages.write_batch(lines.rows, lines.inserts)
    read.truncated = lines.truncated
    return read


def _snapshot_completed(session: sa.Connection, system: str, stream: str) -> bool:
    """Whether the slot's initial snapshot finished: the poll that starts a slot empties the
    stored position first and stores the slot's own only after the copy (`_start_slot`)."""
    return stored_position(session, system, stream) is not None


def _start_slot(warehouse: Warehouse, reader: LogReader, source: SourceDatabase, tables: list[SourceTable],
                stream: str, result: PollResult, unfinished: bool) -> None:
    """Create the slot and copy every table whole over it, for a new source or again for a known one.

    The warehouse first records which source database this is (its server's system identifier
    and the database's oid) and empties the stored position, so that a poll dying anywhere
    before the copy is done leaves a state the next poll does not trust (`_snapshot_completed`).
    A new source (another server, a rebuilt database) starts its value histories afresh. A known
    one keeps them. Either way the operator hears why a start was needed again
    (`result.restarted`): the slot is gone, or the last start did not finish (`unfinished`)."""
    system = source.system
    identity = reader.source_identity()
    with warehouse.engine().begin() as wh:
        cursor = wh.connection.driver_connection.cursor()
        ensure_state_table(cursor)
        known = read_position(cursor, system, IDENTITY_STREAM)
        # Before identities were stored, a stored position meant the same source.
        same_source = known == identity if known else read_position(cursor, system, stream) is not None
        if unfinished:
            result.restarted = (
                f"the last start of replication slot {reader.slot} did not finish (it stopped while copying the "
                f"tables); started again from a new slot, comparing every table whole"
            )
        elif same_source and result.restarted is None:
            result.restarted = (
                f"replication slot {reader.slot} no longer exists on the source (dropped outside Waybill, or a restart "
                f"that did not finish); started again from a new slot, comparing every table whole"
            )
        for table in tables:
            if table.history and not same_source:
                ensure_landing_table(cursor, table)
                cursor.execute(sql.SQL("TRUNCATE {}").format(history_table(table)))
        store_position(cursor, system, IDENTITY_STREAM, identity, 0)
        store_position(cursor, system, stream, "", 0)
    created_at = reader.create_slot()
    result.decoder = reader.decoder.plugin
    for table in tables:
        result.counts[table.name] = warehouse.load_snapshot(source, table).counts
    with warehouse.engine().begin() as wh:
        cursor = wh.connection.driver_connection.cursor()
        store_position(cursor, system, stream, created_at, 0)
    result.initialised = True


#: The capture-state stream naming the source database a log-captured system's slot reads.
IDENTITY_STREAM = "source"


#: WAL behind the slot above which a poll reads at once instead of first testing for changes.
IDLE_TEST_BYTES = 1 << 20


def _may_be_idle(end: str, confirmed: str | None) -> bool:
    """Whether the idle test is worth its cost. It decodes up to the first transaction that
    changes a captured table, which the read then decodes again: a whole 100 k-row transaction
    twice after a bulk change. With more than IDLE_TEST_BYTES of WAL waiting, the poll reads
    straight away; if none of that WAL was ours, it spent one warehouse round trip more."""
    return confirmed is None or lsn_value(end) - lsn_value(confirmed) <= IDLE_TEST_BYTES


def _apply(
    warehouse: Warehouse,
    reader: LogReader,
    src: sa.Connection,
    stream: str,
    tables: dict[tuple[str, str], SourceTable],
    max_changes: int,
    result: PollResult,
    direct: Collection[tuple[str, str]],
) -> tuple[_Read, str]:
    """Read the slot's pending changes into landing and store the position reached, in one
    warehouse transaction; fills `result` once it has committed. Returns what was read and the
    WAL position it read up to."""
    with warehouse.engine().begin() as wh:
        cursor = wh.connection.driver_connection.cursor()
        ensure_state_table(cursor)
        stored = read_position(cursor, reader.system, stream, lock=True)
        reader.wait_until_free()
        confirmed = reader.confirmed_lsn()
        if stored and (confirmed is None or lsn_value(stored) > lsn_value(confirmed)):
            # A poll died after the warehouse committed and before the slot moved: the
            # warehouse holds those changes, so the slot skips them now.
            reader.advance(stored)
        end = reader.current_lsn()
        # Every captured table, changed in this poll or not: a drifted column stops the source
        # with its name (as a cursor poll does), not with COPY's complaint about a value.
        for table in tables.values():
            check_schema(src, table)
        with ChangeStages(cursor, tables) as stages:
            read = _read_changes(reader, end, max_changes, tables, stages, direct)
        counts = {tables[key].name: stages.merge(key, truncated=key in read.truncated) for key in stages.staged}
        changes = sum(stages.changes(key) for key in stages.staged)
        position = read.last_commit or stored
        if read.last_commit:
            store_position(cursor, reader.system, stream, read.last_commit, changes)
    for name, merged in counts.items():
        result.counts[name] = result.counts.get(name, MergeCounts(0, 0, 0)) + merged
    result.changes, result.transactions, result.position = changes, read.transactions, position
    return read, end


def poll_log(warehouse: Warehouse, session: sa.Connection, source: SourceDatabase, tables: list[SourceTable],
             max_changes: int) -> PollResult:
    """One poll; `session` is the warehouse session holding the poll lock (state.polling)."""
    started = time.perf_counter()
    system = source.system
    by_name = {("public", t.table): t for t in tables}
    stream = f"slot:{system}"
    engine = source.engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as src:
        reader = LogReader(engine, src, system, by_name)
        result = PollResult(system, "log", None)
        slot = reader.state()
        exists, active_pid, end, confirmed, lost, _ = slot
        result.decoder = reader.decoder.plugin
        if exists and lost:
            # The server removed WAL the slot still needed (max_slot_wal_keep_size): the changes
            # since the last poll cannot be read any more, and every peek would fail. A new slot
            # and a whole-table comparison bring landing back to the source's rows; the values
            # rows showed in between went with the WAL.
            reader.drop_slot()
            exists = False
            result.restarted = (
                f"replication slot {reader.slot} was invalidated by the source server (WAL it needed was removed, "
                f"see max_slot_wal_keep_size); started again from a new slot, comparing every table whole"
            )
        unfinished = exists and not _snapshot_completed(session, system, stream)
        if unfinished:
            # A poll died between creating the slot and storing the position its snapshot
            # covers: the landing copy may be partial, so start again with a new slot.
            reader.drop_slot()
            exists = False
        if exists and active_pid is None and _may_be_idle(end, confirmed) and not reader.has_changes(slot):
            # Idle: nothing of ours committed before `end` (the slot moves there once it is worth
            # it). Four warehouse and source round trips where no WAL was written since, five
            # where some was.
            result.seconds = time.perf_counter() - started
            return result
        if not exists:
            _start_slot(warehouse, reader, source, tables, stream, result, unfinished)
        large = not _may_be_idle(end, confirmed)
        if large:
            # Before the warehouse transaction takes an id: on a shared server, the record would
            # list it as running, and the restart point could not move past it.
            reader.log_running_transactions()
        # Inserts go straight into landing in a large poll (ChangeStages), unless the slot is new:
        # its first poll replays changes over the snapshot just copied, inserts included. A table
        # whose inserts meet a key landing holds is read again with them through the merge; after
        # a second such table, every table is.
        direct = set(by_name) if large and not result.initialised else set()
        conflicts: list[str] = []
        while True:
            try:
                read, end = _apply(warehouse, reader, src, stream, by_name, max_changes, result, direct=direct)
                break
            except DirectInsertConflict as conflict:
                conflicts.append(f"{by_name[conflict.table].name}: {conflict}")
                result.reread = "; ".join(conflicts)
                direct = direct - {conflict.table} if len(conflicts) == 1 else set()
        # The warehouse has committed: only now may the slot forget these changes. When the poll
        # read everything up to `end`, the slot moves to `end` even if nothing there was ours, so
        # the next poll does not decode other databases' WAL again (what keeps idle polls cheap).
        result.caught_up = read.rows < max_changes
        target = end if result.caught_up else result.position
        confirmed = reader.confirmed_lsn()
        if target and (confirmed is None or lsn_value(target) > lsn_value(confirmed)):
            reader.advance(target)
        result.lag_bytes = reader.lag_bytes()
    result.seconds = time.perf_counter() - started
    return result
