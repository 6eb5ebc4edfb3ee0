"""The sandbox builds docs/landscape.md exactly (schema, flaws, determinism) and ticks like a live landscape."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SYSTEM_PG_URL, connections, sandbox_engines_for, scratch_databases, system_pg_available
from resources.settings import URL_ENV
from sync_assets.sandbox import build, tick
from sync_assets.sandbox.schema import SYSTEMS, tables

LANDSCAPE = Path(__file__).resolve().parent.parent / "docs" / "landscape.md"
QUIET = lambda _: None  # noqa: E731


# --- helpers ---------------------------------------------------------------------------------------

_TYPE = re.compile(r"(double precision|numeric\((\d+),(\d+)\)|char\((\d+)\)|timestamptz|timestamp|bigint|int|text|bool|"
                   r"date|jsonb)(!?)")
_INFORMATION_SCHEMA_TYPE = {
    "text": "text", "int": "integer", "bigint": "bigint", "bool": "boolean", "date": "date", "jsonb": "jsonb",
    "timestamptz": "timestamp with time zone", "timestamp": "timestamp without time zone",
    "double precision": "double precision",
}


def _split_outside_parentheses(text: str, separator: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in text:
        if char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    return [*parts, "".join(current).strip()]


def _outside_parentheses(text: str) -> str:
    return re.sub(r"\([^()]*\)", "", re.sub(r"\([^()]*\([^()]*\)[^()]*\)", "", text))


def landscape_spec() -> dict[str, dict]:
    """The tables of docs/landscape.md §1-4, as information_schema would describe them."""
    spec = {}
    text = LANDSCAPE.read_text()
    body = text[text.index("## 1."):text.index("## 5.")]
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or cells[0] in ("table", "") or cells[0].startswith("---"):
            continue
        name, parts = cells[0], _split_outside_parentheses(cells[1], ";")
        columns, key, identity, defaults = [], [], None, {}
        for item in _split_outside_parentheses(parts[0], ","):
            column, rest = (item.split(None, 1) + [""])[:2]
            match = _TYPE.match(rest)
            if match is None:  # geofences' latitude, longitude: coordinates are double precision
                kind, not_null, length, precision, scale = "double precision", False, None, None, None
            else:
                kind, precision, scale, length, not_null = match.group(1), match.group(2), match.group(3), \
                    match.group(4), match.group(5) == "!"
            if kind.startswith("numeric"):
                data_type = ("numeric", None, int(precision), int(scale))
            elif kind.startswith("char"):
                data_type = ("character", int(length), None, None)
            else:
                data_type = (_INFORMATION_SCHEMA_TYPE[kind], None, None, None)
            columns.append((column, *data_type, not_null))
            bare = _outside_parentheses(rest)
            if re.search(r"\bPK\b", bare):
                key = [column]
            if "identity" in rest:
                identity = column
            if "default now()" in rest:
                defaults[column] = "now()"
        for part in parts[1:]:
            compound = re.fullmatch(r"PK \(([^)]*)\)", part)
            if compound:
                key = [c.strip() for c in compound.group(1).split(",")]
        spec[name] = {"columns": columns, "key": key, "identity": identity, "defaults": defaults}
    return spec


def introspect(conn) -> dict[str, dict]:
    found = {}
    for (table_name, column, data_type, length, precision, scale, nullable, is_identity, generation,
         default) in conn.execute(
            "SELECT table_name, column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
            "is_nullable, is_identity, identity_generation, column_default FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"):
        entry = found.setdefault(table_name, {"columns": [], "key": [], "identity": None, "defaults": {}})
        numeric = data_type == "numeric"
        entry["columns"].append((column, data_type, length, precision if numeric else None, scale if numeric else None,
                                 nullable == "NO"))
        if is_identity == "YES":
            assert generation == "BY DEFAULT"
            entry["identity"] = column
        if default is not None:
            entry["defaults"][column] = default
    for table_name, column in conn.execute(
            "SELECT tc.table_name, k.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name) "
            "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public' ORDER BY k.ordinal_position"):
        found[table_name]["key"].append(column)
    return found


def digests(urls: dict[str, str]) -> dict[str, str]:
    """An md5 of every table's rows (as text, sorted), keyed system.table."""
    result = {}
    with connections(urls) as conns:
        for system in SYSTEMS:
            for t in tables(system):
                query = f"SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) FROM {t.name} r"
                result[t.qualified] = conns[system].execute(query).fetchone()[0]
    return result


def inbox_digest(inbox: Path) -> str:
    return hashlib.md5(b"".join(p.name.encode() + p.read_bytes() for p in sorted(inbox.iterdir()))).hexdigest()


# --- tests -----------------------------------------------------------------------------------------

def test_landscape_spec_parser_reads_every_table():
    spec = landscape_spec()
    assert len(spec) == 19
    assert spec["order_lines"]["key"] == ["order_id", "line_no"]
    assert spec["inventory_movements"]["identity"] == "movement_id"
    assert spec["invoice_postings"]["defaults"] == {"posted_at": "now()"}
    assert ("latitude", "double precision", None, None, None, False) in spec["geofences"]["columns"]
    assert ("distance_km", "numeric", None, 10, 2, True) in spec["dispatches"]["columns"]


def test_schema_is_exactly_the_landscape(built_landscape):
    spec = landscape_spec()
    with connections(built_landscape.urls) as conns:
        found = {name: entry for system in SYSTEMS for name, entry in introspect(conns[system]).items()}
    assert sorted(found) == sorted(spec)
    for name, expected in spec.items():
        assert found[name] == expected, name


def test_same_seed_gives_identical_data_and_another_seed_differs(built_landscape, fresh_landscape):
    first = digests(built_landscape.urls)
    again = build(fresh_landscape.engines, seed=42, orders=300, edi_inbox=fresh_landscape.inbox, progress=QUIET)
    assert digests(fresh_landscape.urls) == first
    assert inbox_digest(fresh_landscape.inbox) == inbox_digest(built_landscape.inbox)
    assert again.planted == built_landscape.summary.planted
    build(fresh_landscape.engines, seed=7, orders=300, edi_inbox=fresh_landscape.inbox, progress=QUIET)
    other = digests(fresh_landscape.urls)
    changed = {t for t in first if first[t] != other[t]}
    assert changed >= {"erp.customers", "erp.sales_orders", "wms.inventory_movements", "fleet.telematics_events",
                       "billing.charge_lines"}


def test_clock_and_counts(built_landscape):
    summary = built_landscape.summary
    assert summary.as_of.isoformat() == "2026-11-01T00:00:00+00:00"
    from sync_assets.sandbox.clock import read_clock, utc

    with connections(built_landscape.urls) as conns:
        assert utc(read_clock(conns["erp"])) == summary.as_of
        for qualified, count in summary.counts.items():
            system, name = qualified.split(".")
            assert conns[system].execute(f"SELECT count(*) FROM {name}").fetchone()[0] == count, qualified
        newest = conns["fleet"].execute("SELECT max(received_at) FROM telematics_events").fetchone()[0]
        assert newest <= summary.as_of
    assert all(summary.planted[kind] for kind in summary.planted)
    assert summary.counts["erp.invoice_postings"] == 0


def test_the_landscape_flaws_are_there(built_landscape):
    with connections(built_landscape.urls) as conns:
        erp, wms, fleet = conns["erp"], conns["wms"], conns["fleet"]
        skus = [r[0] for r in wms.execute("SELECT DISTINCT sku FROM inventory_movements")]
        assert skus and all(re.fullmatch(r"sku-\d{5}", s) for s in skus)
        refs = [r[0] for r in fleet.execute("SELECT shipment_ref FROM dispatches")]
        assert any(re.fullmatch(r"SO-\d{7}", r) for r in refs)
        assert any(re.fullmatch(r" so-\d{7} ", r) for r in refs)
        assert any(re.fullmatch(r"so\d{7}", r) for r in refs)
        total, unique = fleet.execute("SELECT count(*), count(DISTINCT event_uid) FROM telematics_events").fetchone()
        assert total > unique
        positions = fleet.execute("SELECT avg((event_type = 'POSITION')::int) FROM telematics_events").fetchone()[0]
        assert 0.75 < positions < 0.85
        late = "SELECT count(*) FROM telematics_events WHERE received_at > occurred_at + interval '1 hour'"
        assert fleet.execute(late).fetchone()[0] > 0
        assert fleet.execute("SELECT count(*) FROM (SELECT dispatch_id FROM telematics_events "
                             "WHERE event_type = 'GEOFENCE_ENTER' AND geofence_id LIKE 'GF-CS-%' "
                             "GROUP BY dispatch_id HAVING count(DISTINCT occurred_at) > 1) x").fetchone()[0] > 0
        assert fleet.execute("SELECT count(*) FROM dispatches WHERE status = 'CANCELLED'").fetchone()[0] > 0
        assert erp.execute("SELECT count(*) FROM (SELECT order_id FROM order_lines GROUP BY order_id "
                           "HAVING max(line_no) > count(*)) x").fetchone()[0] > 0
        assert {r[0] for r in erp.execute("SELECT DISTINCT currency FROM customers")} == {"USD", "EUR", "CAD"}
        assert erp.execute("SELECT count(*) FROM customers WHERE NOT active").fetchone()[0] > 0
        # WMS times are local wall times: a load ships when its truck departs, at a different clock reading.
        zones = dict(wms.execute("SELECT site_code, timezone FROM sites").fetchall())
        shipped = {r[0]: (r[1], r[2]) for r in wms.execute(
            "SELECT ext_order_ref, site_code, updated_at FROM loads WHERE status = 'SHIPPED'")}
        departures = fleet.execute(
            "SELECT d.shipment_ref, e.occurred_at FROM telematics_events e JOIN dispatches d USING (dispatch_id) "
            "WHERE e.event_type = 'DEPARTED'").fetchall()
        from zoneinfo import ZoneInfo

        from sync_assets.sandbox.ids import normalize_ref, order_ref

        checked = 0
        for ref, occurred in departures:
            site, local = shipped.get(order_ref(normalize_ref(ref)), (None, None))
            if site:
                assert local == occurred.astimezone(ZoneInfo(zones[site])).replace(tzinfo=None)
                assert local != occurred.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
                checked += 1
        assert checked > 100


def test_edi_inbox_holds_214s_210s_an_orphan_and_a_malformed_file(built_landscape):
    inbox, summary = built_landscape.inbox, built_landscape.summary
    names = sorted(p.name for p in inbox.iterdir())
    assert names == summary.edi_files
    assert any(n.startswith("214_") for n in names) and any(n.startswith("210_") for n in names)
    (malformed,) = summary.malformed_edi
    assert not (inbox / malformed).read_text().rstrip().endswith("~")
    orphan = [k for k in summary.planted["ORPHAN_RECORD"] if k.startswith("edi:")]
    assert len(orphan) == 1 and orphan[0].split(":")[1] in names
    for name in names:
        text = (inbox / name).read_text()
        if name == malformed:
            continue
        segments = [s.strip().split("*") for s in text.split("~") if s.strip()]
        assert segments[0][0] == "ISA" and segments[-1][0] == "IEA"
        if name.startswith("210_"):
            charges = [int(s[4]) for s in segments if s[0] == "L1"]
            totals = [int(s[5]) for s in segments if s[0] == "L3"]
            assert sum(totals) == sum(charges)
        else:
            assert {s[1] for s in segments if s[0] == "AT7"} <= {"AF", "X1", "D1", "A7"}


def test_planted_inventory_mismatches_are_exactly_where_erp_and_wms_disagree(built_landscape):
    with connections(built_landscape.urls) as conns:
        erp = {(sku, loc): qty for sku, loc, qty in conns["erp"].execute(
            "SELECT sku, location_id, qty_on_hand FROM inventory_balances")}
        sites = dict(conns["wms"].execute("SELECT site_code, erp_location_id FROM sites").fetchall())
        wms = {(sku, sites[site]): qty for sku, site, qty in conns["wms"].execute(
            "SELECT upper(sku), site_code, sum(qty) FROM inventory_movements GROUP BY 1, 2")}
    differing = {f"{sku}@{loc}" for sku, loc in erp.keys() | wms.keys()
                 if erp.get((sku, loc), 0) != wms.get((sku, loc), 0)}
    assert differing == set(built_landscape.summary.planted["INVENTORY_MISMATCH"])


def test_tick_moves_the_landscape_on_by_an_hour(fresh_landscape):
    built = build(fresh_landscape.engines, seed=11, orders=300, edi_inbox=fresh_landscape.inbox, progress=QUIET)
    with connections(fresh_landscape.urls) as conns:
        erp, wms = conns["erp"], conns["wms"]
        contracts = {r[0]: r[1:] for r in erp.execute("SELECT contract_id, rate_per_km, updated_at FROM contracts")}
        lines = set(erp.execute("SELECT order_id, line_no FROM order_lines").fetchall())
        before = wms.execute("SELECT max(movement_id) FROM inventory_movements").fetchone()[0]
        seen_during_gap = []

        def progress(message: str) -> None:
            if "out of order" in message:
                seen_during_gap.append([r[0] for r in wms.execute(
                    "SELECT movement_id FROM inventory_movements WHERE movement_id > %s ORDER BY 1", (before,))])

        ticked = tick(fresh_landscape.engines, edi_inbox=fresh_landscape.inbox, progress=progress)

        assert (ticked.as_of - built.as_of).total_seconds() == 3600
        assert ticked.counts["erp.sales_orders"] > built.counts["erp.sales_orders"]
        assert sum(ticked.changes.values()) > 0
        # Two connections committed out of order: the later ids were visible before the earlier ones.
        (visible,) = seen_during_gap
        assert visible and visible[0] > before + 1
        after = [r[0] for r in wms.execute(
            "SELECT movement_id FROM inventory_movements WHERE movement_id > %s ORDER BY 1", (before,))]
        assert after == list(range(before + 1, before + 1 + len(after)))
        # The ERP defect: one rate changed, no updated_at did.
        now = {r[0]: r[1:] for r in erp.execute("SELECT contract_id, rate_per_km, updated_at FROM contracts")}
        changed = [c for c in now if now[c][0] != contracts[c][0]]
        assert len(changed) == 1 and all(now[c][1] == contracts[c][1] for c in now)
        # A line of an order that is still there was hard-deleted.
        gone = lines - set(erp.execute("SELECT order_id, line_no FROM order_lines").fetchall())
        orders = {r[0] for r in erp.execute("SELECT order_id FROM sales_orders")}
        assert gone and {order_id for order_id, _ in gone} <= orders


def test_ticks_are_deterministic(pg_admin_url, fresh_landscape, tmp_path):
    build(fresh_landscape.engines, seed=5, orders=300, edi_inbox=fresh_landscape.inbox, progress=QUIET)
    for _ in range(2):
        tick(fresh_landscape.engines, edi_inbox=fresh_landscape.inbox, progress=QUIET)
    with scratch_databases(pg_admin_url) as urls, sandbox_engines_for(urls) as engines:
        inbox = tmp_path / "other" / "inbox"
        build(engines, seed=5, orders=300, edi_inbox=inbox, progress=QUIET)
        for _ in range(2):
            tick(engines, edi_inbox=inbox, progress=QUIET)
        assert digests(urls) == digests(fresh_landscape.urls)
        assert inbox_digest(inbox) == inbox_digest(fresh_landscape.inbox)


PARALLEL_BUILD = """
import json, sys
import sqlalchemy as sa
from sync_assets.sandbox import build, builder
builder.BATCH_ORDERS = 120
urls, inbox = json.loads(sys.argv[1]), sys.argv[2]
engines = {s: sa.create_engine(sa.engine.make_url(u).set(drivername="postgresql+psycopg")) for s, u in urls.items()}
summary = build(engines, seed=9, orders=500, edi_inbox=__import__("pathlib").Path(inbox), progress=print)
print(json.dumps({"planted": summary.planted, "counts": summary.counts}))
"""


def test_parallel_batches_are_deterministic_too(fresh_landscape):
    """Batches run in forked workers (in a process of its own: fork needs a single-threaded parent);
    the data must not depend on which finishes first, nor differ from an in-process build."""
    def parallel_build() -> dict:
        result = subprocess.run(
            [sys.executable, "-c", PARALLEL_BUILD, json.dumps(fresh_landscape.urls), str(fresh_landscape.inbox)],
            capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    first = parallel_build()
    first_digests, first_inbox = digests(fresh_landscape.urls), inbox_digest(fresh_landscape.inbox)
    second = parallel_build()
    assert (digests(fresh_landscape.urls), inbox_digest(fresh_landscape.inbox)) == (first_digests, first_inbox)
    assert first == second


@pytest.mark.skipif(not system_pg_available(), reason="the machine's PostgreSQL on 127.0.0.1:5432 is not running")
def test_sandbox_up_on_another_server_by_url_creates_exactly_the_landscape(tmp_path):
    """`waybill sandbox up` pointed by the four URL variables at empty databases on another server."""
    with scratch_databases(SYSTEM_PG_URL) as urls:
        env = {**os.environ, "WAYBILL_HOME": str(tmp_path / "home"), "WAYBILL_EDI_INBOX": str(tmp_path / "inbox")}
        env.update({URL_ENV[system]: url for system, url in urls.items()})
        result = subprocess.run(
            [sys.executable, "-m", "sync_assets.cli", "sandbox", "up", "--orders", "200"],
            env=env, capture_output=True, text=True, timeout=300,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "planted anomalies:" in result.stdout
        with connections(urls) as conns:
            actual = {name: spec for conn in conns.values() for name, spec in introspect(conn).items()}
        assert actual == landscape_spec()
