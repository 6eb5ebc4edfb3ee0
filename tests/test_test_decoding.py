"""The test_decoding parser reads every shape of change text exactly (quotes, NULLs, key changes)."""

import pytest

from resources.capture.test_decoding import DecodingError, parse_change


def test_insert_with_quotes_nulls_empty_strings_and_odd_names():
    change = parse_change(
        "table public.t: INSERT: id[integer]:1 v[text]:'a''b c' n[numeric]:null e[text]:'' "
        "\"odd \"\"col\"\"\"[text[]]:'{a,b}' ts[timestamp with time zone]:'2026-01-01 10:00:00-05' "
        "multi[text]:'line1\nline2'",
        "0/1",
    )
    assert (change.schema, change.table, change.op, change.old_key) == ("public", "t", "insert", None)
    assert change.values == {
        "id": "1",
        "v": "a'b c",
        "n": None,
        "e": "",
        'odd "col"': "{a,b}",
        "ts": "2026-01-01 10:00:00-05",
        "multi": "line1\nline2",
    }


def test_update_with_key_change_and_delete():
    update = parse_change(
        "table public.order_lines: UPDATE: old-key: order_id[text]:'SO-1' line_no[integer]:1 "
        "new-tuple: order_id[text]:'SO-1' line_no[integer]:2 sku[text]:'sku-9'",
        "0/2",
    )
    assert update.op == "update"
    assert update.old_key == {"order_id": "SO-1", "line_no": "1"}
    assert update.values == {"order_id": "SO-1", "line_no": "2", "sku": "sku-9"}
    delete = parse_change("table public.customers: DELETE: customer_id[text]:'C000001'", "0/3")
    assert (delete.op, delete.values) == ("delete", {"customer_id": "C000001"})


def test_transaction_markers_are_not_changes():
    assert parse_change("BEGIN 764", "0/1") is None
    assert parse_change("COMMIT 764", "0/1") is None


@pytest.mark.parametrize(
    "line",
    [
        "table public.t: INSERT: id[integer]:1 v[text]:'unterminated",
        "table public.t: INSERT: garbage here",
        "something else entirely",
        "table public.t: DELETE: (no-tuple-data)",
    ],
)
def test_unreadable_lines_raise_naming_the_lsn(line):
    with pytest.raises(DecodingError, match="0/ABC"):
        parse_change(line, "0/ABC")
