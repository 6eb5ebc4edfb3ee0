"""Batch load benchmark: Waybill's master-data snapshot sync vs raw COPY vs pandas `to_sql`, in one run.

A 1,000,000-row `customers` table (the ERP's schema, LANDSCAPE §1) is built in a source database;
then, on the same server and in this one process:
  raw COPY        source COPY TO STDOUT piped into COPY FROM STDIN of an empty table with the same
                  columns and primary key (the physical limit);
  waybill initial Warehouse.load_snapshot into an empty landing table (lineage columns included);
  waybill rerun   the same snapshot again, nothing changed (full copy + key comparison, 0 writes);
  waybill 1%      after 10,000 updates, 1,000 deletes and 1,000 inserts at the source;
  canonical       the canonical.customers rebuild from landing (initial);
  pandas to_sql   read_sql + to_sql(method="multi") into an empty table.
Each figure is the median of --repeat runs (pandas: one run of --pandas-rows rows, 100,000 by
default, because at its speed a million rows takes minutes; rows/s is what compares). Ratios are rows/s relative to raw
COPY; DESIGN.md's baselines: COPY 503 k rows/s, merge 437 k rows/s, pandas 9 k rows/s; target:
Waybill initial >= 0.5x COPY.

Usage: .venv/bin/python benchmarks/batch_load.py [--rows 1000000] [--repeat 3] [--pandas-rows N]
Runs on the embedded PostgreSQL (under WAYBILL_HOME, default .waybill) unless
WAYBILL_BENCH_PG_URL names an admin URL of another server.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from resources import embedded  # noqa: E402
from resources.databases import dispose_engines, embedded_data_dir  # noqa: E402
from resources.sources import SourceDatabase  # noqa: E402
from resources.warehouse import Warehouse  # noqa: E402
from sync_assets.mappings import source_table  # noqa: E402
from sync_assets.master_data.canonical import CUSTOMERS  # noqa: E402

DDL = Path(__file__).resolve().parent.parent / "sync_assets" / "sandbox" / "ddl" / "erp.sql"
COLUMNS = "customer_id, name, currency, payment_terms_days, active, updated_at"


def admin_url() -> str:
    return os.environ.get("WAYBILL_BENCH_PG_URL") or embedded.ensure_running(embedded_data_dir())


def database_url(admin: str, name: str) -> str:
    base, _, query = admin.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def create_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return database_url(admin, name)


def drop_database(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_source(url: str, rows: int) -> None:
    customers_ddl = DDL.read_text().split("CREATE TABLE items")[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(customers_ddl)
        conn.execute(
            "INSERT INTO customers SELECT 'C' || lpad(g::text, 7, '0'), 'Customer ' || g, "
            "(ARRAY['USD','EUR','CAD'])[1 + g %% 3], (ARRAY[15,30,45,60])[1 + g %% 4], g %% 17 <> 0, "
            "timestamptz '2026-01-01 00:00Z' + g * interval '1 second' FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("VACUUM ANALYZE customers")


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def raw_copy(source_url: str, warehouse_url: str) -> float:
    with psycopg.connect(source_url) as src, psycopg.connect(warehouse_url) as wh:
        wh.execute("DROP TABLE IF EXISTS raw_copy")
        wh.execute(DDL.read_text().split("CREATE TABLE items")[0].replace("customers", "raw_copy"))
        wh.commit()
        started = time.perf_counter()
        with src.cursor().copy(f"COPY (SELECT {COLUMNS} FROM customers) TO STDOUT (FORMAT binary)") as out, wh.cursor().copy(
            f"COPY raw_copy ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ) as into:
            for chunk in out:
                into.write(chunk)
        wh.commit()
        return time.perf_counter() - started


def reset_warehouse(warehouse: Warehouse) -> None:
    with warehouse.engine().begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS landing CASCADE; DROP SCHEMA IF EXISTS canonical CASCADE"))


def change_one_percent(source_url: str, rows: int, round_: int) -> None:
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE customers SET name = name || '*', updated_at = updated_at + interval '1 day' "
            "WHERE customer_id IN (SELECT 'C' || lpad(g::text, 7, '0') FROM generate_series(%s, %s, 97) g)",
            (1 + round_, rows),
        )
        conn.execute("DELETE FROM customers WHERE ctid IN (SELECT ctid FROM customers ORDER BY random() LIMIT 1000)")
        conn.execute(
            "INSERT INTO customers SELECT 'N' || %s || lpad(g::text, 6, '0'), 'New ' || g, 'USD', 30, true, now() "
            "FROM generate_series(1, 1000) g",
            (round_,),
        )


def pandas_to_sql(source_url: str, warehouse_url: str, rows: int) -> float:
    src = sa.create_engine(source_url.replace("postgresql://", "postgresql+psycopg://", 1))
    wh = sa.create_engine(warehouse_url.replace("postgresql://", "postgresql+psycopg://", 1))
    started = time.perf_counter()
    frame = pd.read_sql(f"SELECT {COLUMNS} FROM customers LIMIT {rows}", src)
    frame.to_sql("pandas_copy", wh, if_exists="replace", index=False, method="multi", chunksize=10_000)
    elapsed = time.perf_counter() - started
    src.dispose()
    wh.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--pandas-rows", type=int, default=100_000, help="rows for pandas (it runs ~100x slower; rows/s is what compares)"
    )
    args = parser.parse_args()
    pandas_rows = min(args.pandas_rows, args.rows)

    admin = admin_url()
    suffix = uuid.uuid4().hex[:8]
    names = {"source": f"bench_src_{suffix}", "warehouse": f"bench_wh_{suffix}"}
    urls = {role: create_database(admin, name) for role, name in names.items()}
    os.environ["WAYBILL_ERP_URL"] = urls["source"]
    os.environ["WAYBILL_WAREHOUSE_URL"] = urls["warehouse"]
    try:
        print(f"building a {args.rows:,}-row customers table ...", flush=True)
        build_source(urls["source"], args.rows)
        warehouse, source, table = Warehouse(), SourceDatabase(system="erp"), source_table("erp", "customers")
        results: dict[str, list[float]] = {k: [] for k in ("raw COPY", "waybill initial", "waybill rerun", "waybill 1% changed", "canonical initial")}
        for round_ in range(args.repeat):
            print(f"round {round_ + 1}/{args.repeat} ...", flush=True)
            results["raw COPY"].append(raw_copy(urls["source"], urls["warehouse"]))
            reset_warehouse(warehouse)
            results["waybill initial"].append(warehouse.load_snapshot(source, table).seconds)
            rerun = warehouse.load_snapshot(source, table)
            assert rerun.counts.written == 0, rerun.counts
            results["waybill rerun"].append(rerun.seconds)
            change_one_percent(urls["source"], args.rows, round_)
            results["waybill 1% changed"].append(warehouse.load_snapshot(source, table).seconds)

            def canonical() -> None:
                CUSTOMERS.refresh(warehouse.engine())

            results["canonical initial"].append(timed(canonical))
        print("pandas to_sql ...", flush=True)
        pandas_seconds = pandas_to_sql(urls["source"], urls["warehouse"], pandas_rows)

        copy_rate = args.rows / statistics.median(results["raw COPY"])
        print(f"\n{'path':<22}{'seconds':>10}{'rows/s':>14}{'vs COPY':>10}")
        for name, seconds in results.items():
            median = statistics.median(seconds)
            rate = args.rows / median
            print(f"{name:<22}{median:>10.2f}{rate:>14,.0f}{rate / copy_rate:>9.2f}x")
        rate = pandas_rows / pandas_seconds
        print(f"{'pandas to_sql':<22}{pandas_seconds:>10.2f}{rate:>14,.0f}{rate / copy_rate:>9.3f}x  ({pandas_rows:,} rows)")
        initial = args.rows / statistics.median(results["waybill initial"]) / copy_rate
        print(f"\ntarget: waybill initial >= 0.50x COPY -> {initial:.2f}x {'met' if initial >= 0.5 else 'NOT met'}")
    finally:
        dispose_engines()
        for name in names.values():
            drop_database(admin, name)


if __name__ == "__main__":
    main()
