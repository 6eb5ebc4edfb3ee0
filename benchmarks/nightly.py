"""Nightly benchmark: the nightly reconciliation job at growing sandbox sizes, and the inventory
comparison against reladiff's joindiff, in one process run. It prints figures; it asserts nothing.

Part 1, nightly scaling. For each --sizes value N (10 k, 100 k and 1 M sandbox orders by default),
on fresh databases for the five roles (warehouse, erp, wms, fleet, billing) and fresh
WAYBILL_HOME / WAYBILL_EDI_INBOX / WAYBILL_REPORTS_DIR temp folders, the CLI runs as subprocesses:
  waybill sandbox up --orders N          the landscape (timed, not part of the nightly)
  waybill master-data, waybill sync      the initial load (timed)
  waybill nightly --date 2026-10-31      timed: wall seconds (process start included) and peak RSS
  waybill nightly --date 2026-10-31      again: the idempotent rerun, which posts nothing
  waybill sandbox tick (x 24)            a day of live activity (timed, not part of a nightly)
  waybill nightly --date 2026-11-01      the next night: that day's changes caught up by the
                                         nightly itself (no sync during the day: the worst case)
Peak RSS is the Python process's (GNU time's "Maximum resident set size", or getrusage when
/usr/bin/time is missing); PostgreSQL's own memory is separate and not counted. Also printed:
exceptions (records of reconciliation_exceptions.csv), invoices posted (ERP invoice_postings
rows) and the growth exponent: the slope of log(time) and log(RSS) against log(orders), between
consecutive sizes and from the smallest to the largest. Targets: 1 M orders <= 5 min and <= 1.5 GB.

Part 2, inventory comparison. Two tables in one database with the shape of the inventory
comparison: the ERP side (sku, location_id, qty_on_hand) and the WMS side aggregated to
(sku, location_id, qty), --inventory-rows rows each (1 M by default) with ~1.2 % of the keys
differing (1 % changed quantities, 0.1 % ERP-only, 0.1 % WMS-only). Timed on the same tables:
  waybill FULL JOIN      the set-based query of canonical.inventory_positions (per-side grouping
                         on the normalised key, FULL JOIN, a missing side counts 0) with
                         INVENTORY_MISMATCH's `difference <> 0`, counting the mismatches;
  waybill staged         the same as canonical's refresh stages it: every position into a temp
                         table, then the mismatch rule over it;
  reladiff joindiff      reladiff's Python API, Algorithm.JOINDIFF, key (sku, location_id),
                         compared column qty, in a separate venv (--reladiff-venv, installed with
                         pip on first use; never one of the project's dependencies).
Rows/s are rows per side over the median of --repeat runs; both tools' counts of differing keys
are printed. DESIGN baseline: reladiff joindiff 433 k rows/s per side at 1 M rows.
Target: Waybill >= reladiff's rows/s.

Usage: .venv/bin/python benchmarks/nightly.py [--sizes 10000,100000,1000000] [--inventory-rows N]
       (a quick try: --sizes 2000,10000 --inventory-rows 100000)
Starts two embedded PostgreSQL servers, the sources' in --server-dir and the warehouse's beside it
(--server-dir + "-warehouse"), and stops them at the end: the four source systems and the warehouse
are separate servers in any real landscape, and on one server every replication slot would have
to decode the warehouse's own gigabytes of WAL (its initial load) before its first idle poll.
WAYBILL_BENCH_PG_URL instead names one admin URL (wal_level = logical) for all five databases.
Expect about 15 minutes for the 1 M size on two cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.batch_load import create_database, drop_database  # noqa: E402
from resources import embedded  # noqa: E402

WAYBILL = ROOT / ".venv" / "bin" / "waybill"
GNU_TIME = Path("/usr/bin/time")
DAY, NEXT_DAY = "2026-10-31", "2026-11-01"
TICKS_PER_DAY = 24
ROLES = ("warehouse", "erp", "wms", "fleet", "billing")
TARGET_SECONDS, TARGET_RSS_MB, TARGET_ORDERS = 300.0, 1536.0, 1_000_000
RELADIFF_BASELINE = 433_000
STARTED = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:7.1f}s] {message}", flush=True)


# --- the server --------------------------------------------------------------------------------


def warehouse_dir(server_dir: Path) -> Path:
    return server_dir.with_name(server_dir.name + "-warehouse")


def server_admin_url(server_dir: Path) -> tuple[str, bool]:
    """(admin URL, whether this run started the server and should stop it)."""
    if url := os.environ.get("WAYBILL_BENCH_PG_URL"):
        return url, False
    already = embedded.is_running(server_dir)
    say(f"embedded PostgreSQL in {server_dir} ({'reused' if already else 'starting'})")
    return embedded.ensure_running(str(server_dir)), not already


def drop_databases(admin: str, names: list[str]) -> None:
    """Drop the capture slots first: PostgreSQL will not drop a database a slot belongs to."""
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = ANY(%s)", (names,)
        )
    for name in names:
        drop_database(admin, name)


# --- running the CLI ---------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    returncode: int
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure(self) -> str:
        """The CLI's own failure lines (step failures, errors), else the log's last lines."""
        lines = self.log.read_text(errors="replace").splitlines()
        picked = [ln.strip() for ln in lines if re.search(r"failed|error|Traceback|Killed", ln, re.I)]
        return "\n    ".join((picked or lines)[-8:])


def run_cli(args: list[str], env: dict[str, str], log: Path) -> Run:
    """Run `waybill ARGS` with its output in `log`; wall time and the process's peak RSS."""
    rss_file = log.with_suffix(".rss")
    command = [str(WAYBILL), *args]
    if GNU_TIME.exists():
        command = [str(GNU_TIME), "-v", "-o", str(rss_file), *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    with log.open("w") as out:
        returncode = subprocess.run(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    seconds = time.perf_counter() - started
    if GNU_TIME.exists():
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rss_file.read_text())
        peak_kb = int(match.group(1)) if match else 0
    else:  # ru_maxrss of children is a running maximum: only a growth shows this child's peak
        peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return Run(seconds, peak_kb / 1024, returncode, log)


# --- part 1: nightly at one size ---------------------------------------------------------------


@dataclass
class SizeResult:
    orders: int
    steps: dict[str, Run] = field(default_factory=dict)
    exceptions: int | None = None
    invoices: int | None = None
    invoices_after_rerun: int | None = None
    invoices_next_night: int | None = None
    error: str = ""


def size_environment(admins: dict[str, str], orders: int, suffix: str, work: Path) -> tuple[dict[str, str], dict[str, str]]:
    """(environment for the CLI, database name per role): fresh databases and folders; `admins`
    gives the server of each role."""
    names = {role: f"bench_nightly_{orders}_{suffix}_{role}" for role in ROLES}
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("WAYBILL_")}
    for role, name in names.items():
        env[f"WAYBILL_{role.upper()}_URL"] = create_database(admins[role], name)
    for var, folder in (("WAYBILL_HOME", "home"), ("WAYBILL_EDI_INBOX", "edi"), ("WAYBILL_REPORTS_DIR", "reports")):
        (work / folder).mkdir(parents=True)
        env[var] = str(work / folder)
    return env, names


def count_exceptions(reports: Path) -> int | None:
    path = reports / DAY / "reconciliation_exceptions.csv"
    if not path.exists():
        return None
    with path.open(newline="") as f:
        return max(sum(1 for _ in csv.reader(f)) - 1, 0)


def count_postings(erp_url: str) -> int:
    with psycopg.connect(erp_url) as conn:
        return conn.execute("SELECT count(*) FROM invoice_postings").fetchone()[0]


STEPS = (  # (name, CLI arguments, how many times)
    ("sandbox", ["sandbox", "up", "--orders", "{orders}"], 1),
    ("master-data", ["master-data"], 1),
    ("sync", ["sync"], 1),
    ("nightly", ["nightly", "--date", DAY], 1),
    ("rerun", ["nightly", "--date", DAY], 1),
    ("day", ["sandbox", "tick"], TICKS_PER_DAY),
    ("next-night", ["nightly", "--date", NEXT_DAY], 1),
)


def bench_size(admins: dict[str, str], orders: int, work: Path, keep: bool) -> SizeResult:
    result = SizeResult(orders)
    env, names = size_environment(admins, orders, uuid.uuid4().hex[:6], work)
    try:
        for step, args, times in STEPS:
            say(f"{orders:,} orders: waybill {' '.join(args).format(orders=orders)}{f' x {times}' if times > 1 else ''} ...")
            runs = [run_cli([a.format(orders=orders) for a in args], env, work / f"{step}{i}.log") for i in range(times)]
            failed = [r for r in runs if not r.ok]
            run = failed[0] if failed else runs[-1]
            run = Run(sum(r.seconds for r in runs), max(r.peak_rss_mb for r in runs), run.returncode, run.log)
            result.steps[step] = run
            say(f"{orders:,} orders: {step} {'done' if run.ok else f'FAILED (exit {run.returncode})'} "
                f"in {run.seconds:.1f}s, peak RSS {run.peak_rss_mb:,.0f} MB")
            if step == "nightly":
                result.exceptions = count_exceptions(Path(env["WAYBILL_REPORTS_DIR"]))
                result.invoices = count_postings(env["WAYBILL_ERP_URL"])
                say(f"{orders:,} orders: {result.exceptions} exceptions, {result.invoices:,} invoices posted")
            if step == "rerun":
                result.invoices_after_rerun = count_postings(env["WAYBILL_ERP_URL"])
            if step == "next-night" and result.invoices_after_rerun is not None:
                result.invoices_next_night = count_postings(env["WAYBILL_ERP_URL"]) - result.invoices_after_rerun
            if not run.ok:
                result.error = f"{step}: {run.failure()}  (log {run.log})"
                say(f"  {result.error}")
                if step in ("sandbox", "master-data", "sync"):
                    break
    finally:
        if not keep:
            for role, name in names.items():
                drop_databases(admins[role], [name])
    return result


def exponent(small: tuple[int, float], large: tuple[int, float]) -> float | None:
    """Slope of log(value) against log(orders) between two sizes."""
    (n1, v1), (n2, v2) = small, large
    if min(v1, v2) <= 0 or n1 == n2:
        return None
    return math.log(v2 / v1) / math.log(n2 / n1)


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def print_nightly_summary(results: list[SizeResult]) -> None:
    if not results:
        return
    print("\nNIGHTLY RECONCILIATION (wall s include process start; RSS = the waybill Python process, PostgreSQL not counted)")
    head = (f"{'orders':>10}{'sandbox s':>11}{'md+sync s':>11}{'nightly s':>11}{'RSS MB':>9}{'rerun s':>9}"
            f"{'RSS MB':>9}{'exceptions':>12}{'invoices':>10}{'rerun +inv':>11}{'day s':>8}{'next s':>8}"
            f"{'RSS MB':>9}{'next inv':>10}  status")
    print(head)
    for r in results:
        s = r.steps
        secs = {k: v.seconds for k, v in s.items()}
        load = (s["master-data"].seconds + s["sync"].seconds) if "sync" in s else None
        rerun_posted = (r.invoices_after_rerun - r.invoices) if r.invoices_after_rerun is not None and r.invoices is not None else None
        print(
            f"{r.orders:>10,}{fmt(secs.get('sandbox'), '.1f'):>11}{fmt(load, '.1f'):>11}{fmt(secs.get('nightly'), '.1f'):>11}"
            f"{fmt(s['nightly'].peak_rss_mb if 'nightly' in s else None, ',.0f'):>9}{fmt(secs.get('rerun'), '.1f'):>9}"
            f"{fmt(s['rerun'].peak_rss_mb if 'rerun' in s else None, ',.0f'):>9}{fmt(r.exceptions, ',d'):>12}"
            f"{fmt(r.invoices, ',d'):>10}{fmt(rerun_posted, 'd'):>11}{fmt(secs.get('day'), '.1f'):>8}"
            f"{fmt(secs.get('next-night'), '.1f'):>8}{fmt(s['next-night'].peak_rss_mb if 'next-night' in s else None, ',.0f'):>9}"
            f"{fmt(r.invoices_next_night, ',d'):>10}  {'ok' if not r.error else 'FAILED ' + r.error.split(':')[0]}"
        )
    ok = [r for r in results if "nightly" in r.steps and r.steps["nightly"].ok]
    if len(ok) < 2:
        return
    print("\ngrowth exponent (slope of log y vs log orders; 1.0 = linear)")
    pairs = list(zip(ok, ok[1:])) + ([(ok[0], ok[-1])] if len(ok) > 2 else [])
    for a, b in pairs:
        label = f"{a.orders:,} -> {b.orders:,}" + (" (overall)" if (a, b) == (ok[0], ok[-1]) and len(ok) > 2 else "")
        t = exponent((a.orders, a.steps["nightly"].seconds), (b.orders, b.steps["nightly"].seconds))
        m = exponent((a.orders, a.steps["nightly"].peak_rss_mb), (b.orders, b.steps["nightly"].peak_rss_mb))
        print(f"  {label:<32} time {fmt(t):>6}   RSS {fmt(m):>6}")
    largest = ok[-1]
    t_exp = exponent((ok[0].orders, ok[0].steps["nightly"].seconds), (largest.orders, largest.steps["nightly"].seconds))
    m_exp = exponent((ok[0].orders, ok[0].steps["nightly"].peak_rss_mb), (largest.orders, largest.steps["nightly"].peak_rss_mb))
    if largest.orders == TARGET_ORDERS:
        seconds, rss, how = largest.steps["nightly"].seconds, largest.steps["nightly"].peak_rss_mb, "measured"
    elif t_exp is not None and m_exp is not None:
        scale = TARGET_ORDERS / largest.orders
        seconds = largest.steps["nightly"].seconds * scale**t_exp
        rss = largest.steps["nightly"].peak_rss_mb * scale**m_exp
        how = f"EXTRAPOLATED from {largest.orders:,} with the overall exponents"
    else:
        return
    print(f"\ntarget at 1,000,000 orders ({how}):")
    print(f"  nightly wall  {seconds:8.1f} s   target <= {TARGET_SECONDS:.0f} s     {'met' if seconds <= TARGET_SECONDS else 'NOT met'}")
    print(f"  peak RSS      {rss:8,.0f} MB  target <= {TARGET_RSS_MB:,.0f} MB  {'met' if rss <= TARGET_RSS_MB else 'NOT met'}")


# --- part 2: inventory comparison --------------------------------------------------------------

BUILD_INVENTORY = """
DROP TABLE IF EXISTS erp_inventory, wms_inventory;
CREATE TABLE erp_inventory (sku text NOT NULL, location_id text NOT NULL, qty_on_hand int NOT NULL,
                            PRIMARY KEY (sku, location_id));
CREATE TABLE wms_inventory (sku text NOT NULL, location_id text NOT NULL, qty bigint NOT NULL,
                            PRIMARY KEY (sku, location_id));
-- key g: sku g / 10, location g mod 10; quantities 1..500 (never 0, so a one-sided key always differs)
INSERT INTO erp_inventory
SELECT 'SKU-' || lpad((g / 10)::text, 7, '0'), 'LOC-' || lpad((g %% 10)::text, 2, '0'), 1 + (g * 7919::bigint) %% 500
FROM generate_series(0, %(rows)s - 1) g;
-- the same keys: 1 %% changed (g %% 100 = 1), 0.1 %% only in the ERP (g %% 1000 = 2), 0.1 %% only in the WMS
INSERT INTO wms_inventory
SELECT 'SKU-' || lpad((g / 10)::text, 7, '0'), 'LOC-' || lpad((g %% 10)::text, 2, '0'),
       1 + (g * 7919::bigint) %% 500 + CASE WHEN g %% 100 = 1 THEN 1 + g %% 7 ELSE 0 END
FROM generate_series(0, %(rows)s - 1) g WHERE g %% 1000 <> 2
UNION ALL
SELECT 'SKU-' || lpad((g / 10)::text, 7, '0'), 'LOC-' || lpad((g %% 10)::text, 2, '0'), 1 + g %% 50
FROM generate_series(%(rows)s, %(rows)s + %(rows)s / 1000 - 1) g;
"""

# canonical.inventory_positions' select (sync_assets/shipments/canonical.py) on the two tables
# (canonical.items' unit_cost left out: no table to join), then INVENTORY_MISMATCH's filter.
POSITIONS = """
    WITH wms AS (
        SELECT upper(btrim(sku)) AS sku, upper(btrim(location_id)) AS location_id, sum(qty) AS qty
        FROM wms_inventory GROUP BY 1, 2
    ),
    erp AS (
        SELECT upper(btrim(sku)) AS sku, upper(btrim(location_id)) AS location_id, sum(qty_on_hand) AS qty
        FROM erp_inventory GROUP BY 1, 2
    )
    SELECT coalesce(e.sku, w.sku) AS sku, coalesce(e.location_id, w.location_id) AS location_id,
           coalesce(e.qty, 0) AS erp_qty, coalesce(w.qty, 0) AS wms_qty, coalesce(e.qty, 0) - coalesce(w.qty, 0) AS difference
    FROM erp e FULL JOIN wms w ON w.sku = e.sku AND w.location_id = e.location_id
"""
FULL_JOIN_COUNT = f"SELECT count(*) FROM ({POSITIONS}) p WHERE difference <> 0"
STAGED = [
    f"CREATE TEMP TABLE stage_inventory_positions ON COMMIT DROP AS {POSITIONS}",
    "ANALYZE stage_inventory_positions",
    "SELECT count(*) FROM stage_inventory_positions WHERE difference <> 0",
]

RELADIFF_SCRIPT = """
import json, sys, time
from reladiff import Algorithm, connect_to_table, diff_tables
params = json.loads(sys.argv[1])
started = time.perf_counter()
erp = connect_to_table(params["db"], "erp_inventory", ("sku", "location_id"), extra_columns=("qty_on_hand",))
wms = connect_to_table(params["db"], "wms_inventory", ("sku", "location_id"), extra_columns=("qty",))
keys, signs = set(), {"-": 0, "+": 0}
for sign, row in diff_tables(erp, wms, algorithm=Algorithm.JOINDIFF):
    keys.add(tuple(row[:2]))
    signs[sign] += 1
print(json.dumps({"seconds": time.perf_counter() - started, "keys": len(keys), "signs": signs}))
"""


def ensure_reladiff(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists() and subprocess.run([str(python), "-c", "import reladiff, psycopg2"], capture_output=True).returncode == 0:
        return python
    say(f"installing reladiff + psycopg2-binary (sqeleton's PostgreSQL driver) into {venv} ...")
    subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "reladiff", "psycopg2-binary"], check=True)
    return python


def timed_queries(url: str, statements: list[str]) -> tuple[float, int]:
    """Run the statements in one transaction with canonical refresh's work_mem; (seconds, last count)."""
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        conn.execute("SET LOCAL work_mem = '256MB'")
        for statement in statements:
            cur = conn.execute(statement)
        count = cur.fetchone()[0]
        seconds = time.perf_counter() - started
        conn.rollback()
    return seconds, count


def run_reladiff(python: Path, url: str) -> tuple[float, int, dict]:
    info = {k: v for k, v in conninfo_to_dict(url).items() if v not in (None, "")}
    db = {"driver": "postgresql", **info}
    done = subprocess.run([str(python), "-c", RELADIFF_SCRIPT, json.dumps({"db": db})],
                          capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["seconds"], out["keys"], out["signs"]


def bench_inventory(admin: str, rows: int, repeat: int, venv: Path) -> list[str]:
    """Time the contenders; returns the summary lines (printed at the end, after the nightly's)."""
    python = ensure_reladiff(venv)
    name = f"bench_nightly_inventory_{uuid.uuid4().hex[:6]}"
    url = create_database(admin, name)
    try:
        say(f"inventory: building two {rows:,}-row tables (ERP side, WMS side) in {name} ...")
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in BUILD_INVENTORY.split(";\n"):
                if statement.strip():
                    conn.execute(statement, {"rows": rows})
            conn.execute("VACUUM ANALYZE erp_inventory")
            conn.execute("VACUUM ANALYZE wms_inventory")
            sides = conn.execute("SELECT (SELECT count(*) FROM erp_inventory), (SELECT count(*) FROM wms_inventory)").fetchone()
        expected = rows // 100 + 2 * (rows // 1000)  # approximately; g % 100 = 1 and g % 1000 = 2 never overlap
        say(f"inventory: ERP {sides[0]:,} rows, WMS {sides[1]:,} rows, about {expected:,} differing keys planted")
        figures: dict[str, tuple[list[float], int]] = {}
        runs = {
            "waybill FULL JOIN": lambda: timed_queries(url, [FULL_JOIN_COUNT]),
            "waybill staged (temp table)": lambda: timed_queries(url, STAGED),
            "reladiff joindiff": lambda: run_reladiff(python, url)[:2],
        }
        for label, fn in runs.items():
            fn()  # warm-up: the tables in shared buffers / page cache for every contender alike
            samples, count = [], 0
            for i in range(repeat):
                seconds, count = fn()
                samples.append(seconds)
                say(f"inventory: {label} run {i + 1}/{repeat}: {seconds:.2f}s, {count:,} differing keys")
            figures[label] = (samples, count)
        per_side = max(sides)
        lines = [
            f"INVENTORY COMPARISON ({sides[0]:,} ERP rows, {sides[1]:,} WMS rows; median of {repeat} after a warm-up; "
            "reladiff timed inside its process, connect included)",
            f"{'contender':<30}{'seconds':>9}{'rows/s per side':>17}{'differing keys':>16}",
        ]
        for label, (samples, count) in figures.items():
            median = statistics.median(samples)
            lines.append(f"{label:<30}{median:>9.2f}{per_side / median:>17,.0f}{count:>16,}")
        ours = per_side / statistics.median(figures["waybill FULL JOIN"][0])
        theirs = per_side / statistics.median(figures["reladiff joindiff"][0])
        same = figures["waybill FULL JOIN"][1] == figures["reladiff joindiff"][1]
        lines += [
            f"same differing keys found: {'yes' if same else 'NO'} "
            f"(waybill {figures['waybill FULL JOIN'][1]:,}, reladiff {figures['reladiff joindiff'][1]:,})",
            f"DESIGN baseline: reladiff joindiff {RELADIFF_BASELINE:,} rows/s per side; here {theirs:,.0f}",
            f"target: waybill >= reladiff rows/s -> {ours / theirs:.2f}x {'met' if ours >= theirs else 'NOT met'}",
        ]
        return lines
    finally:
        drop_database(admin, name)


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="sandbox orders per size, comma-separated")
    parser.add_argument("--inventory-rows", type=int, default=1_000_000, help="rows per side (0 skips part 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per inventory contender (median)")
    parser.add_argument("--reladiff-venv", type=Path, default=Path("/tmp/reladiff-venv"))
    parser.add_argument("--server-dir", type=Path, default=Path(tempfile.gettempdir()) / "waybill-bench-nightly" / "pg")
    parser.add_argument("--keep", action="store_true", help="keep the databases, folders and server afterwards")
    args = parser.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())

    admin, started_server = server_admin_url(args.server_dir)
    if os.environ.get("WAYBILL_BENCH_PG_URL"):
        admins = dict.fromkeys(ROLES, admin)
    else:
        admins = {**dict.fromkeys(ROLES, admin), "warehouse": server_admin_url(warehouse_dir(args.server_dir))[0]}
    work = Path(tempfile.mkdtemp(prefix="waybill-nightly-"))
    say(f"work folder {work}; sizes {', '.join(f'{n:,}' for n in sizes)}")
    results: list[SizeResult] = []
    try:
        for orders in sizes:
            results.append(bench_size(admins, orders, work / str(orders), args.keep))
        inventory = bench_inventory(admin, args.inventory_rows, args.repeat, args.reladiff_venv) if args.inventory_rows else []
        print("\n" + "=" * 40 + " SUMMARY " + "=" * 40)
        print_nightly_summary(results)
        print("\n" + "\n".join(inventory))
    finally:
        failed = any(r.error for r in results)
        if failed:
            say(f"kept {work} for the failed steps' logs")
        if not args.keep and not failed:
            shutil.rmtree(work, ignore_errors=True)
        if not args.keep:
            if started_server:
                embedded.stop(args.server_dir)
                embedded.stop(warehouse_dir(args.server_dir))
                say("embedded PostgreSQL stopped")
    say("done")


if __name__ == "__main__":
    main()
