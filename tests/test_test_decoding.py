"""The test_decoding parser reads every shape of change text exactly (quotes, NULLs, key changes)."""

import pytest

from resources.capture.test_decoding import DecodingError, parse_change, tables_changed


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


def test_the_tables_a_line_changes_are_named_and_a_line_not_understood_names_none():
    """What the idle test looks through: a TRUNCATE names every table it emptied."""
    assert tables_changed("table public.t: INSERT: id[integer]:1") == [("public", "t")]
    assert tables_changed('table public.other, "odd schema".u, public.t: TRUNCATE: restart_seqs cascade') == [
        ("public", "other"), ("odd schema", "u"), ("public", "t")]
    assert tables_changed("table public.t: MERGE: id[integer]:1") is None


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


# --- COPY rows straight from the lines (ChangeLines / TableRows) ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from resources.capture.test_decoding import COPY_NULL, KEY_CHANGE, ChangeLines, MissingColumn, copy_text  # noqa: E402

COLUMNS = ("id", "v", "n", "odd col", "flag")
TYPES = {"id": "integer", "v": "text", "n": "numeric", "odd col": "text[]", "flag": "boolean"}


def render(values: dict) -> str:
    """A tuple as test_decoding prints it (print_literal): numbers and booleans bare, the rest quoted."""
    parts = []
    for name, value in values.items():
        token = f'"{name}"' if " " in name else name
        if value is None:
            text = "null"
        elif TYPES[name] in ("integer", "numeric", "boolean"):
            text = value
        else:
            text = "'" + value.replace("'", "''") + "'"
        parts.append(f"{token}[{TYPES[name]}]:{text}")
    return " ".join(parts)


def row_of(**values: str) -> dict:
    """A whole row: the columns not given are NULL."""
    return {column: values.get(column.replace(" ", "_")) for column in COLUMNS}


def copy_row(values: dict) -> str:
    return "\t".join(copy_text(values.get(c)) for c in COLUMNS)


def read_all(lines: list[str]) -> list[list[tuple[str, str]]]:
    """[(op, values)] of each line's rows, through one ChangeLines (rows with no unchanged TOAST
    value); the delete that starts a key change is `delete (key change)`."""
    reader = ChangeLines({("public", "t"): COLUMNS})
    read = []
    for line in lines:
        before = len(reader.rows[("public", "t")])
        reader.add(line, "0/1")
        rows = [row.removesuffix("\n").rpartition("\t") for row in reader.rows[("public", "t")][before:]]
        assert all(marker in (COPY_NULL, KEY_CHANGE) for _, _, marker in rows)
        rows = [(row.split("\t", 3), marker) for row, _, marker in rows]
        read.append([(row[1] + (" (key change)" if marker == KEY_CHANGE else ""), row[3]) for row, marker in rows])
    return read


def test_copy_rows_of_every_shape_match_the_scan():
    full = {"id": "1", "v": "it''s\ta\\b", "n": None, "odd col": "{a,b}", "flag": "true"}
    plain = {"id": "2", "v": "plain", "n": "1.5", "odd col": "'quoted' v[text]:'x'", "flag": "false"}
    lines = [
        "table public.t: INSERT: " + render(full),
        "table public.t: INSERT: " + render(plain),
        "table public.t: INSERT: " + render(plain),  # the second through the template
        "table public.t: UPDATE: old-key: " + render({"id": "2"}) + " new-tuple: " + render({**plain, "id": "3"}),
        "table public.t: DELETE: " + render({"id": "3"}),
        "table public.t: DELETE: " + render({"id": "4"}),
        "table public.other: INSERT: id[integer]:1",
    ]
    assert read_all(lines) == [
        [("insert", copy_row(full))],
        [("insert", copy_row(plain))],
        [("insert", copy_row(plain))],
        [("delete (key change)", copy_row({"id": "2"})), ("update", copy_row({**plain, "id": "3"}))],
        [("delete", copy_row({"id": "3"}))],
        [("delete", copy_row({"id": "4"}))],
        [],
    ]


def test_an_insert_or_update_without_a_mapped_column_is_drift_not_a_null():
    """Also once a delete has taught the reader the key-only shape: only a delete may lack columns."""
    reader = ChangeLines({("public", "t"): COLUMNS})
    reader.add("table public.t: DELETE: " + render({"id": "3"}), "0/1")
    row = row_of(id="2", v="plain", n="1.5", odd_col="x", flag="false")
    for line, column in (
        ("table public.t: INSERT: " + render({"id": "4"}), "v"),
        ("table public.t: UPDATE: " + render({k: v for k, v in row.items() if k != "n"}), "n"),
    ):
        with pytest.raises(MissingColumn, match=rf"change at 0/2: t has no column {column}"):
            reader.add(line, "0/2")
    assert reader.rows[("public", "t")] == ["1\tdelete\t0/1\t" + copy_row({"id": "3"}) + "\t\\N\n"]


def test_a_truncate_of_captured_tables_is_a_truncate_row_each_and_others_are_skipped():
    reader = ChangeLines({("public", "t"): COLUMNS, ("odd schema", "u"): ("id",)})
    reader.add("table public.scratch: TRUNCATE: (no-flags)", "0/A")
    reader.add('table public.other, "odd schema".u, public.t: TRUNCATE: restart_seqs cascade', "0/B")
    assert reader.rows == {
        ("public", "t"): ["2\ttruncate\t0/B\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"],
        ("odd schema", "u"): ["1\ttruncate\t0/B\t\\N\t\\N\n"],
    }
    assert reader.truncated == {("public", "t"), ("odd schema", "u")}


def test_direct_inserts_come_apart_as_landing_rows_until_a_truncate_of_their_table():
    reader = ChangeLines({("public", "u"): ("id", "v"), ("public", "w"): ("id",)}, direct={("public", "u")})
    reader.add("table public.u: INSERT: id[integer]:1 v[text]:'a'", "0/A")  # the scan
    reader.add("table public.u: INSERT: id[integer]:2 v[text]:'b'", "0/B")  # the template
    reader.add("table public.u: UPDATE: id[integer]:2 v[text]:'c'", "0/C")
    reader.add("table public.u: TRUNCATE: (no-flags)", "0/D")
    reader.add("table public.u: INSERT: id[integer]:3 v[text]:'d'", "0/E")
    reader.add("table public.w: INSERT: id[integer]:4", "0/F")  # not a direct table
    assert reader.inserts == {("public", "u"): ["1\ta\t0/A\n", "2\tb\t0/B\n"], ("public", "w"): []}
    assert reader.rows == {
        ("public", "u"): [
            "3\tupdate\t0/C\t2\tc\t\\N\n", "4\ttruncate\t0/D\t\\N\t\\N\t\\N\n", "5\tinsert\t0/E\t3\td\t\\N\n"
        ],
        ("public", "w"): ["6\tinsert\t0/F\t4\t\\N\n"],
    }


def test_after_a_key_change_the_tables_inserts_go_through_the_stage():
    """A key an update left may be inserted again in the same poll, all of it unknown to landing:
    only the stage keeps that insert after the changes before it."""
    u = ("public", "u")
    reader = ChangeLines({u: ("id", "v")}, direct={u})
    reader.add("table public.u: INSERT: id[integer]:1 v[text]:'a'", "0/A")
    reader.add("table public.u: UPDATE: old-key: id[integer]:1 new-tuple: id[integer]:2 v[text]:'a'", "0/B")
    reader.add("table public.u: INSERT: id[integer]:1 v[text]:'b'", "0/C")
    assert reader.inserts[u] == ["1\ta\t0/A\n"]
    assert reader.rows[u] == ["2\tdelete\t0/B\t1\t\\N\t{}\n", "3\tupdate\t0/B\t2\ta\t\\N\n", "4\tinsert\t0/C\t1\tb\t\\N\n"]


def test_rows_are_numbered_across_tables_in_the_order_given():
    reader = ChangeLines({("public", "t"): COLUMNS, ("public", "u"): ("id",)})
    reader.add("table public.t: UPDATE: old-key: id[integer]:1 new-tuple: " + render(row_of(id="2")), "0/A")
    reader.add("table public.u: INSERT: id[integer]:7", "0/B")
    reader.add("table public.t: DELETE: id[integer]:2", "0/C")
    assert reader.rows == {
        ("public", "t"): [
            "1\tdelete\t0/A\t1\t\\N\t\\N\t\\N\t\\N\t{}\n",  # a key change's delete
            "2\tupdate\t0/A\t2\t\\N\t\\N\t\\N\t\\N\t\\N\n",
            "4\tdelete\t0/C\t2\t\\N\t\\N\t\\N\t\\N\t\\N\n",
        ],
        ("public", "u"): ["3\tinsert\t0/B\t7\t\\N\n"],
    }


def test_old_key_holding_the_new_tuple_marker_splits_where_the_quotes_close():
    old = {"id": "1", "v": "x new-tuple: y"}
    new = {"id": "2", "v": "z", "n": None, "odd col": None, "flag": None}
    line = "table public.t: UPDATE: old-key: " + render(old) + " new-tuple: " + render(new)
    change = parse_change(line, "0/1")
    assert (change.old_key, change.values) == (old, new)
    assert read_all([line])[0] == [("delete (key change)", copy_row(old)), ("update", copy_row(new))]


def test_an_unchanged_toasted_value_is_marked_not_taken_for_text():
    reader = ChangeLines({("public", "t"): COLUMNS})
    reader.add("table public.t: UPDATE: " + render(row_of(id="1", v="a")), "0/1")  # teaches a template
    reader.add("table public.t: UPDATE: id[integer]:1 v[text]:unchanged-toast-datum n[numeric]:2 "
               '"odd col"[text]:unchanged-toast-datum flag[boolean]:true', "0/2")
    reader.add("table public.t: UPDATE: " + render(row_of(id="1", v="unchanged-toast-datum")), "0/3")  # real text
    # the shape of 0/2 is a template now, and its numeric column is printed bare: still marked
    reader.add("table public.t: UPDATE: id[integer]:1 v[text]:'b' n[numeric]:unchanged-toast-datum "
               "\"odd col\"[text]:'c' flag[boolean]:true", "0/4")
    assert reader.rows[("public", "t")][1:] == [
        "2\tupdate\t0/2\t1\t\\N\t2\t\\N\ttrue\t{v,odd col}\n",
        "3\tupdate\t0/3\t1\tunchanged-toast-datum\t\\N\t\\N\t\\N\t\\N\n",
        "4\tupdate\t0/4\t1\tb\t\\N\tc\ttrue\t{n}\n",
    ]


def test_a_line_the_template_cannot_read_is_an_error_naming_the_lsn():
    reader = ChangeLines({("public", "t"): COLUMNS})
    reader.add("table public.t: INSERT: " + render(row_of(id="1", v="a")), "0/1")
    with pytest.raises(DecodingError, match="0/BAD"):
        reader.add("table public.t: INSERT: id[integer]:1 v[text]:'a", "0/BAD")


#: Characters and fragments that look like the syntax around values.
PIECES = [*"ab '\"\\\t\n\r:[]", "new-tuple: ", " v[text]:", "null", "''"]
values_text = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
rows = st.fixed_dictionaries(
    {
        "id": st.integers(-(2**31), 2**31 - 1).map(str),
        "v": st.none() | values_text,
        "n": st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
        "odd col": st.none() | values_text,
        "flag": st.none() | st.sampled_from(["true", "false"]),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["insert", "update", "key change", "delete"]), rows), min_size=1, max_size=6))
def test_round_trip_of_rendered_changes(changes):
    """Whatever the values, both readers give back exactly what was rendered, in any order of shapes."""
    lines, expected = [], []
    for kind, values in changes:
        key = {"id": values["id"]}
        if kind == "insert":
            lines.append("table public.t: INSERT: " + render(values))
            expected.append([("insert", copy_row(values))])
        elif kind == "update":
            lines.append("table public.t: UPDATE: " + render(values))
            expected.append([("update", copy_row(values))])
        elif kind == "key change":
            old = {"id": str(int(values["id"]) + 1)}
            lines.append("table public.t: UPDATE: old-key: " + render(old) + " new-tuple: " + render(values))
            expected.append([("delete (key change)", copy_row(old)), ("update", copy_row(values))])
        else:
            lines.append("table public.t: DELETE: " + render(key))
            expected.append([("delete", copy_row(key))])
        change = parse_change(lines[-1], "0/1")
        assert change.values == (key if kind == "delete" else values)
    assert read_all(lines) == expected
