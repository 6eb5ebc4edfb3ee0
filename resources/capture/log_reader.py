"""Log-based change capture: a logical replication slot per source, polled over an ordinary connection.

The protocol that makes it exactly-once (DESIGN.md, "Change-data polling"):
1. peek the slot's pending changes (`pg_logical_slot_peek_changes`: nothing is consumed);
2. apply whole transactions to the warehouse and store the last applied commit LSN there, in one
   warehouse transaction;
3. advance the slot to that LSN (`pg_replication_slot_advance`).
A crash before 2 leaves both sides untouched; a crash between 2 and 3 leaves the slot behind the
warehouse, and the next poll first advances it to the position the warehouse holds.
The slot sees hard deletes and writes that skip `updated_at`, which no cursor can.

A new slot decodes with wal2json where the source server will load it (resources/capture/
wal2json.py), else with test_decoding, which every server has (resources/capture/test_decoding.py);
it keeps that plugin for its life. Both parsers give the same COPY rows for the same changes.
"""

import hashlib
import re
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
import sqlalchemy as sa

from resources.capture import test_decoding, wal2json
from resources.capture.test_decoding import ChangeLines
from resources.capture.wal2json import Wal2JsonLines
from resources.settings import WaybillError

FETCH_ROWS = 10_000  # rows per round trip of the peek's server-side cursor
#: Memory for the peek's result on the source: a whole poll (poll.MAX_CHANGES rows of a few
#: hundred bytes) without a temporary file. A 100 k-change poll: 4-5 % faster (median of 7).
PEEK_WORK_MEM = "128MB"
#: Why a source server may refuse to log its running transactions: before PostgreSQL 16, a role
#: without the right, a read-only session, a standby.
_NO_SNAPSHOT_LOGGING = (
    psycopg.errors.UndefinedFunction,
    psycopg.errors.InsufficientPrivilege,
    psycopg.errors.ReadOnlySqlTransaction,
    psycopg.errors.ObjectNotInPrerequisiteState,
)


def _plugin_unavailable(error: BaseException) -> bool:
    """A server that cannot load the output plugin (not installed), or may not (a server whose
    `output_plugin_libraries` does not list it)."""
    return isinstance(error, psycopg.errors.UndefinedFile) or (
        isinstance(error, psycopg.errors.InsufficientPrivilege) and "output plugin" in str(error)
    )


@dataclass(frozen=True)
class Decoder:
    """An output plugin as the capture uses it: how its begin and commit rows start, its peek
    options for the captured tables (with or without those rows), its parser, and, for a plugin
    that cannot leave other tables out, the tables an output row changes."""

    plugin: str
    begin: str
    commit: str
    options: Callable[[Sequence[tuple[str, str]], bool], tuple[str, ...]]
    lines: Callable[[dict[tuple[str, str], Sequence[str]], Collection[tuple[str, str]]], ChangeLines | Wal2JsonLines]
    tables_changed: Callable[[str], list[tuple[str, str]] | None] | None = None


DECODERS = {
    wal2json.PLUGIN: Decoder(wal2json.PLUGIN, '{"action":"B"', '{"action":"C"', wal2json.peek_options, Wal2JsonLines),
    test_decoding.PLUGIN: Decoder(test_decoding.PLUGIN, "BEGIN", "COMMIT", test_decoding.peek_options, ChangeLines,
                                  test_decoding.tables_changed),
}
#: With a plugin that cannot leave other tables out, the idle test looks past transactions that
#: changed none of the captured tables: through up to WHOLE_TEST_BYTES of waiting WAL, and up to
#: WHOLE_TEST_LINES change lines (a transaction that began before the slot's position and commits
#: after it comes whole, however little WAL is waiting). Past either, it answers yes, and the
#: poll's read, which fetches in batches, moves the slot on.
WHOLE_TEST_BYTES = 1 << 20
WHOLE_TEST_LINES = 10_000
#: Enough of a row change's line for its header (`table <schema>.<table>: <op>: `, names of up to
#: 63 bytes, quoted); TRUNCATE lines, which list every table they emptied, come whole.
_HEADER_CHARS = 300
#: How far behind the flushed end a slot's restart point may be before a look that finds nothing
#: captured moves the slot there, having the server log its running transactions first so that
#: the slot restarts there too (has_changes). Below it, the slot stays: every look decodes from the
#: restart point, and this much WAL costs next to nothing to decode again, while moving the slot
#: is a decoding of its own (~1 ms) each time.
RESTART_TEST_BYTES = 64 << 10
#: What looks in this process found, per slot (its server and name): the slot's confirmed position
#: then, and the end of the WAL up to which nothing captured was waiting. True for as long as the
#: slot stays at that position: a poll that reads moves it, which retires the entry.
_NOTHING_WAITING: dict[tuple[str, str], tuple[str, str]] = {}
#: A new slot takes the first plugin the server will load: wal2json where installed (and allowed).
PREFERENCE = (wal2json.PLUGIN, test_decoding.PLUGIN)


def slot_name(system: str, database: str) -> str:
    """`waybill_<system>_<database>`: slot names are unique per server, not per database, so two
    landscapes on one server (or one source database per system on a shared server) never meet.
    A database name that is not a plain lower-case identifier is cut and given a hash."""
    safe = re.sub(r"[^a-z0-9_]", "_", database.lower())[:32]
    if safe != database:
        safe += "_" + hashlib.md5(database.encode()).hexdigest()[:8]
    return f"waybill_{system}_{safe}"


def lsn_value(lsn: str) -> int:
    """'16/B374D848' as an integer, for comparisons."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class SlotState(NamedTuple):
    exists: bool
    active_pid: int | None  # the backend using the slot now, if any
    end: str  # the end of the flushed WAL
    confirmed: str | None  # the slot's confirmed position
    #: The server has removed WAL the slot still needed (max_slot_wal_keep_size): it can never be
    #: read again (PostgreSQL: invalidated, wal_status 'lost').
    lost: bool
    restart: str | None = None  # where decoding the slot starts (every peek and advance reads from here)


class LogReader:
    """Reads one source database's slot.

    `conn` is an autocommit connection for the slot itself (creating a slot cannot happen inside a
    transaction); changes are streamed from a second connection inside a read-only transaction,
    which server-side cursors need.
    """

    def __init__(self, engine: sa.Engine, conn: sa.Connection, system: str, tables: Sequence[tuple[str, str]]):
        self.engine = engine
        self.conn = conn
        self.system = system
        self.tables = tuple(tables)  # (schema, table) captured
        self.slot = slot_name(system, engine.url.database)
        self.decoder = DECODERS[test_decoding.PLUGIN]  # the slot's own, once state() or create_slot() has seen it

    def create_slot(self) -> str:
        wal_level = self.conn.execute(sa.text("SHOW wal_level")).scalar_one()
        if wal_level != "logical":
            raise WaybillError(
                f"{self.system}: log-based capture needs wal_level = logical on the source server (it is {wal_level}); "
                f"set it or choose capture mode 'cursor' for {self.system}"
            )
        refusals = []
        for plugin in PREFERENCE:
            try:
                created = self.conn.execute(
                    sa.text("SELECT lsn::text FROM pg_create_logical_replication_slot(:s, :p)"), {"s": self.slot, "p": plugin}
                ).scalar_one()
            except sa.exc.DBAPIError as error:
                reason = str(error.orig).strip().splitlines()[0]
                if not _plugin_unavailable(error.orig):  # no slots left, no right to replicate…
                    raise WaybillError(f"{self.system}: cannot create replication slot {self.slot}: {reason}") from None
                refusals.append(f"{plugin}: {reason}")
                continue
            self.decoder = DECODERS[plugin]
            return created
        raise WaybillError(f"{self.system}: no logical decoding plugin could be loaded ({'; '.join(refusals)})")

    def source_identity(self) -> str:
        """`<system identifier>/<database oid>`: which database this is, whatever its URL says.
        A server rebuilt from scratch has another system identifier; a database dropped and
        created again, another oid."""
        return self.conn.execute(
            sa.text("SELECT (SELECT system_identifier FROM pg_control_system()) || '/' || "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())")
        ).scalar_one()

    def drop_slot(self) -> None:
        """Drop this system's slot (waits while another poller holds it)."""
        self.wait_until_free()
        self.conn.execute(sa.text("SELECT pg_drop_replication_slot(:s)"), {"s": self.slot})

    def state(self) -> SlotState:
        """The slot's state and the flushed WAL position (see current_lsn), in one round trip."""
        row = self.conn.execute(
            sa.text(
                "SELECT s.active_pid, pg_current_wal_flush_lsn()::text, s.confirmed_flush_lsn::text, s.plugin, "
                "s.wal_status, s.restart_lsn::text FROM (SELECT 1) one "
                "LEFT JOIN pg_replication_slots s ON s.slot_name = :s AND s.database = current_database()"
            ),
            {"s": self.slot},
        ).one()
        if row[3] in DECODERS:
            self.decoder = DECODERS[row[3]]
        return SlotState(exists=row[3] is not None, active_pid=row[0], end=row[1], confirmed=row[2], lost=row[4] == "lost",
                         restart=row[5])

    def wait_until_free(self, timeout_s: float = 60.0) -> None:
        """Wait while another backend still holds the slot.

        A poller killed mid-peek leaves its server backend decoding until it notices the client
        is gone; its slot stays active for that time, and peeking it would fail.
        """
        deadline = time.monotonic() + timeout_s
        query = sa.text("SELECT active_pid FROM pg_replication_slots WHERE slot_name = :s")
        while (pid := self.conn.execute(query, {"s": self.slot}).scalar()) is not None:
            if time.monotonic() > deadline:
                raise WaybillError(f"{self.system}: replication slot {self.slot} is still in use by backend {pid}")
            time.sleep(0.1)

    def has_changes(self, slot: SlotState) -> bool:
        """The idle test: does any transaction of this database commit a change to a captured
        table before the flushed end of the WAL (`slot.end`)? One short query, and none when no
        WAL at all was flushed since the slot's position. Only for a caller holding the poll
        lock: it may move the slot.

        wal2json leaves other tables out, so the first transaction it outputs answers. test_decoding
        cannot: the tables its change lines name are looked at, within the bounds of
        WHOLE_TEST_BYTES and WHOLE_TEST_LINES; past them, any transaction of this database
        answers yes.

        When nothing is waiting, the slot moves on, so that later tests do not decode the same
        WAL (other databases' writes, other tables') again and the source server need not keep
        it. Decoding starts at the slot's restart point, which only a record of the running
        transactions moves (log_running_transactions; the server writes one by itself only every
        15 s of activity or at a checkpoint). So once the restart point is more than
        RESTART_TEST_BYTES behind, the test first has such a record written, reads up to it and
        advances the slot past it, which moves the restart point there. Below that, the slot
        stays, and the test remembers how far it found nothing (_NOTHING_WAITING), so the next
        one in this process with no WAL written since answers at once, as with none at all.
        Before, one `CREATE TABLE` in another database (94 kB of WAL) made every idle poll after
        it decode that WAL twice, 5-10 ms a poll, until the server's own record; and moving the
        slot on every test cost ~1 ms a test on a server others write to."""
        if slot.confirmed is not None and lsn_value(slot.end) <= lsn_value(slot.confirmed):
            return False
        remembered = (self.engine.url.render_as_string(), self.slot)
        seen = _NOTHING_WAITING.pop(remembered, None)
        if seen and seen[0] == slot.confirmed and lsn_value(slot.end) <= lsn_value(seen[1]):
            _NOTHING_WAITING[remembered] = seen
            return False
        move = lsn_value(slot.end) - lsn_value(slot.restart or slot.confirmed or slot.end) > RESTART_TEST_BYTES
        if move and self.log_running_transactions():
            slot = slot._replace(end=self.current_lsn())
        peek = "FROM pg_logical_slot_peek_changes(:s, CAST(:upto AS pg_lsn), CAST(:n AS int), VARIADIC CAST(:o AS text[]))"
        params = {"s": self.slot, "upto": slot.end, "o": list(self.decoder.options(self.tables, False))}
        tables_changed = self.decoder.tables_changed
        with self._decoding_connection() as conn:
            if tables_changed is None or slot.confirmed is None or (
                    lsn_value(slot.end) - lsn_value(slot.confirmed) > WHOLE_TEST_BYTES):
                waiting = conn.execute(sa.text(f"SELECT 1 {peek} LIMIT 1"), {**params, "n": 1}).first() is not None
            else:
                lines = conn.execute(
                    sa.text(f"SELECT CASE WHEN data LIKE 'table %: TRUNCATE: %' THEN data ELSE left(data, {_HEADER_CHARS}) "
                            f"END {peek} WHERE data LIKE 'table %' LIMIT {WHOLE_TEST_LINES}"),
                    {**params, "n": None},
                ).scalars().all()
                captured = set(self.tables)
                # A line not understood counts as ours: the poll's parser then says what is wrong with it.
                waiting = len(lines) == WHOLE_TEST_LINES or any(
                    (changed := tables_changed(line)) is None or captured.intersection(changed) for line in lines)
            if not waiting and move:
                self._advance(conn, slot.end)
            elif not waiting:
                _NOTHING_WAITING[remembered] = (slot.confirmed, slot.end)
            return waiting

    def log_running_transactions(self) -> bool:
        """Have the server write which transactions are running now into the WAL, so that the
        slot's restart point can move up to it. Where the server refuses (_NO_SNAPSHOT_LOGGING:
        the function is PostgreSQL 16+, for superusers and roles granted EXECUTE on it), the
        restart point waits for the server's own record, as it always did.

        A slot restarts decoding from the last such record it has passed with no transaction
        running. The server writes one by itself only at a checkpoint or after
        15 s of activity, so after a large change every peek, idle ones included, decoded that
        change again until then (40–80 ms each after 100 k changes). Called before a large read,
        the record falls inside the range the poll reads, and the slot's advance moves the
        restart point up to it. If the server logged a record of its own in that range first, the
        slot holds that one as its single restart candidate and ignores ours until the advance
        applies it; the next poll that decodes then applies ours at once, as it lies before the
        slot's confirmed position. Returns whether the server wrote the record."""
        try:
            # The transaction id makes the autocommit's commit flush the WAL: a poll reads only
            # flushed WAL (`current_lsn`), and the record must be in what it reads.
            self.conn.execute(sa.text("SELECT pg_log_standby_snapshot(), pg_current_xact_id()"))
        except sa.exc.DBAPIError as error:
            if not isinstance(error.orig, _NO_SNAPSHOT_LOGGING):
                raise
            return False
        return True

    def current_lsn(self) -> str:
        """The end of the flushed WAL: what a peek can read now. A poll reads up to here and then
        advances the slot here; the WAL *write* position (pg_current_wal_lsn) may be ahead of it
        while a flush is under way, and the commits in between would be skipped unread."""
        return self.conn.execute(sa.text("SELECT pg_current_wal_flush_lsn()::text")).scalar_one()

    def peek(self, upto_lsn: str, max_rows: int) -> Iterator[list[tuple[str, str]]]:
        """The pending changes committed before `upto_lsn`, oldest first, as batches of
        (lsn, plugin output) rows, begin and commit rows included.

        `max_rows` bounds one poll; PostgreSQL stops only at a transaction boundary, so a single
        larger transaction still comes whole. Fewer rows read than `max_rows` means the poll
        reached `upto_lsn`. The rows stay text for the decoder's parser; they are fetched with psycopg directly, as SQLAlchemy's per-row result
        handling cost more than the parsing.
        """
        query = "SELECT lsn::text, data FROM pg_logical_slot_peek_changes(%s, %s::pg_lsn, %s, VARIADIC %s::text[])"
        options = list(self.decoder.options(self.tables, True))
        with self.engine.connect() as conn, conn.begin():
            # The peek's result is materialised before the first row comes back: with the
            # default 4 MB it goes to a temporary file on the source (100 k rows are ~35 MB).
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{PEEK_WORK_MEM}'")
            cursor = conn.connection.driver_connection.cursor(name="waybill_peek")
            cursor.execute(query, (self.slot, upto_lsn, max_rows, options))
            while batch := cursor.fetchmany(FETCH_ROWS):
                yield batch

    def advance(self, lsn: str) -> None:
        with self._decoding_connection() as conn:
            self._advance(conn, lsn)

    def _advance(self, conn: sa.Connection, lsn: str) -> None:
        conn.execute(sa.text("SELECT pg_replication_slot_advance(:s, CAST(:l AS pg_lsn))"), {"s": self.slot, "l": lsn})

    @contextmanager
    def _decoding_connection(self) -> Iterator[sa.Connection]:
        """A connection of its own for the functions that decode the slot. Each ends by resetting
        its backend's catalog caches, so the next statement there reloads every catalog entry it
        names: the slot's state query took 1.7 ms after a peek and 0.2 ms without (an idle poll,
        4.2 → 2.1 ms). The pool hands out the connection returned last (databases.py), so the
        state queries keep one warm backend and decoding another."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn

    def confirmed_lsn(self) -> str | None:
        return self.conn.execute(
            sa.text("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = :s"), {"s": self.slot}
        ).scalar()

    def lag_bytes(self) -> int:
        return int(
            self.conn.execute(
                sa.text(
                    "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0) "
                    "FROM pg_replication_slots WHERE slot_name = :s"
                ),
                {"s": self.slot},
            ).scalar()
            or 0
        )
