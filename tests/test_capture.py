"""Change capture in both modes moves every insert, update and delete into landing exactly once,
also when writers commit out of order and when the poller dies mid-apply."""

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from conftest import check_truncates_are_captured, query, run_sql
from resources.capture import log_reader
from resources.capture.state import polling
from resources.capture.test_decoding import DecodingError
from resources.databases import dispose_engines
from resources.sources import SchemaDriftError, SourceDatabase, key_is_unique
from resources.merge import MergeCounts
from resources.settings import URL_ENV, WaybillError
from resources.warehouse import ChangeStages, Warehouse
from sync_assets.changes import cursor_capture, log_capture
from sync_assets.changes import poll as poll_module
from sync_assets.changes.pending import pending_changes
from sync_assets.changes.poll import catch_up, poll_source
from sync_assets.mappings import source_table, tables_of

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl"
MOVEMENT = (
    "INSERT INTO inventory_movements (sku, site_code, movement_type, qty, occurred_at) "
    "VALUES ('sku-00001', 'ATL', 'RECEIPT', %s, '2026-10-01 10:00')"
)




@pytest.fixture(params=["log", "cursor"])
def mode(request, monkeypatch):
    for system in ("erp", "wms", "fleet", "billing"):
        monkeypatch.setenv(f"WAYBILL_CAPTURE_{system.upper()}", request.param)
    return request.param


@pytest.fixture
def landscape(landscape_env):
    for system in ("erp", "wms", "fleet", "billing"):
        run_sql(landscape_env[system], (DDL / f"{system}.sql").read_text())
    yield landscape_env
    for system in ("erp", "wms", "fleet", "billing"):
        run_sql(
            landscape_env[system],
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()",
        )


def poll(system: str):
    return poll_source(Warehouse(), SourceDatabase(system=system))


def landing(env, table: str, columns: str, where: str = "_operation <> 'delete'") -> list[tuple]:
    return query(env["warehouse"], f"SELECT {columns} FROM landing.{table} WHERE {where} ORDER BY 1, 2")


def test_inserts_updates_and_deletes(landscape, mode):
    erp = landscape["erp"]
    run_sql(
        erp,
        "INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
        "'2026-10-01T08:00Z', '2026-10-01T08:00Z');"
        "INSERT INTO order_lines VALUES ('SO-0000001', 1, 'SKU-00001', 5, '2026-10-01T08:00Z'), "
        "('SO-0000001', 2, 'SKU-00002', 1, '2026-10-01T08:00Z')",
    )
    poll("erp")
    assert landing(landscape, "raw_erp_order_lines", "order_id, line_no") == [("SO-0000001", 1), ("SO-0000001", 2)]

    run_sql(
        erp,
        "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-01T09:00Z';"
        "INSERT INTO sales_orders VALUES ('SO-0000002', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
        "'2026-10-01T09:30Z', '2026-10-01T09:30Z');"
        "DELETE FROM order_lines WHERE line_no = 2",
    )
    result = poll("erp")
    assert landing(landscape, "raw_erp_sales_orders", "order_id, status, _operation") == [
        ("SO-0000001", "RELEASED", "update"),  # a cursor reads it as a row like any other
        ("SO-0000002", "OPEN", "insert"),
    ]
    deleted = landing(landscape, "raw_erp_order_lines", "order_id, line_no", "_operation = 'delete'")
    # The slot sees the hard delete at once; a cursor cannot, the nightly key comparison does.
    assert deleted == ([("SO-0000001", 2)] if mode == "log" else [])
    assert result.counts["erp.sales_orders"].written == 2

    again = poll("erp")
    assert sum(c.written for c in again.counts.values()) == 0


def statuses_seen(env, order_id: str) -> dict[str, str]:
    """Each status the order has shown, with the first `updated_at` it was seen with (HH:MI UTC)."""
    return dict(query(env["warehouse"], """
        SELECT status, to_char(min(seen_at) AT TIME ZONE 'UTC', 'HH24:MI') FROM (
            SELECT status, first_updated_at FROM landing.raw_erp_sales_orders_history WHERE order_id = %(o)s
            UNION ALL SELECT status, updated_at FROM landing.raw_erp_sales_orders WHERE order_id = %(o)s
        ) AS seen (status, seen_at) GROUP BY 1""", {"o": order_id}))


def test_the_status_history_keeps_what_the_landing_row_no_longer_shows(landscape, mode):
    erp, warehouse = landscape["erp"], landscape["warehouse"]
    history = "SELECT status, to_char(first_updated_at AT TIME ZONE 'UTC', 'HH24:MI') FROM landing.raw_erp_sales_orders_history ORDER BY 2"
    run_sql(erp, "INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
                 "'2026-10-01T08:00Z', '2026-10-01T08:00Z')")
    poll("erp")
    assert query(warehouse, history) == []  # a new order shows its only status itself
    run_sql(erp, "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-01T09:00Z'")
    poll("erp")
    run_sql(erp, "UPDATE sales_orders SET ship_to = 'CS-000001-02', updated_at = '2026-10-01T09:30Z'")
    poll("erp")
    # Still RELEASED, but the row now says 09:30: the first sighting moves to the history.
    assert query(warehouse, history) == [("OPEN", "08:00"), ("RELEASED", "09:00")]
    run_sql(erp, "UPDATE sales_orders SET status = 'SHIPPED', updated_at = '2026-10-01T10:00Z'")
    poll("erp")
    assert statuses_seen(landscape, "SO-0000001") == {"OPEN": "08:00", "RELEASED": "09:00", "SHIPPED": "10:00"}
    assert sum(c.written for c in poll("erp").counts.values()) == 0
    assert len(query(warehouse, history)) == 2
    if mode == "log":  # the slot also sees the changes between two polls
        run_sql(erp, "INSERT INTO sales_orders VALUES ('SO-0000002', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
                     "'2026-10-01T10:30Z', '2026-10-01T10:30Z')")
        run_sql(erp, "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-01T11:00Z' WHERE order_id = 'SO-0000002'")
        run_sql(erp, "UPDATE sales_orders SET status = 'CLOSED', updated_at = '2026-10-01T12:00Z' WHERE order_id = 'SO-0000002'")
        poll("erp")
        assert statuses_seen(landscape, "SO-0000002") == {"OPEN": "10:30", "RELEASED": "11:00", "CLOSED": "12:00"}


def test_a_snapshot_comparison_keeps_the_status_history_too(landscape, monkeypatch):
    """The nightly key comparison (a snapshot merge) writes the same history a poll would."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "cursor")
    erp, warehouse = landscape["erp"], landscape["warehouse"]
    run_sql(erp, "INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
                 "'2026-10-01T08:00Z', '2026-10-01T08:00Z'), ('SO-0000002', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, "
                 "'OPEN', '2026-10-01T08:00Z', '2026-10-01T08:00Z'), ('SO-0000003', 'C000001', 'WH-ATL', 'CS-000001-01', "
                 "NULL, 'OPEN', '2026-10-01T08:00Z', '2026-10-01T08:00Z')")
    poll("erp")
    run_sql(erp, "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-01T09:00Z' WHERE order_id = 'SO-0000001'")
    run_sql(erp, "UPDATE sales_orders SET ship_to = 'CS-000001-02', updated_at = '2026-10-01T09:30Z' WHERE order_id = 'SO-0000002'")
    orders, source = source_table("erp", "sales_orders"), SourceDatabase(system="erp")
    assert Warehouse().load_snapshot(source, orders).counts.updated == 2
    history = "SELECT order_id, status, to_char(first_updated_at AT TIME ZONE 'UTC', 'HH24:MI') FROM landing.raw_erp_sales_orders_history ORDER BY 1"
    # SO-0000003 did not change: it needs no history row
    assert query(warehouse, history) == [("SO-0000001", "OPEN", "08:00"), ("SO-0000002", "OPEN", "08:00")]
    assert statuses_seen(landscape, "SO-0000002") == {"OPEN": "08:00"}
    assert Warehouse().load_snapshot(source, orders).counts.written == 0
    assert len(query(warehouse, history)) == 2


def test_price_correction_that_skips_updated_at(landscape, mode):
    erp = landscape["erp"]
    run_sql(
        erp,
        "INSERT INTO contracts VALUES ('K-1', 'C000001', '2026-01-01', NULL, 'USD', 1.2500, 150, 12.5, 60, 45, "
        "'{}', '2026-01-01T00:00Z'), ('K-2', 'C000002', '2026-01-01', NULL, 'USD', 1.1000, 150, 12.5, 60, 45, "
        "'{}', '2026-03-01T00:00Z')",
    )
    poll("erp")
    # The ERP defect: K-1's rate changes, its updated_at (two months behind the cursor) does not.
    run_sql(erp, "UPDATE contracts SET rate_per_km = 1.4000 WHERE contract_id = 'K-1'")
    poll("erp")
    [(rate,)] = query(landscape["warehouse"], "SELECT rate_per_km::text FROM landing.raw_erp_contracts WHERE contract_id = 'K-1'")
    # The slot sees it; a cursor cannot (the nightly snapshot comparison does, see test_master_data_sync).
    assert rate == ("1.4000" if mode == "log" else "1.2500")


#: A 12.8 kB reason, stored out of line (TOAST); %s varies it.
BIG = "SELECT string_agg(md5(g::text || %s), '') FROM generate_series(1, 400) g"


def disputes_with_large_reasons(env: dict, monkeypatch) -> str:
    """DS-1 and DS-2 captured by log, each with a large reason; returns the billing URL."""
    monkeypatch.setenv("WAYBILL_CAPTURE_BILLING", "log")
    run_sql(env["billing"], f"INSERT INTO disputes VALUES ('DS-1', 'SO-0000001', ({BIG}), 10, 'OPEN', now(), now()), "
                            f"('DS-2', 'SO-0000002', ({BIG}), 20, 'OPEN', now(), now())", ("a", "b"))
    poll("billing")
    return env["billing"]


def test_updates_that_leave_a_large_value_unchanged_keep_it(landscape, monkeypatch):
    """test_decoding does not resend a TOASTed value an UPDATE did not touch: landing keeps it,
    also when an earlier change in the same poll replaced it."""
    billing = disputes_with_large_reasons(landscape, monkeypatch)
    run_sql(billing, "UPDATE disputes SET status = 'RESOLVED' WHERE dispute_id = 'DS-1'")
    run_sql(billing, f"UPDATE disputes SET reason = ({BIG}) WHERE dispute_id = 'DS-2'", ("c",))
    run_sql(billing, "UPDATE disputes SET amount = 25 WHERE dispute_id = 'DS-2'")
    assert poll("billing").changes == 3
    source = query(billing, "SELECT dispute_id, md5(reason), status, amount::text FROM disputes ORDER BY 1")
    assert landing(landscape, "raw_billing_disputes", "dispute_id, md5(reason), status, amount::text") == source


def test_writers_committing_out_of_order_lose_nothing(landscape, mode):
    """Four writers hold transactions open for random times while the poller keeps polling."""
    wms = landscape["wms"]
    done = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        with psycopg.connect(wms) as conn:
            for i in range(40):
                conn.execute(MOVEMENT, (seed * 1000 + i,))
                time.sleep(rng.random() * 0.02)
                conn.commit()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        poll("wms")
    done.set()
    poll("wms")
    poll("wms")  # a gap seen last poll settles once its writers are gone
    source = query(wms, "SELECT movement_id, qty FROM inventory_movements ORDER BY 1")
    assert len(source) == 160
    assert landing(landscape, "raw_wms_inventory_movements", "movement_id, qty") == source


def test_polls_of_one_source_at_once_take_turns_with_each_other_and_the_sensor(landscape, mode):
    """A `waybill sync` while the sensor's run polls, and the sensor looking meanwhile: in log
    mode they would meet on the replication slot, which one backend may use at a time."""
    wms = landscape["wms"]
    poll("wms")
    writing, errors = threading.Event(), []

    def repeat(step) -> None:
        try:
            while writing.is_set():
                step()
        except Exception as error:  # noqa: BLE001 (the test reports it)
            errors.append(error)

    def writer(seed: int) -> None:
        with psycopg.connect(wms) as conn:
            for i in range(60):
                conn.execute(MOVEMENT, (seed * 1000 + i,))
                conn.commit()

    writing.set()
    steps = [lambda: poll("wms")] * 3 + [lambda: pending_changes(Warehouse(), SourceDatabase(system="wms"))]
    workers = [threading.Thread(target=repeat, args=(step,)) for step in steps]
    writers = [threading.Thread(target=writer, args=(seed,)) for seed in range(3)]
    for thread in workers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in workers:
        thread.join()
    assert errors == []
    poll("wms")
    poll("wms")
    source = query(wms, "SELECT movement_id, qty FROM inventory_movements ORDER BY 1")
    assert len(source) == 180
    assert landing(landscape, "raw_wms_inventory_movements", "movement_id, qty") == source


def test_the_sensor_leaves_a_source_alone_while_a_poll_of_it_runs(landscape, monkeypatch):
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "log")
    poll("wms")
    run_sql(landscape["wms"], MOVEMENT, (1,))
    with polling(Warehouse().engine(), "wms"):
        assert pending_changes(Warehouse(), SourceDatabase(system="wms")) is None
    assert pending_changes(Warehouse(), SourceDatabase(system="wms")).startswith("after ")


def test_a_slot_that_cannot_be_created_says_why(landscape, monkeypatch):
    """Only a plugin the server cannot or may not load is worth trying the next one for."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    poll("erp")
    engine = SourceDatabase(system="erp").engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        reader = log_reader.LogReader(engine, conn, "erp", [("public", "customers")])
        with pytest.raises(WaybillError, match=f"erp: cannot create replication slot {reader.slot}: .*already exists"):
            reader.create_slot()


MOVEMENTS = "SELECT movement_id, qty FROM inventory_movements ORDER BY 1"


def end_a_transaction(url: str) -> None:
    run_sql(url, "SELECT pg_current_xact_id()")  # takes an xid and ends: later snapshots' xmin moves on


def settle_movements(env: dict) -> None:
    """Polls with transactions ending in between: what a held sequence gap needs to settle."""
    for _ in range(3):
        end_a_transaction(env["wms"])
        poll("wms")


def assert_movements_landed_once_transactions_end(env: dict) -> None:
    settle_movements(env)
    assert landing(env, "raw_wms_inventory_movements", "movement_id, qty") == query(env["wms"], MOVEMENTS)


def test_a_sequence_cursors_first_read_waits_for_a_lower_id_still_being_written(landscape, monkeypatch):
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    wms = landscape["wms"]
    with psycopg.connect(wms) as writer:
        writer.execute(MOVEMENT, (1,))  # takes movement_id 1 and stays open
        run_sql(wms, MOVEMENT, (2,))
        poll("wms")  # the first cursor poll of the table
        writer.commit()
    assert_movements_landed_once_transactions_end(landscape)


@pytest.fixture
def capture_as_reader(landscape, monkeypatch):
    """Have the capture of a system connect as a role of its own, granted SELECT only, where the
    writers connect as the admin: it sees that other roles' sessions exist, but not when their
    transactions began (pg_stat_activity shows that to pg_read_all_stats)."""
    made = []

    def switch(system: str) -> None:
        role = f"reader_{uuid.uuid4().hex[:8]}"
        run_sql(landscape[system], sql.SQL("CREATE ROLE {r} LOGIN NOSUPERUSER NOREPLICATION; "
                                           "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {r}").format(r=sql.Identifier(role)))
        made.append((system, role))
        reader = sa.engine.make_url(landscape[system]).set(username=role).render_as_string(hide_password=False)
        monkeypatch.setenv(URL_ENV[system], reader)
        dispose_engines()

    yield switch
    dispose_engines()
    for system, role in made:
        run_sql(landscape[system], sql.SQL("DROP OWNED BY {r}; DROP ROLE {r}").format(r=sql.Identifier(role)))


#: The capture's role: the writers' own, or one that cannot see when their transactions began.
CAPTURE_ROLES = pytest.mark.parametrize("capture_role", ["writers", "reader"])


@CAPTURE_ROLES
def test_a_sequence_gap_waits_for_a_writer_that_took_its_id_before_writing(landscape, monkeypatch, capture_role,
                                                                           capture_as_reader):
    """`nextval` gives a transaction no xid: the gap's holder is known by its open transaction."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    wms = landscape["wms"]
    if capture_role == "reader":
        capture_as_reader("wms")
    run_sql(wms, MOVEMENT, (1,))
    poll("wms")
    end_a_transaction(wms)
    poll("wms")
    with psycopg.connect(wms) as writer:
        taken = writer.execute("SELECT nextval(pg_get_serial_sequence('inventory_movements', 'movement_id'))").fetchone()[0]
        assert writer.execute("SELECT pg_current_xact_id_if_assigned()").fetchone()[0] is None
        run_sql(wms, MOVEMENT, (3,))
        poll("wms")  # the gap at `taken` is seen
        run_sql(wms, MOVEMENT, (4,))
        poll("wms")  # every transaction with an xid then has ended
        writer.execute("INSERT INTO inventory_movements (movement_id, sku, site_code, movement_type, qty, occurred_at) "
                       "VALUES (%s, 'sku-00001', 'ATL', 'RECEIPT', 2, '2026-10-01 10:00')", (taken,))
        writer.commit()
    assert_movements_landed_once_transactions_end(landscape)


def test_a_gap_held_by_holders_stored_before_they_were_vxids_is_seen_afresh(landscape, monkeypatch):
    """Holders used to be stored as `pid@start`: a gap held in that form must not settle because
    no vxid ever matches it."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    wms = landscape["wms"]
    run_sql(wms, MOVEMENT, (1,))
    settle_movements(landscape)
    with psycopg.connect(wms) as writer:
        taken = writer.execute("SELECT nextval(pg_get_serial_sequence('inventory_movements', 'movement_id'))").fetchone()[0]
        old_holder = writer.execute(
            "SELECT pid || '@' || xact_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()").fetchone()[0]
        run_sql(wms, MOVEMENT, (3,))
        poll("wms")  # the gap at `taken` is seen
        [(stored,)] = query(landscape["warehouse"], "SELECT position FROM ops.capture_state WHERE stream = 'cursor:inventory_movements'")
        state = {**json.loads(stored), "holders": [old_holder]}  # as the earlier version stored it
        run_sql(landscape["warehouse"], "UPDATE ops.capture_state SET position = %s WHERE stream = 'cursor:inventory_movements'",
                (json.dumps(state),))
        run_sql(wms, MOVEMENT, (4,))
        settle_movements(landscape)
        writer.execute("INSERT INTO inventory_movements (movement_id, sku, site_code, movement_type, qty, occurred_at) "
                       "VALUES (%s, 'sku-00001', 'ATL', 'RECEIPT', 2, '2026-10-01 10:00')", (taken,))
        writer.commit()
    assert_movements_landed_once_transactions_end(landscape)


def test_a_sequence_cursor_refuses_a_sequence_that_caches_ids_per_session(landscape, monkeypatch):
    """With CACHE 20 a session holds ids between its transactions, invisible to any reader: it
    may insert id 2 after id 21 was read, and the cursor would never see it."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    run_sql(landscape["wms"], "ALTER TABLE inventory_movements ALTER COLUMN movement_id SET CACHE 20")
    run_sql(landscape["wms"], MOVEMENT, (1,))
    with pytest.raises(WaybillError, match=r"wms\.inventory_movements\.movement_id: its sequence .* caches 20 values "
                                           r"per session.*CACHE 1, or capture wms in log mode"):
        poll("wms")
    # The poll's warehouse transaction rolled back whole: not even the landing table was made.
    assert query(landscape["warehouse"], "SELECT to_regclass('landing.raw_wms_inventory_movements')") == [(None,)]


def test_the_sensor_names_new_changes_anew_while_a_gap_is_held(landscape, monkeypatch):
    """The rows above a held gap keep the position where it was; the commit that fills the gap
    must still give a run key other than the run that left it held (which Dagster would skip)."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    wms = landscape["wms"]
    run_sql(wms, MOVEMENT, (1,))
    settle_movements(landscape)
    with psycopg.connect(wms) as writer:
        writer.execute(MOVEMENT, (2,))  # holds id 2, open
        run_sql(wms, MOVEMENT, (3,))
        before = pending_changes(Warehouse(), SourceDatabase(system="wms"))
        poll("wms")  # lands 3 and holds the gap at 2
        writer.commit()
    after = pending_changes(Warehouse(), SourceDatabase(system="wms"))
    assert before is not None and after is not None and after != before


def test_a_sequence_gap_waits_for_a_writer_that_took_its_id_just_before_the_snapshot(landscape, monkeypatch):
    """The open transactions a gap waits for are read after the poll's snapshot: one read before
    it misses a writer that took its id in between, while a later writer's higher id committed."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    wms = landscape["wms"]
    run_sql(wms, MOVEMENT, (1,))
    poll("wms")
    end_a_transaction(wms)
    poll("wms")
    read = cursor_capture.OpenTransactions.read.__func__
    with psycopg.connect(wms) as writer:
        taken = []

        def read_then_write(cls, source, last):
            found = read(cls, source, last)
            if not taken:  # the poll's first read: an id is taken now, and a higher one committed
                taken.append(writer.execute(
                    "SELECT nextval(pg_get_serial_sequence('inventory_movements', 'movement_id'))").fetchone()[0])
                run_sql(wms, MOVEMENT, (3,))
            return found

        end_a_transaction(wms)  # or the poll would find the source unchanged and read nothing
        with monkeypatch.context() as patch:
            patch.setattr(cursor_capture.OpenTransactions, "read", classmethod(read_then_write))
            poll("wms")  # the gap at `taken` is seen
        run_sql(wms, MOVEMENT, (4,))
        poll("wms")  # every transaction with an xid then has ended
        writer.execute("INSERT INTO inventory_movements (movement_id, sku, site_code, movement_type, qty, occurred_at) "
                       "VALUES (%s, 'sku-00001', 'ATL', 'RECEIPT', 2, '2026-10-01 10:00')", (taken[0],))
        writer.commit()
    assert_movements_landed_once_transactions_end(landscape)


#: An order whose `updated_at` is its transaction's start.
ORDER_NOW = "INSERT INTO sales_orders VALUES (%s, 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', now(), now())"


def orders_by_cursor_with_a_short_lookback(env: dict, monkeypatch) -> str:
    """ERP capture by cursor with a 1 s lookback (standing for the 5-minute default and a
    transaction that reads for longer before it writes), after a first order and poll; the ERP URL."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "cursor")
    monkeypatch.setattr(poll_module, "tables_of", lambda system: tuple(
        dataclasses.replace(table, lookback="1 second") for table in tables_of(system)))
    run_sql(env["erp"], ORDER_NOW, ("SO-0000000",))
    poll("erp")
    return env["erp"]


def assert_orders_landed_after_polls(env: dict) -> None:
    for _ in range(3):
        poll("erp")
    assert landing(env, "raw_erp_sales_orders", "order_id, status") == query(env["erp"], "SELECT order_id, status FROM sales_orders ORDER BY 1")


@CAPTURE_ROLES
def test_a_timestamp_cursor_waits_for_an_open_transaction_that_has_not_written_yet(landscape, monkeypatch, capture_role,
                                                                                   capture_as_reader):
    """Its rows will carry its start as `updated_at`. A reader role cannot see that start: the
    poll before bounds it (it did not see the writer open)."""
    if capture_role == "reader":
        capture_as_reader("erp")
    erp = orders_by_cursor_with_a_short_lookback(landscape, monkeypatch)
    with psycopg.connect(erp) as writer:
        writer.execute("SELECT count(*) FROM sales_orders")  # open, no xid: now() is fixed from here
        time.sleep(2.5)
        run_sql(erp, ORDER_NOW, ("SO-0000002",))
        poll("erp")
        writer.execute(ORDER_NOW, ("SO-0000001",))
        writer.commit()
    assert_orders_landed_after_polls(landscape)


def test_a_timestamp_cursor_waits_for_a_writer_that_commits_while_the_poll_reads(landscape, monkeypatch):
    """A writer open at the poll's snapshot that commits before the poll looks at the open
    transactions again (after the snapshot) still holds the cursor: timestamp cursors use the
    look taken before the snapshot."""
    erp = orders_by_cursor_with_a_short_lookback(landscape, monkeypatch)
    read = cursor_capture.OpenTransactions.read.__func__
    with psycopg.connect(erp) as writer:
        writer.execute("SELECT count(*) FROM sales_orders")  # open, no xid: now() is fixed from here
        time.sleep(2.5)
        writer.execute(ORDER_NOW, ("SO-0000001",))
        run_sql(erp, ORDER_NOW, ("SO-0000002",))
        looks = []

        def commit_after_the_snapshot(cls, source, last):
            looks.append(last)
            if len(looks) == 2:
                writer.commit()
            return read(cls, source, last)

        with monkeypatch.context() as patch:
            patch.setattr(cursor_capture.OpenTransactions, "read", classmethod(commit_after_the_snapshot))
            poll("erp")
        assert len(looks) == 2
    assert_orders_landed_after_polls(landscape)


def test_a_reader_roles_first_poll_holds_its_cursors_for_a_writer_already_open(landscape, monkeypatch,
                                                                               capture_as_reader):
    """The first poll knows nothing of when a hidden writer began, and neither does the next
    while the writer stays open: the cursor stays put until it ends."""
    capture_as_reader("erp")
    with psycopg.connect(landscape["erp"]) as writer:
        writer.execute("SELECT count(*) FROM sales_orders")  # open, no xid: now() is fixed from here
        time.sleep(2.5)
        erp = orders_by_cursor_with_a_short_lookback(landscape, monkeypatch)  # the first poll ever
        run_sql(erp, ORDER_NOW, ("SO-0000002",))
        poll("erp")
        writer.execute(ORDER_NOW, ("SO-0000001",))
        writer.commit()
    assert_orders_landed_after_polls(landscape)


def test_a_timestamp_cursor_waits_for_a_writer_that_began_between_the_read_and_the_snapshot(landscape, monkeypatch):
    """Not listed in the read before the snapshot, yet open at it: the read's own time bounds it."""
    erp = orders_by_cursor_with_a_short_lookback(landscape, monkeypatch)
    read = cursor_capture.OpenTransactions.read.__func__
    with psycopg.connect(erp) as writer:
        looks = []

        def read_then_begin(cls, source, last):
            found = read(cls, source, last)
            if not looks:  # the read before the snapshot
                writer.execute("SELECT 1")  # begins now
                time.sleep(2.5)
                run_sql(erp, ORDER_NOW, ("SO-0000002",))
                writer.execute(ORDER_NOW, ("SO-0000001",))
            looks.append(last)
            return found

        end_a_transaction(erp)  # or the poll would find the source unchanged and read nothing
        with monkeypatch.context() as patch:
            patch.setattr(cursor_capture.OpenTransactions, "read", classmethod(read_then_begin))
            poll("erp")
        writer.commit()
    assert_orders_landed_after_polls(landscape)


def test_a_cursor_poll_skips_a_quiet_source_and_never_a_commit_it_has_not_read(landscape, monkeypatch):
    """An idle cursor poll must not scan the source (no index on its cursor column), yet a write
    that was still open when the last poll read must be captured once it commits."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "cursor")
    wms = landscape["wms"]
    run_sql(wms, MOVEMENT, (1,))
    poll("wms")
    reads = []
    read_query = cursor_capture._read_query
    monkeypatch.setattr(cursor_capture, "_read_query", lambda *a: reads.append(a[0].table) or read_query(*a))
    for _ in range(5):  # a transaction of the server's own (autovacuum's analyze) may end in between
        reads.clear()
        poll("wms")
        if not reads:
            break
    assert reads == []  # nothing committed anywhere on the server since: skipped without reading
    assert pending_changes(Warehouse(), SourceDatabase(system="wms")) is None

    with psycopg.connect(wms) as writer:
        writer.execute(MOVEMENT, (2,))  # open while the next poll runs: there is nothing to read yet
        assert poll("wms").changes == 0
        writer.commit()
    assert poll("wms").changes == 1
    assert reads
    assert landing(landscape, "raw_wms_inventory_movements", "movement_id, qty") == query(
        wms, "SELECT movement_id, qty FROM inventory_movements ORDER BY 1"
    )
    reads.clear()
    poll("wms")
    assert reads == []


def look_finds_nothing(look: str) -> None:
    """The sensor's look, or an idle poll, at the ERP finds nothing captured waiting."""
    if look == "sensor":
        assert pending_changes(Warehouse(), SourceDatabase(system="erp")) is None
    else:
        assert poll("erp").transactions == 0


def slot_behind(url: str, lsn: str, position: str) -> int:
    """How far the database's slot's `position` (confirmed_flush_lsn, restart_lsn) is behind `lsn`, in bytes."""
    [(behind,)] = query(url, f"SELECT pg_wal_lsn_diff('{lsn}', {position}) FROM pg_replication_slots "
                             "WHERE database = current_database()")
    return behind


@pytest.mark.parametrize("look", ["poll", "sensor"])
def test_a_look_that_finds_nothing_captured_moves_the_slot_past_other_writes(landscape, monkeypatch, look):
    """Writes to another database on the server and to a table Waybill does not capture:
    test_decoding outputs the latter, yet neither starts a run or reads anything, and the slot
    moves past both (here at once: in use, once its restart point is RESTART_TEST_BYTES
    behind), so later looks do not decode them again and the server need not keep them."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    monkeypatch.setattr(log_reader, "RESTART_TEST_BYTES", 0)
    erp = landscape["erp"]
    poll("erp")
    run_sql(landscape["fleet"], "CREATE TABLE scratch AS SELECT generate_series(1, 1000) g")
    run_sql(erp, "CREATE TABLE scratch (id int PRIMARY KEY); INSERT INTO scratch SELECT generate_series(1, 100)")
    [(end,)] = query(erp, "SELECT pg_current_wal_flush_lsn()")
    look_finds_nothing(look)
    assert slot_behind(erp, end, "confirmed_flush_lsn") <= 0
    run_sql(erp, "INSERT INTO scratch VALUES (101); INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', "
                 "'WH-ATL', 'CS-000001-01', NULL, 'OPEN', '2026-10-01T08:00Z', '2026-10-01T08:00Z')")
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")).startswith("after ")
    assert poll("erp").changes == 1


def test_a_look_past_a_little_other_wal_leaves_the_slot_and_the_next_look_decodes_nothing(landscape, monkeypatch):
    """Moving the slot is a decoding of its own: for a few writes elsewhere the slot stays, and
    a later look that finds no WAL written since answers from what the last one found, decoding
    nothing; a change of ours written after it is still seen."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    monkeypatch.setattr(log_reader, "RESTART_TEST_BYTES", 1 << 30)  # whatever the first copy wrote
    erp = landscape["erp"]
    poll("erp")
    run_sql(landscape["fleet"], "CREATE TABLE scratch AS SELECT 1 AS n")
    decodings = []
    decoding_connection = log_reader.LogReader._decoding_connection
    monkeypatch.setattr(log_reader.LogReader, "_decoding_connection",
                        lambda self: decodings.append(1) or decoding_connection(self))
    engine = SourceDatabase(system="erp").engine()
    with polling(Warehouse().engine(), "erp"), engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        reader = log_reader.LogReader(engine, conn, "erp", [("public", t.table) for t in tables_of("erp")])
        slot = reader.state()
        assert slot.end != slot.confirmed
        assert not reader.has_changes(slot) and len(decodings) == 1
        assert reader.state().confirmed == slot.confirmed  # the slot stayed
        assert not reader.has_changes(slot) and len(decodings) == 1  # nothing decoded: no WAL past the last look
    run_sql(erp, "INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
                 "'2026-10-01T08:00Z', '2026-10-01T08:00Z')")
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")).startswith("after ")
    assert poll("erp").changes == 1


@pytest.mark.parametrize("look", ["poll", "sensor"])
def test_looks_that_find_nothing_move_the_slots_restart_point_past_other_writes(landscape, monkeypatch, look):
    """Every peek and advance decodes from the slot's restart point, which only a record of the
    running transactions moves (the server writes one every 15 s of activity). After a large
    write elsewhere on the server, the looks have one written, so later looks do not decode
    that write again. Two looks: the server's own record may be the slot's candidate at the first."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    poll("erp")
    run_sql(landscape["fleet"], "CREATE TABLE scratch AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 5000) g")
    [(written,)] = query(erp, "SELECT pg_current_wal_flush_lsn()")
    for _ in range(2):
        look_finds_nothing(look)
    assert slot_behind(erp, written, "restart_lsn") <= 0  # the restart point is past the write


def test_a_look_stops_reading_lines_of_other_tables_at_its_bound_and_says_yes(landscape, monkeypatch):
    """A transaction that began before the slot's position comes whole however little WAL is
    waiting: past WHOLE_TEST_LINES lines of tables it does not capture, the look stops and
    answers yes, and the poll's read, which fetches in batches, moves the slot past them."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    monkeypatch.setattr(log_reader, "WHOLE_TEST_LINES", 50)
    erp = landscape["erp"]
    poll("erp")
    run_sql(erp, "CREATE TABLE scratch (id int PRIMARY KEY)")
    run_sql(erp, "INSERT INTO scratch SELECT generate_series(1, 49)")
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")) is None
    run_sql(erp, "INSERT INTO scratch SELECT generate_series(50, 100)")
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")).startswith("after ")
    assert poll("erp").changes == 0
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")) is None


def test_a_log_poll_far_behind_reads_at_once_without_testing_for_changes_first(landscape, monkeypatch):
    """The idle test decodes the first waiting transaction; after a bulk change the read would
    decode it again, so a slot that far behind is read directly."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    poll("erp")
    tests = []
    has_changes = log_reader.LogReader.has_changes
    monkeypatch.setattr(log_reader.LogReader, "has_changes", lambda self, slot: tests.append(slot) or has_changes(self, slot))
    insert = (
        "INSERT INTO sales_orders SELECT 'SO-' || lpad(g::text, 7, '0'), 'C000001', 'WH-ATL', 'CS-000001-01', NULL, "
        "'OPEN', '2026-10-01T08:00Z', '2026-10-01T08:00Z' FROM generate_series(%s::int, %s::int) g"
    )
    run_sql(erp, insert, (1, 1))
    assert poll("erp").changes == 1 and len(tests) == 1  # a small lag: tested first (the idle path)
    run_sql(erp, insert, (2, 20_001))  # several MB of WAL
    assert poll("erp").changes == 20_000 and len(tests) == 1
    assert poll("erp").changes == 0


def test_after_a_large_poll_the_slot_restarts_past_the_large_change(landscape, monkeypatch):
    """Before a large read, the poll has the server log its running transactions (PostgreSQL
    16+), so that the slot's restart point can move past the large change: without it, every
    later peek, idle ones included, decoded the change again until the server logged such a
    record itself (at a checkpoint, or after 15 s of activity).

    The worst case is forced here: the server logged a record of its own between the last poll
    and the change. The slot takes one restart candidate at a time, so the large poll's advance
    moves the restart point only up to that record; the poll's own record, which lies before
    the slot's position by then, is applied as soon as the next poll decodes past it."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    if query(erp, "SHOW server_version_num")[0][0] < "160000":
        pytest.skip("pg_log_standby_snapshot() is PostgreSQL 16+")
    poll("erp")
    run_sql(erp, "SELECT pg_log_standby_snapshot()")  # as the server's own, every 15 s of activity
    run_sql(erp, "INSERT INTO order_lines SELECT 'SO-' || lpad(g::text, 7, '0'), 1, 'SKU-00001', g, '2026-10-01' "
                 "FROM generate_series(1, 20000) g")  # several MB of WAL
    [(after_change,)] = query(erp, "SELECT pg_current_wal_flush_lsn()")
    assert poll("erp").changes == 20_000
    # The warehouse's writes on this server put the next poll over the bound; it must not log a record of its own.
    monkeypatch.setattr(log_capture, "IDLE_TEST_BYTES", 1 << 30)
    run_sql(erp, "INSERT INTO order_lines VALUES ('SO-9999999', 1, 'SKU-00001', 1, '2026-10-01')")
    assert poll("erp").changes == 1
    [(past,)] = query(erp, f"SELECT restart_lsn >= '{after_change}' FROM pg_replication_slots WHERE database = current_database()")
    assert past


@pytest.mark.parametrize("polls", ["small", "large"])
def test_truncates_are_captured_as_deletes_of_what_they_emptied(landscape, monkeypatch, polls):
    """`large`: inserts go straight into landing until the TRUNCATE, then through the stage."""
    if polls == "large":
        monkeypatch.setattr(log_capture, "IDLE_TEST_BYTES", -1)
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    check_truncates_are_captured(landscape["erp"], landscape["warehouse"], lambda: poll("erp"))


@pytest.mark.parametrize("polls", ["small", "large"])
def test_rows_written_before_a_truncate_leave_no_trace_when_their_keys_come_back(landscape, monkeypatch, polls):
    """`large`: the rows before the TRUNCATE were copied straight into landing; they must go as
    the staged ones of a small poll do, though the same keys are written again after it."""
    if polls == "large":
        monkeypatch.setattr(log_capture, "IDLE_TEST_BYTES", -1)
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp, warehouse = landscape["erp"], landscape["warehouse"]
    order = "INSERT INTO sales_orders VALUES (%s, 'C000001', 'WH-ATL', 'CS-000001-01', NULL, %s, %s, %s)"
    poll("erp")
    poll("erp")
    for order_id in ("SO-0000001", "SO-0000002"):
        run_sql(erp, order, (order_id, "OPEN", "2026-10-01T08:00Z", "2026-10-01T08:00Z"))
    run_sql(erp, "TRUNCATE sales_orders")
    for order_id in ("SO-0000001", "SO-0000002"):
        run_sql(erp, order, (order_id, "RELEASED", "2026-10-01T09:00Z", "2026-10-01T09:00Z"))
    run_sql(erp, "DELETE FROM sales_orders WHERE order_id = 'SO-0000002'")
    poll("erp")
    everything = landing(landscape, "raw_erp_sales_orders", "order_id, status, _operation", where="true")
    history = query(warehouse, "SELECT order_id, status FROM landing.raw_erp_sales_orders_history ORDER BY 1, 2")
    assert (everything, history) == ([("SO-0000001", "RELEASED", "insert")], [("SO-0000002", "RELEASED")])


def invalidate_slot(pg_admin_url: str, source: str) -> None:
    """Have the server invalidate the source's slot for real: it may keep no WAL for it."""
    try:
        run_sql(pg_admin_url, "ALTER SYSTEM SET max_slot_wal_keep_size = 0")
        run_sql(pg_admin_url, "SELECT pg_reload_conf()")
        for _ in range(2):
            run_sql(pg_admin_url, "SELECT pg_switch_wal()")
            run_sql(pg_admin_url, "CHECKPOINT")
    finally:
        run_sql(pg_admin_url, "ALTER SYSTEM RESET max_slot_wal_keep_size")
        run_sql(pg_admin_url, "SELECT pg_reload_conf()")
    assert query(source, "SELECT wal_status FROM pg_replication_slots WHERE database = current_database()") == [("lost",)]


def test_a_slot_the_server_invalidated_is_replaced_and_every_table_compared(landscape, pg_admin_url, monkeypatch):
    """A source server may remove WAL a slot still needs (max_slot_wal_keep_size) while Waybill is
    not polling; that slot can never be read again. The sensor asks for a run, and the poll starts
    from a new slot with a whole-table comparison: landing shows the source's rows again, the
    value history from before stays, and the operator is told."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp, warehouse = landscape["erp"], landscape["warehouse"]
    poll("erp")
    order = "INSERT INTO sales_orders VALUES (%s, 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', now(), now())"
    run_sql(erp, order, ("SO-0000001",))
    run_sql(erp, order, ("SO-0000002",))
    poll("erp")
    run_sql(erp, "UPDATE sales_orders SET status = 'RELEASED', updated_at = now() WHERE order_id = 'SO-0000001'")
    poll("erp")
    run_sql(erp, "UPDATE sales_orders SET status = 'SHIPPED', updated_at = now() WHERE order_id = 'SO-0000001'")
    run_sql(erp, "DELETE FROM sales_orders WHERE order_id = 'SO-0000002'")
    run_sql(erp, order, ("SO-0000003",))
    invalidate_slot(pg_admin_url, erp)
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")).startswith("lost after ")
    result = poll("erp")
    assert "was invalidated by the source server" in result.restarted
    assert landing(landscape, "raw_erp_sales_orders", "order_id, status") == [("SO-0000001", "SHIPPED"), ("SO-0000003", "OPEN")]
    assert query(warehouse, "SELECT order_id, status FROM landing.raw_erp_sales_orders_history ORDER BY 1, 2") == [
        ("SO-0000001", "OPEN"), ("SO-0000001", "RELEASED")
    ]
    run_sql(erp, "UPDATE sales_orders SET status = 'CLOSED', updated_at = now() WHERE order_id = 'SO-0000003'")
    result = poll("erp")
    assert (result.restarted, result.changes) == (None, 1)


def test_a_cursor_read_counts_as_one_change_per_key_only_where_the_primary_key_says_so(landscape):
    """A cursor poll skips picking the last change per key only for a table whose primary key
    lies within the mapped key: one read then holds each key once."""
    erp = landscape["erp"]
    lines = source_table("erp", "order_lines")  # mapped key (order_id, line_no)
    engine = sa.create_engine(erp.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:  # each change rolled back
            assert key_is_unique(conn, lines)
            conn.execute(sa.text("ALTER TABLE order_lines DROP CONSTRAINT order_lines_pkey, ADD PRIMARY KEY (order_id, line_no, sku)"))
            assert not key_is_unique(conn, lines)  # a wider primary key: a mapped key may come twice
            conn.rollback()
            conn.execute(sa.text("ALTER TABLE order_lines DROP CONSTRAINT order_lines_pkey"))
            assert not key_is_unique(conn, lines)
            conn.rollback()
    finally:
        engine.dispose()


def test_replay_after_a_crash_between_commit_and_slot_advance(landscape, monkeypatch):
    """The warehouse committed but the slot was never advanced: the next poll must skip, not re-apply."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    poll("erp")
    run_sql(erp, "INSERT INTO customers VALUES ('C000001', 'Acme', 'USD', 30, true, '2026-01-01T00:00Z')")
    poll_dying_in(monkeypatch, log_reader.LogReader, "advance")
    replay = poll("erp")
    assert replay.transactions == 0
    [(captured_at_count,)] = query(landscape["warehouse"], "SELECT count(*) FROM landing.raw_erp_customers")
    assert captured_at_count == 1
    [(changes,)] = query(landscape["warehouse"], "SELECT changes FROM ops.capture_state WHERE stream = 'slot:erp'")
    assert changes == 1


def poll_dying_in(monkeypatch, owner: type, method: str) -> None:
    """An ERP poll killed where it calls `owner.method`."""
    def crash(*args):
        raise RuntimeError(f"killed in {method}")

    with monkeypatch.context() as patch:
        patch.setattr(owner, method, crash)
        with pytest.raises(RuntimeError):
            poll("erp")


def test_a_poll_that_dies_between_creating_the_slot_and_its_snapshot_starts_again(landscape, monkeypatch):
    """The slot exists but its snapshot never finished: the next poll must not trust the slot."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    run_sql(erp, "INSERT INTO customers VALUES ('C000001', 'Acme', 'USD', 30, true, '2026-01-01T00:00Z')")
    poll_dying_in(monkeypatch, Warehouse, "load_snapshot")  # copying the tables
    assert query(erp, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()") == [(1,)]
    assert poll("erp").initialised
    assert landing(landscape, "raw_erp_customers", "customer_id, name") == [("C000001", "Acme")]


DROP_SLOTS = "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()"
HISTORY = "SELECT order_id, status FROM landing.raw_erp_sales_orders_history ORDER BY 1, 2"


def captured_with_history(env: dict) -> None:
    """SO-0000001 captured OPEN, then RELEASED: its history holds OPEN."""
    run_sql(env["erp"], "INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', now(), now())")
    poll("erp")
    run_sql(env["erp"], "UPDATE sales_orders SET status = 'RELEASED', updated_at = now() + interval '1 hour'")
    poll("erp")
    assert query(env["warehouse"], HISTORY) == [("SO-0000001", "OPEN")]


def test_a_restart_whose_copy_died_is_not_trusted(landscape, monkeypatch):
    """The slot is gone (dropped by hand, say): the poll starts a new one and dies copying the
    tables. The next poll finds that slot, but the position stored is the old slot's: it must
    start again, not take the half-copied landing for the source's rows."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    run_sql(erp, "INSERT INTO customers VALUES ('C000001', 'Acme', 'USD', 30, true, '2026-01-01T00:00Z')")
    poll("erp")
    run_sql(erp, DROP_SLOTS)
    run_sql(erp, "INSERT INTO customers VALUES ('C000002', 'Beta', 'USD', 30, true, '2026-01-01T00:00Z')")
    run_sql(erp, "DELETE FROM customers WHERE customer_id = 'C000001'")
    poll_dying_in(monkeypatch, Warehouse, "load_snapshot")  # copying the tables
    result = poll("erp")
    assert result.initialised and "did not finish (it stopped while copying the tables)" in result.restarted
    assert landing(landscape, "raw_erp_customers", "customer_id, name") == [("C000002", "Beta")]


def test_a_poll_dying_between_dropping_a_lost_slot_and_creating_the_next_keeps_the_history(landscape, pg_admin_url, monkeypatch):
    """The next poll finds no slot at all: the source is the same, so the value history stays
    and the operator is told the capture started again."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    poll("erp")
    captured_with_history(landscape)
    invalidate_slot(pg_admin_url, landscape["erp"])
    poll_dying_in(monkeypatch, log_reader.LogReader, "create_slot")  # after dropping the lost slot
    assert "no longer exists on the source" in poll("erp").restarted
    assert query(landscape["warehouse"], HISTORY) == [("SO-0000001", "OPEN")]


def test_a_rebuilt_source_database_starts_its_value_history_afresh(landscape, pg_admin_url, monkeypatch):
    """Same URL, another database (dropped and created again): its rows' past is not the old one's."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    poll("erp")
    captured_with_history(landscape)
    name = sa.make_url(landscape["erp"]).database
    run_sql(landscape["erp"], DROP_SLOTS)
    dispose_engines()
    run_sql(pg_admin_url, sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    run_sql(pg_admin_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    run_sql(landscape["erp"], (DDL / "erp.sql").read_text())
    result = poll("erp")
    assert result.initialised and result.restarted is None
    assert query(landscape["warehouse"], HISTORY) == []
    assert landing(landscape, "raw_erp_sales_orders", "order_id, status") == []


def wait_for_apply(warehouse: str, timeout_s: float = 60.0) -> None:
    """Until a Waybill connection to `warehouse` is copying changes in (the apply has begun)."""
    deadline = time.monotonic() + timeout_s
    while not query(
        warehouse,
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'waybill-warehouse' "
        "AND state = 'active' AND query LIKE 'COPY %'",
    ):
        assert time.monotonic() < deadline, "the poller never began to apply"
        time.sleep(0.005)


@pytest.mark.parametrize("kill_after", [0.0, 0.15, 0.35])
def test_sigkill_during_apply_then_rerun_equals_an_uninterrupted_run(landscape, monkeypatch, kill_after):
    """The poller is killed `kill_after` seconds into its apply (its first COPY into the
    warehouse): inserts copied straight into landing, the stage, or the merge."""
    monkeypatch.setenv("WAYBILL_CAPTURE_FLEET", "log")
    fleet = landscape["fleet"]
    poll("fleet")
    run_sql(
        fleet,
        "INSERT INTO telematics_events SELECT g, 'ev-' || g, 'D' || lpad((g % 500)::text, 7, '0'), 'POSITION', NULL, "
        "timestamptz '2026-10-01 00:00Z' + g * interval '1 second', timestamptz '2026-10-01 00:00Z' + g * interval '2 second', "
        "jsonb_build_object('lat', 33.7, 'lon', -84.3, 'speed_kmh', g % 90) FROM generate_series(1, 60000) g",
    )
    poll("fleet")
    run_sql(fleet, "UPDATE telematics_events SET event_type = 'ETA_UPDATE' WHERE seq % 7 = 0")
    run_sql(fleet, "DELETE FROM telematics_events WHERE seq % 11 = 0")
    run_sql(
        fleet,
        "INSERT INTO telematics_events SELECT g, 'ev-' || g, 'D0000001', 'DEPARTED', NULL, "
        "timestamptz '2026-10-02 00:00Z', timestamptz '2026-10-02 00:01Z', NULL FROM generate_series(60001, 180000) g",
    )
    dispose_engines()
    poller = subprocess.Popen(
        [sys.executable, "-c", "from sync_assets.changes.poll import poll_source; from resources.warehouse import Warehouse; "
         "from resources.sources import SourceDatabase; poll_source(Warehouse(), SourceDatabase(system='fleet'))"],
        env=os.environ.copy(),
        start_new_session=True,
    )
    wait_for_apply(landscape["warehouse"])
    time.sleep(kill_after)
    os.killpg(poller.pid, signal.SIGKILL)
    assert poller.wait() == -signal.SIGKILL  # it really died mid-apply (applying ~150 k changes takes about a second)
    poll("fleet")
    source = query(fleet, "SELECT seq, event_type, payload::text FROM telematics_events ORDER BY 1")
    captured = landing(landscape, "raw_fleet_telematics_events", "seq, event_type, payload::text")
    assert captured == source
    assert query(landscape["warehouse"], "SELECT count(*) FROM landing.raw_fleet_telematics_events WHERE _operation = 'delete'") == [
        (60000 // 11,)
    ]


def test_a_large_poll_alternating_between_tables_stages_each_in_turn(landscape, monkeypatch):
    """Landing and the stages fill while the slot is read, one COPY at a time: orders, then
    lines, then orders again once the read reaches their update, each into the COPY it started."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    poll("erp")
    run_sql(erp, "INSERT INTO sales_orders SELECT 'SO-' || lpad(g::text, 7, '0'), 'C000001', 'WH-ATL', 'CS-000001-01', "
                 "NULL, 'OPEN', '2026-10-01', '2026-10-01' FROM generate_series(1, 8000) g")
    run_sql(erp, "INSERT INTO order_lines SELECT 'SO-' || lpad(g::text, 7, '0'), 1, 'sku-00001', g, '2026-10-01' "
                 "FROM generate_series(1, 8000) g")
    run_sql(erp, "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-02' WHERE order_id <= 'SO-0006000'")
    written = []
    write = ChangeStages._write
    monkeypatch.setattr(
        ChangeStages, "_write", lambda stages, key, landing, rows: written.append((key[1], landing)) or write(stages, key, landing, rows)
    )
    assert poll("erp").changes == 22000
    # The inserts of this large poll go straight into landing, the updates through the stage.
    assert [copy for i, copy in enumerate(written) if i == 0 or written[i - 1] != copy] == [
        ("sales_orders", True), ("order_lines", True), ("sales_orders", False)
    ]
    for table, columns in (("sales_orders", "order_id, status, updated_at"), ("order_lines", "order_id, line_no, quantity")):
        assert landing(landscape, f"raw_erp_{table}", columns) == query(erp, f"SELECT {columns} FROM {table} ORDER BY 1, 2")


def test_a_change_the_capture_cannot_read_stops_the_poll_with_nothing_applied(landscape, monkeypatch):
    """The changes before it are already streaming into the warehouse's staging table when the
    unreadable one comes: the poll fails naming it, and lands nothing, on every retry."""
    monkeypatch.setenv("WAYBILL_CAPTURE_FLEET", "log")
    fleet = landscape["fleet"]
    poll("fleet")
    run_sql(
        fleet,
        "INSERT INTO telematics_events SELECT g, 'ev-' || g, 'D0000001', 'POSITION', NULL, "
        "timestamptz '2026-10-01 00:00Z', timestamptz '2026-10-01 00:01Z', NULL FROM generate_series(1, 25000) g",
    )
    # Without a replica identity a delete carries no key: nothing can say which row went.
    run_sql(fleet, "ALTER TABLE telematics_events REPLICA IDENTITY NOTHING; DELETE FROM telematics_events WHERE seq = 1")
    for _ in range(2):
        with pytest.raises(DecodingError, match=r"change at [0-9A-F]+/[0-9A-F]+: delete on a table without a replica identity"):
            poll("fleet")
        assert query(landscape["warehouse"], "SELECT count(*) FROM landing.raw_fleet_telematics_events") == [(0,)]


def test_schema_drift_stops_capture_naming_table_and_column(landscape, mode):
    wms = landscape["wms"]
    poll("wms")
    run_sql(wms, "ALTER TABLE loads ALTER COLUMN dock_door TYPE int USING NULL; INSERT INTO loads VALUES "
                 "('L000001', 'so0000001', 'ATL', 7, 'PLANNED', NULL, '2026-10-01 08:00')")
    with pytest.raises(SchemaDriftError, match=r"wms\.loads\.dock_door: type changed in the source: mapped text, found integer"):
        poll("wms")
    assert query(landscape["warehouse"], "SELECT count(*) FROM landing.raw_wms_loads") == [(0,)]


def test_a_drifted_table_stops_a_log_poll_even_when_only_another_table_changed(landscape, monkeypatch):
    """The source stops, as a cursor poll stops it: not only once the drifted table has a change."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "log")
    wms = landscape["wms"]
    poll("wms")
    run_sql(wms, "ALTER TABLE loads RENAME COLUMN dock_door TO door")
    run_sql(wms, MOVEMENT, (1,))
    with pytest.raises(SchemaDriftError, match=r"wms\.loads\.dock_door: column missing in the source"):
        poll("wms")
    assert query(landscape["warehouse"], "SELECT count(*) FROM landing.raw_wms_inventory_movements") == [(0,)]


def test_a_change_written_while_a_column_was_renamed_stops_log_capture_until_the_slot_is_restarted(landscape, monkeypatch):
    """The catalog is back as mapped when the poll runs, but the row in the slot has no
    `dock_door`: it must not land with NULL there. Dropping the slot, as the error says, brings
    the table back whole."""
    monkeypatch.setenv("WAYBILL_CAPTURE_WMS", "log")
    wms = landscape["wms"]
    poll("wms")
    run_sql(wms, "ALTER TABLE loads RENAME COLUMN dock_door TO door")
    run_sql(wms, "INSERT INTO loads VALUES ('L000001', 'so0000001', 'ATL', 'D7', 'PLANNED', NULL, '2026-10-01 08:00')")
    run_sql(wms, "ALTER TABLE loads RENAME COLUMN door TO dock_door")
    for _ in range(2):
        with pytest.raises(SchemaDriftError, match=r"wms\.loads\.dock_door: column missing in the change at .* drop "
                                                   r"replication slot waybill_wms_\w+ on the source"):
            poll("wms")
    assert query(landscape["warehouse"], "SELECT count(*) FROM landing.raw_wms_loads") == [(0,)]
    run_sql(wms, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()")
    poll("wms")
    assert landing(landscape, "raw_wms_loads", "load_id, dock_door") == [("L000001", "D7")]


def test_the_nightly_catch_up_takes_every_waiting_change_a_single_poll_does_not(landscape):
    """A poll stops at its size limit (the slot keeps the rest); the nightly's catch-up polls on."""
    run_sql(landscape["erp"], (
        "INSERT INTO sales_orders SELECT 'SO-' || lpad(g::text, 7, '0'), 'C000001', 'WH-ATL', 'CS-000001-01', NULL, "
        "'OPEN', '2026-10-01T08:00Z', '2026-10-01T08:00Z' FROM generate_series(1, 5) g"))
    warehouse, erp = Warehouse(), SourceDatabase(system="erp")
    catch_up(warehouse, erp)  # the first poll: slot and initial copy
    for g in range(6, 31):  # 25 transactions, one order each
        run_sql(landscape["erp"], f"INSERT INTO sales_orders VALUES ('SO-{g:07d}', 'C000001', 'WH-ATL', 'CS-000001-01', "
                                  "NULL, 'OPEN', '2026-10-02T08:00Z', '2026-10-02T08:00Z')")
    one = poll_source(warehouse, erp, max_changes=10)
    assert not one.caught_up and len(landing(landscape, "raw_erp_sales_orders", "order_id, status")) < 30
    rest = catch_up(warehouse, erp, max_changes=10)
    assert rest.caught_up and one.changes + rest.changes == 25
    assert len(landing(landscape, "raw_erp_sales_orders", "order_id, status")) == 30


def test_auto_mode_is_log_where_the_role_may_replicate_and_cursor_where_it_may_not(landscape_env, monkeypatch):
    """'auto' must not choose log capture where the slot could never be created (a stock server,
    or, as here, a role without the replication privilege)."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "auto")
    url = sa.engine.make_url(landscape_env["erp"])
    assert SourceDatabase(system="erp", url=url.render_as_string(hide_password=False)).capture_mode() == "log"
    role = f"reader_{uuid.uuid4().hex[:8]}"
    run_sql(landscape_env["erp"], sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOREPLICATION").format(sql.Identifier(role)))
    try:
        reader = url.set(username=role).render_as_string(hide_password=False)
        assert SourceDatabase(system="erp", url=reader).capture_mode() == "cursor"
    finally:
        dispose_engines()
        run_sql(landscape_env["erp"], sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))



def test_a_large_poll_copies_inserts_into_landing_and_reads_again_when_one_meets_a_known_key(landscape, monkeypatch):
    """A large poll copies inserts straight into landing. An insert of a key landing holds (an
    order line deleted and added again) fails that COPY, and the poll reads the slot again with
    that table's inserts through the merge, the other tables' still straight in; a second table
    that conflicts sends them all through the merge. Landing ends exact, and a rolled-back
    attempt leaves nothing behind."""
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    orders, lines = ("public", "sales_orders"), ("public", "order_lines")
    poll("erp")
    attempts, copies = [], []  # per attempt: its direct tables, its COPYs as (table, into landing)
    apply, write = log_capture._apply, ChangeStages._write

    def attempt(*args, direct):
        attempts.append(set(direct) & {orders, lines})
        copies.append(set())
        return apply(*args, direct=direct)

    monkeypatch.setattr(log_capture, "_apply", attempt)
    monkeypatch.setattr(ChangeStages, "_write", lambda stages, key, landing, rows: copies[-1].add((key, landing)) or write(stages, key, landing, rows))
    order = ("INSERT INTO sales_orders SELECT 'SO-' || lpad(g::text, 7, '0'), 'C000001', 'WH-ATL', 'CS-000001-01', NULL, "
             "'OPEN', '2026-10-01', '2026-10-01' FROM generate_series(%s::int, %s::int) g")
    line = "INSERT INTO order_lines SELECT 'SO-' || lpad(g::text, 7, '0'), 1, 'SKU-00001', 1, '2026-10-01' FROM generate_series(%s::int, %s::int) g"
    run_sql(erp, order, (1, 20_000))
    run_sql(erp, line, (1, 20))
    result = poll("erp")
    assert attempts == [{orders, lines}] and result.reread is None
    assert (result.changes, result.counts["erp.sales_orders"]) == (20_020, MergeCounts(20_000, 0, 0))

    attempts.clear(), copies.clear()
    run_sql(erp, "DELETE FROM order_lines WHERE order_id = 'SO-0000007'")
    run_sql(erp, line, (7, 7))  # a key landing holds
    run_sql(erp, order, (20_001, 40_000))
    result = poll("erp")
    assert attempts == [{orders, lines}, {orders}] and "erp.order_lines: duplicate key" in result.reread
    assert copies[-1] == {(orders, True), (lines, False)}  # the lines' delete and insert merged, the orders straight in
    assert result.changes == 20_002 and result.counts["erp.sales_orders"].inserted == 20_000

    attempts.clear()
    run_sql(erp, "DELETE FROM order_lines WHERE order_id = 'SO-0000008'; DELETE FROM sales_orders WHERE order_id = 'SO-0000008'")
    run_sql(erp, line, (8, 8))
    run_sql(erp, order, (8, 8))
    run_sql(erp, order, (40_001, 60_000))
    result = poll("erp")
    assert len(attempts) == 3 and attempts[-1] == set() and (orders, True) not in copies[-1]
    for table, columns in (("sales_orders", "order_id, status"), ("order_lines", "order_id, line_no")):
        everything = landing(landscape, f"raw_erp_{table}", columns, where="true")  # tombstones too
        assert everything == query(erp, f"SELECT {columns} FROM {table} ORDER BY 1, 2")


def test_an_update_that_moves_a_row_to_a_new_key_keeps_the_large_value_it_left_unchanged(landscape, monkeypatch):
    """test_decoding prints a TOASTed value an update did not change as `unchanged-toast-datum`,
    also when the update changed the key: the value is the old key's, whether landing holds it,
    an earlier change in the same poll replaced it, or the row moved twice in one poll."""
    billing = disputes_with_large_reasons(landscape, monkeypatch)
    run_sql(billing, "UPDATE disputes SET dispute_id = 'DS-3' WHERE dispute_id = 'DS-2'")  # from landing
    run_sql(billing, f"UPDATE disputes SET reason = ({BIG}) WHERE dispute_id = 'DS-1'", ("c",))
    run_sql(billing, "UPDATE disputes SET dispute_id = 'DS-5' WHERE dispute_id = 'DS-1'")  # from this poll
    run_sql(billing, "UPDATE disputes SET dispute_id = 'DS-9' WHERE dispute_id = 'DS-5'")  # moved again
    run_sql(billing, "UPDATE disputes SET status = 'WON' WHERE dispute_id = 'DS-9'")  # and then updated
    poll("billing")
    columns = "dispute_id, md5(reason), status"
    assert landing(landscape, "raw_billing_disputes", columns) == query(billing, f"SELECT {columns} FROM disputes ORDER BY 1, 2")


def test_a_large_poll_stages_inserts_after_a_key_change(landscape, monkeypatch):
    """A key an update moved a row to, then deleted and inserted again in one large poll, is
    nowhere in landing: copied straight in, its insert would land before the staged changes
    that came first, and the merge would end with their delete."""
    monkeypatch.setattr(log_capture, "IDLE_TEST_BYTES", -1)
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    erp = landscape["erp"]
    run_sql(erp, "INSERT INTO order_lines VALUES ('SO-0000001', 1, 'SKU-00001', 5, '2026-10-01')")
    poll("erp")
    poll("erp")  # the second poll is the first that may copy straight in
    run_sql(erp, "UPDATE order_lines SET line_no = 11 WHERE order_id = 'SO-0000001' AND line_no = 1")
    run_sql(erp, "DELETE FROM order_lines WHERE order_id = 'SO-0000001' AND line_no = 11")
    run_sql(erp, "INSERT INTO order_lines VALUES ('SO-0000001', 11, 'SKU-00002', 7, '2026-10-02')")
    poll("erp")
    columns = "order_id, line_no, sku, quantity"
    assert landing(landscape, "raw_erp_order_lines", columns) == [("SO-0000001", 11, "SKU-00002", 7)]


@pytest.mark.parametrize("seed", [2, 5])
@pytest.mark.parametrize("polls", ["small", "large"])
def test_a_random_workload_lands_exactly_what_the_source_holds(landscape, monkeypatch, polls, seed):
    """A seeded random mix of inserts (some of keys an update moved a row away from), updates
    (some leaving a large value unchanged, some changing a key, some both), deletes and truncates, in transactions of one to four statements, polled
    at random moments with random size limits: after every catch-up, landing's live rows are
    the source's rows, column for column. `large`: every poll reads as a large one does (no
    idle test, inserts straight into landing, read again through the stage on a known key)."""
    if polls == "large":
        monkeypatch.setattr(log_capture, "IDLE_TEST_BYTES", -1)
    monkeypatch.setenv("WAYBILL_CAPTURE_ERP", "log")
    monkeypatch.setenv("WAYBILL_CAPTURE_BILLING", "log")
    erp, billing = landscape["erp"], landscape["billing"]
    rng = random.Random(seed)  # both seeds failed before key changes kept their large values
    compared = {
        erp: ("order_lines", "order_id, line_no, sku, quantity, updated_at"),
        billing: ("disputes", "dispute_id, md5(coalesce(reason, '')), amount, status, updated_at"),
    }

    def keys(conn: psycopg.Connection, statement: str) -> list:
        """Read in the writing transaction: after its TRUNCATE, any other would wait for it."""
        return [row[0] if len(row) == 1 else row for row in conn.execute(statement).fetchall()]

    def statement(url: str, conn: psycopg.Connection) -> tuple[str, tuple]:
        if url == erp:
            lines = keys(conn, "SELECT order_id, line_no FROM order_lines ORDER BY 1, 2")
            kind = rng.choice(["insert"] * 4 + ["update"] * 3 + ["key", "delete", "delete"] if lines else ["insert"])
            kind = "truncate" if lines and rng.random() < 0.03 else kind
            if kind == "insert":
                return ("INSERT INTO order_lines VALUES (%s, %s, 'SKU-00001', %s, now()) ON CONFLICT DO NOTHING",
                        (f"SO-{rng.randrange(40):07d}", rng.choice([1, 2, 3, 11, 12, 13]), rng.randrange(100)))
            order_id, line_no = rng.choice(lines)
            if kind == "update":  # half of them skip updated_at, like the ERP's corrections
                stamp = ", updated_at = now()" if rng.random() < 0.5 else ""
                return (f"UPDATE order_lines SET quantity = %s{stamp} WHERE order_id = %s AND line_no = %s",
                        (rng.randrange(100), order_id, line_no))
            if kind == "key":
                return ("UPDATE order_lines SET line_no = line_no + 10 WHERE order_id = %s AND line_no = %s "
                        "AND NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = %s AND line_no = %s)",
                        (order_id, line_no, order_id, line_no + 10))
            if kind == "delete":
                return "DELETE FROM order_lines WHERE order_id = %s AND line_no = %s", (order_id, line_no)
            return "TRUNCATE order_lines", ()
        disputes = keys(conn, "SELECT dispute_id FROM disputes ORDER BY 1")
        kind = rng.choice(["insert", "insert", "status", "reason", "key", "delete"] if disputes else ["insert"])
        if kind == "insert":  # a reason of several kB is stored out of line (TOAST)
            size = rng.choice([0, 10, 400])
            return ("INSERT INTO disputes SELECT %s, 'SO-0000001', (SELECT string_agg(md5(g::text || %s), '') "
                    "FROM generate_series(1, %s) g), %s, 'OPEN', now(), now() ON CONFLICT DO NOTHING",
                    (f"DS-{rng.randrange(30)}", str(rng.random()), size, rng.randrange(1000)))
        dispute = rng.choice(disputes)
        if kind == "status":  # leaves the large reason unchanged: not in the log
            return "UPDATE disputes SET status = %s, updated_at = now() WHERE dispute_id = %s", (rng.choice(["OPEN", "WON", "LOST"]), dispute)
        if kind == "reason":
            return "UPDATE disputes SET reason = %s, updated_at = now() WHERE dispute_id = %s", (str(rng.random()), dispute)
        if kind == "key":  # the large reason unchanged again, now under another key
            other = f"DS-{rng.randrange(30)}"
            return ("UPDATE disputes SET dispute_id = %s WHERE dispute_id = %s "
                    "AND NOT EXISTS (SELECT 1 FROM disputes WHERE dispute_id = %s)", (other, dispute, other))
        return "DELETE FROM disputes WHERE dispute_id = %s", (dispute,)

    for system in ("erp", "billing"):
        poll(system)
    for round_ in range(12):
        for _ in range(rng.randrange(3, 12)):
            url = rng.choice([erp, billing])
            with psycopg.connect(url) as conn:  # one transaction of one to four statements
                for _ in range(rng.randrange(1, 5)):
                    conn.execute(*statement(url, conn))
            if rng.random() < 0.3:
                system = "erp" if url == erp else "billing"
                poll_source(Warehouse(), SourceDatabase(system=system), max_changes=rng.choice([3, 20, 200_000]))
        for url, (table, columns) in compared.items():
            system = "erp" if url == erp else "billing"
            catch_up(Warehouse(), SourceDatabase(system=system), max_changes=rng.choice([3, 20, 200_000]))
            assert landing(landscape, f"raw_{system}_{table}", columns) == query(url, f"SELECT {columns} FROM {table} ORDER BY 1, 2"), (
                f"round {round_}: {table}"
            )
