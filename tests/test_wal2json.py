"""Log capture through wal2json, where the source server has it: its rows read exactly, and a
source on such a server captured like one read through test_decoding.

The parser tests need no server. The capture tests use the machine's PostgreSQL for the sources
(the embedded server has no wal2json) and skip where it is missing, does not have wal_level =
logical, or will not load wal2json (`.ci/run` sets that server up when it can).
"""

import uuid
from pathlib import Path

import psycopg
import pytest

from conftest import SYSTEM_PG_URL, check_truncates_are_captured, query, run_sql, scratch_databases, system_pg_available
from resources.capture.test_decoding import DecodingError, MissingColumn
from resources.capture.wal2json import Wal2JsonLines, peek_options
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes import log_capture
from sync_assets.changes.pending import pending_changes
from sync_assets.changes.poll import poll_source

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl"
T = ("public", "t")


def lines_for(*rows: str) -> list[str]:
    lines = Wal2JsonLines({T: ("id", "v", "n", "b", "j", "big")})
    for lsn, row in enumerate(rows):
        lines.add(row, f"0/{lsn}")
    return lines.rows[T]


def test_values_become_copy_text_exactly():
    [row] = lines_for(
        '{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":1},'
        '{"name":"v","type":"text","value":"a\'b\\"c\\\\d\\ttab\\nline"},{"name":"n","type":"numeric(12,2)","value":12345678901.25},'
        '{"name":"b","type":"boolean","value":false},{"name":"j","type":"jsonb","value":"{\\"x\\": [1, 2.50]}"},'
        '{"name":"big","type":"text","value":null}]}'
    )
    assert row == "1\tinsert\t0/0\t1\ta'b\"c\\\\d\\ttab\\nline\t12345678901.25\tf\t{\"x\": [1, 2.50]}\t\\N\t\\N\n"


def test_an_insert_without_a_mapped_column_is_drift_not_a_null():
    with pytest.raises(MissingColumn, match=r"change at 0/0: t has no column big"):
        lines_for('{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":1},'
                  '{"name":"v","type":"text","value":"a"},{"name":"n","type":"numeric(12,2)","value":1},'
                  '{"name":"b","type":"boolean","value":false},{"name":"j","type":"jsonb","value":null},'
                  '{"name":"bigger","type":"text","value":"x"}]}')


def test_update_without_an_unchanged_large_value_marks_it_and_a_key_change_deletes_the_old_key():
    same_key, new_key = lines_for(
        '{"action":"U","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":1},'
        '{"name":"v","type":"text","value":"new"},{"name":"n","type":"numeric","value":1},{"name":"b","type":"boolean","value":true},'
        '{"name":"j","type":"jsonb","value":null}],"identity":[{"name":"id","type":"integer","value":1}]}',
        '{"action":"U","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":2},'
        '{"name":"v","type":"text","value":"x"},{"name":"n","type":"numeric","value":1},{"name":"b","type":"boolean","value":true},'
        '{"name":"j","type":"jsonb","value":null},{"name":"big","type":"text","value":"y"}],'
        '"identity":[{"name":"id","type":"integer","value":1}]}',
    )[0], lines_for(
        '{"action":"U","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":2},'
        '{"name":"v","type":"text","value":"x"},{"name":"n","type":"numeric","value":1},{"name":"b","type":"boolean","value":true},'
        '{"name":"j","type":"jsonb","value":null},{"name":"big","type":"text","value":"y"}],'
        '"identity":[{"name":"id","type":"integer","value":1}]}'
    )
    assert same_key == "1\tupdate\t0/0\t1\tnew\t1\tt\t\\N\t\\N\t{big}\n"
    assert new_key == [
        "1\tdelete\t0/0\t1\t\\N\t\\N\t\\N\t\\N\t\\N\t{}\n",  # marked: it starts a key change
        "2\tupdate\t0/0\t2\tx\t1\tt\t\\N\ty\t\\N\n",
    ]


def test_delete_begin_commit_messages_and_other_tables():
    rows = lines_for(
        '{"action":"B"}',
        '{"action":"M","transactional":true,"prefix":"p","content":"hello"}',
        '{"action":"I","schema":"public","table":"other","columns":[{"name":"id","type":"integer","value":9}]}',
        '{"action":"D","schema":"public","table":"t","identity":[{"name":"id","type":"integer","value":7}]}',
        '{"action":"C"}',
    )
    assert rows == ["1\tdelete\t0/3\t7\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"]


def test_rows_read_again_through_a_learnt_template_come_out_as_the_json_path_gives_them():
    """The second row of a shape is read by the template learnt from the first (no JSON decoding);
    a row of that shape that needs escaping goes the JSON way."""
    shapes = [
        '{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":%d},'
        '{"name":"v","type":"text","value":"x%d"},{"name":"n","type":"numeric","value":-1.5e3},{"name":"b","type":"boolean","value":true},'
        '{"name":"j","type":"jsonb","value":"{}"},{"name":"big","type":"text","value":null}]}',
        '{"action":"U","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":%d},'
        '{"name":"v","type":"text","value":"y%d"},{"name":"n","type":"numeric","value":2},{"name":"b","type":"boolean","value":false},'
        '{"name":"j","type":"jsonb","value":null}],"identity":[{"name":"id","type":"integer","value":7}]}',
        '{"action":"D","schema":"public","table":"t","identity":[{"name":"id","type":"integer","value":%d}]}%.0s',
    ]
    for shape in shapes:
        lines = Wal2JsonLines({T: ("id", "v", "n", "b", "j", "big")})
        lines.add(shape % (7, 7), "0/9")
        first = len(lines.rows[T])
        lines.add(shape % (8, 8), "0/9")
        assert len(lines._templates) == 1  # learnt from the first row, used for the second
        fresh = Wal2JsonLines({T: ("id", "v", "n", "b", "j", "big")})
        fresh.add(shape % (8, 8), "0/9")
        second = [row.split("\t", 1)[1] for row in lines.rows[T][first:]]
        assert second == [row.split("\t", 1)[1] for row in fresh.rows[T]]
    lines = Wal2JsonLines({T: ("id", "v", "n", "b", "j", "big")})
    lines.add(shapes[0] % (1, 1), "0/1")
    lines.add(shapes[0].replace('"x%d"', '"tab\\there"') % 2, "0/2")
    assert lines.rows[T][1].split("\t")[4] == "tab\\there"  # COPY's escape for the tab JSON decoded


def test_a_value_written_unlike_its_type_leaves_the_template_for_the_json_path():
    """A template reads numbers bare and booleans as true / false; wal2json quotes a numeric NaN,
    so that row is decoded as JSON, and the rows after it use the template again."""
    shape = ('{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":%s},'
             '{"name":"n","type":"numeric(12,2)","value":%s},{"name":"b","type":"boolean","value":%s}]}')
    lines = Wal2JsonLines({T: ("id", "n", "b")})
    for values in (("1", "2.50", "true"), ("2", '"NaN"', "false"), ("3", "null", "null"), ("4", "-0.5", "false")):
        lines.add(shape % values, "0/1")
    assert len(lines._templates) == 1
    assert [row.split("\t", 3)[3] for row in lines.rows[T]] == [
        "1\t2.50\tt\t\\N\n", "2\tNaN\tf\t\\N\n", "3\t\\N\t\\N\t\\N\n", "4\t-0.5\tf\t\\N\n",
    ]


def test_a_truncate_of_a_captured_table_is_a_truncate_row_and_others_are_skipped():
    lines = Wal2JsonLines({T: ("id", "v"), ("public", "u"): ("id",)})
    for row in ('{"action":"T","schema":"public","table":"other"}', '{"action":"T","schema":"public","table":"t"}'):
        lines.add(row, "0/5")
    assert lines.rows == {T: ["1\ttruncate\t0/5\t\\N\t\\N\t\\N\n"], ("public", "u"): []}
    assert lines.truncated == {T}


def test_direct_inserts_come_apart_as_landing_rows_until_a_truncate_of_their_table():
    lines = Wal2JsonLines({T: ("id", "v")}, direct={T})
    insert = '{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":%d},{"name":"v","type":"text","value":"%s"}]}'
    for lsn, row in enumerate([insert % (1, "a"), insert % (2, "b"), '{"action":"T","schema":"public","table":"t"}', insert % (3, "c")]):
        lines.add(row, f"0/{lsn}")
    assert lines.inserts[T] == ["1\ta\t0/0\n", "2\tb\t0/1\n"]
    assert lines.rows[T] == ["3\ttruncate\t0/2\t\\N\t\\N\t\\N\n", "4\tinsert\t0/3\t3\tc\t\\N\n"]


def test_after_a_key_change_the_tables_inserts_go_through_the_stage():
    lines = Wal2JsonLines({T: ("id", "v")}, direct={T})
    insert = '{"action":"I","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":%d},{"name":"v","type":"text","value":"%s"}]}'
    key_change = ('{"action":"U","schema":"public","table":"t","columns":[{"name":"id","type":"integer","value":2},'
                  '{"name":"v","type":"text","value":"a"}],"identity":[{"name":"id","type":"integer","value":1}]}')
    for lsn, row in enumerate([insert % (1, "a"), key_change, insert % (1, "b")]):
        lines.add(row, f"0/{lsn}")
    assert lines.inserts[T] == ["1\ta\t0/0\n"]
    assert lines.rows[T] == ["2\tdelete\t0/1\t1\t\\N\t{}\n", "3\tupdate\t0/1\t2\ta\t\\N\n", "4\tinsert\t0/2\t1\tb\t\\N\n"]


@pytest.mark.parametrize(
    "row, reason",
    [
        ('{"action":"X","schema":"public","table":"t"}', "'X' on 't' is not a row change"),
        ('{"action":"I","schema":"public","table":"t"', "unreadable wal2json row"),
        ('{"action":"D","schema":"public","table":"t","identity":[]}', "without a replica identity"),
        ('{"action":"I","schema":"public","table":"t"}', "wal2json row without 'columns'"),
    ],
)
def test_rows_it_cannot_apply_are_errors_naming_the_lsn(row, reason):
    with pytest.raises(DecodingError, match="change at 0/0: .*" + reason.replace("(", r"\(")):
        lines_for(row)


def test_the_table_filter_escapes_separators():
    assert peek_options([("public", "sales_orders"), ("odd,schema", "a.b")], False) == (
        "format-version", "2", "include-transaction", "false", "add-tables", "public.sales_orders,odd\\,schema.a\\.b",
    )


def _wal2json_refusal() -> str | None:
    """Why the machine's server cannot run these tests, or None when it can."""
    if not system_pg_available():
        return f"no PostgreSQL at {SYSTEM_PG_URL}"
    with psycopg.connect(SYSTEM_PG_URL, autocommit=True) as conn:
        try:
            conn.execute("SELECT pg_create_logical_replication_slot(%s, 'wal2json', true)", (f"probe_{uuid.uuid4().hex[:8]}",))
        except psycopg.Error as error:
            return f"{SYSTEM_PG_URL} cannot decode with wal2json: {str(error).splitlines()[0]}"
    return None


@pytest.fixture
def wal2json_landscape(landscape_env, monkeypatch):
    """The warehouse on the test server; ERP and billing on the machine's server, captured by log."""
    refusal = _wal2json_refusal()
    if refusal:
        pytest.skip(refusal)
    with scratch_databases(SYSTEM_PG_URL) as urls:
        for system in ("erp", "billing"):
            monkeypatch.setenv(f"WAYBILL_{system.upper()}_URL", urls[system])
            monkeypatch.setenv(f"WAYBILL_CAPTURE_{system.upper()}", "log")
            run_sql(urls[system], (DDL / f"{system}.sql").read_text())
        yield {**landscape_env, "erp": urls["erp"], "billing": urls["billing"]}
        for system in ("erp", "billing"):
            run_sql(urls[system], "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()")


def poll(system: str):
    return poll_source(Warehouse(), SourceDatabase(system=system))


def test_a_source_that_can_load_wal2json_is_captured_through_it_exactly(wal2json_landscape):
    env = wal2json_landscape
    erp, billing, wh = env["erp"], env["billing"], env["warehouse"]
    assert poll("erp").decoder == "wal2json"
    run_sql(
        erp,
        "INSERT INTO sales_orders VALUES ('SO-0000001', 'C000001', 'WH-ATL', 'CS-000001-01', NULL, 'OPEN', "
        "'2026-10-01T08:00Z', '2026-10-01T08:00Z');"
        "INSERT INTO order_lines VALUES ('SO-0000001', 1, 'SKU-00001', 5, '2026-10-01T08:00Z'), "
        "('SO-0000001', 2, 'SKU-00002', 1, '2026-10-01T08:00Z');"
        "INSERT INTO contracts VALUES ('K-1', 'C000001', '2026-01-01', NULL, 'USD', 1.2500, 150, 12.5, 60, 45, "
        "'{\"fuel\": 0.125}', '2026-01-01T00:00Z')",
    )
    assert poll("erp").changes == 4
    run_sql(
        erp,
        "UPDATE sales_orders SET status = 'RELEASED', updated_at = '2026-10-01T09:00Z';"
        "UPDATE order_lines SET line_no = 3 WHERE line_no = 2;"  # a key change
        "DELETE FROM order_lines WHERE line_no = 1;"
        "UPDATE contracts SET rate_per_km = 1.4000",  # the ERP's correction that skips updated_at
    )
    result = poll("erp")
    assert (result.decoder, result.transactions, result.changes) == ("wal2json", 1, 5)  # the key change is two
    assert query(wh, "SELECT order_id, status FROM landing.raw_erp_sales_orders") == [("SO-0000001", "RELEASED")]
    assert query(wh, "SELECT line_no, _operation FROM landing.raw_erp_order_lines ORDER BY 1") == [
        (1, "delete"), (2, "delete"), (3, "update")
    ]
    assert query(wh, "SELECT rate_per_km::text, accessorial_rates::text FROM landing.raw_erp_contracts") == query(
        erp, "SELECT rate_per_km::text, accessorial_rates::text FROM contracts"
    )
    assert sum(c.written for c in poll("erp").counts.values()) == 0

    # Large values an update did not touch are not in wal2json's row either: landing keeps them.
    big = "SELECT string_agg(md5(g::text || %s), '') FROM generate_series(1, 400) g"
    run_sql(billing, f"INSERT INTO disputes VALUES ('DS-1', 'SO-0000001', ({big}), 10, 'OPEN', now(), now())", ("a",))
    poll("billing")
    run_sql(billing, "UPDATE disputes SET status = 'RESOLVED'")
    assert poll("billing").changes == 1
    assert query(wh, "SELECT md5(reason), status FROM landing.raw_billing_disputes") == query(
        billing, "SELECT md5(reason), status FROM disputes"
    )


@pytest.mark.parametrize("polls", ["small", "large"])
def test_truncates_are_captured_through_wal2json_too(wal2json_landscape, monkeypatch, polls):
    if polls == "large":  # inserts straight into landing until the TRUNCATE
        monkeypatch.setattr(log_capture, "IDLE_TEST_BYTES", -1)
    check_truncates_are_captured(wal2json_landscape["erp"], wal2json_landscape["warehouse"], lambda: poll("erp"))


def test_writes_to_tables_it_does_not_capture_leave_a_wal2json_source_idle(wal2json_landscape):
    erp = wal2json_landscape["erp"]
    poll("erp")
    run_sql(erp, "CREATE TABLE scratch (id int PRIMARY KEY); INSERT INTO scratch SELECT generate_series(1, 100)")
    assert pending_changes(Warehouse(), SourceDatabase(system="erp")) is None
    assert poll("erp").transactions == 0
