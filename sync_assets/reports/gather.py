"""Read one day's finance report (model.py) out of the warehouse, and write its exception CSV.

Every table the report reads is created if missing, so a report can be written for a day whose run
stopped early (a blocking check failed before reconciliation): it then says so instead of failing.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from checks import freshness, results
from resources.dead_letters import DEAD_LETTER_DDL
from sync_assets.invoicing.posting import DDL as INVOICING_DDL
from sync_assets.partitions import as_of
from sync_assets.reconciliation.rules import DDL as RECONCILIATION_DDL
from sync_assets.reconciliation.rules import EXCEPTION_TYPES
from sync_assets.reports.model import (
    CheckOutcome,
    DeadLetterCount,
    ExceptionRow,
    ExceptionTotal,
    Freshness,
    ReportData,
)

#: LANDSCAPE §5's CSV columns, in order.
CSV_COLUMNS = (
    "exception_type", "shipment_id", "sku", "location_id", "expected", "actual", "amount_at_risk", "currency",
    "correlation_id", "detected_at",
)

_ORDERED_EXCEPTIONS = f"""
    SELECT {', '.join(CSV_COLUMNS)} FROM reconciliation.reconciliation_exceptions
    WHERE run_date = %(run_date)s
    ORDER BY array_position(%(types)s::text[], exception_type), exception_key
"""


def _ensure_tables(cursor) -> None:
    for ddl in (RECONCILIATION_DDL, INVOICING_DDL, DEAD_LETTER_DDL, results.DDL, freshness.DDL):
        cursor.execute(ddl)


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def write_exceptions_csv(cursor, run_date: date, directory: Path) -> tuple[Path, int]:
    """`reconciliation_exceptions.csv` for the day (LANDSCAPE columns), written atomically."""
    _ensure_tables(cursor)
    rows = cursor.execute(_ORDERED_EXCEPTIONS, {"run_date": run_date, "types": list(EXCEPTION_TYPES)}).fetchall()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "reconciliation_exceptions.csv"
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".exceptions-", suffix=".csv")
    with os.fdopen(handle, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        writer.writerows([_csv_value(v) for v in row] for row in rows)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return path, len(rows)


def _per_currency(rows) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in rows:
        totals[(currency or "").strip()] += amount or Decimal(0)
    return dict(totals)


def gather(cursor, run_date: date, *, run_id: str | None, failure_reasons: list[str]) -> ReportData:
    """Everything the report shows for the day, read from the warehouse."""
    _ensure_tables(cursor)
    params = {"run_date": run_date, "as_of": as_of(run_date)}
    posted = cursor.execute(
        "SELECT currency, total_amount, extract(epoch FROM issued_at - pod_signed_at) / 3600 "
        "FROM invoicing.invoices WHERE run_date = %(run_date)s AND outcome = 'posted'",
        params,
    ).fetchall()
    totals = cursor.execute(
        "SELECT exception_type, count(*), currency, sum(amount_at_risk) FROM reconciliation.reconciliation_exceptions "
        "WHERE run_date = %(run_date)s GROUP BY exception_type, currency",
        params,
    ).fetchall()
    top = cursor.execute(
        f"SELECT {', '.join(CSV_COLUMNS)} FROM reconciliation.reconciliation_exceptions WHERE run_date = %(run_date)s "
        "ORDER BY amount_at_risk DESC NULLS LAST, exception_type, exception_key LIMIT 50",
        params,
    ).fetchall()
    disputes = cursor.execute(
        "SELECT k.currency, d.amount FROM canonical.disputes d "
        "LEFT JOIN canonical.shipments s ON s.shipment_id = d.shipment_id "
        "LEFT JOIN canonical.customers k ON k.customer_id = s.customer_id "
        "WHERE d.status = 'OPEN' AND d.opened_at <= %(as_of)s",
        params,
    ).fetchall() if _exists(cursor, "canonical.disputes") else []
    checks = cursor.execute(
        "SELECT asset, check_name, passed, blocking, severity, offending_count, offending_sample, description, "
        "evaluated_at FROM ops.check_results ORDER BY passed, NOT blocking, asset, check_name"
    ).fetchall()
    dead = cursor.execute(
        "SELECT source_table, count(*), min(first_seen_at) FROM ops.dead_letters WHERE resolved_at IS NULL "
        "GROUP BY source_table ORDER BY source_table"
    ).fetchall()
    captured = dict(
        (system, (at, lag)) for system, at, lag in cursor.execute(
            "SELECT source_system, captured_at, extract(epoch FROM now() - captured_at) / 60 FROM ops.source_freshness"
        ).fetchall()
    )
    by_type: dict[str, list] = defaultdict(list)
    for kind, count, currency, amount in totals:
        by_type[kind].append((count, currency, amount))
    failed_blocking = [
        f"blocking check {c[0]}:{c[1]} failed: {c[7]} ({c[5]} offending: {c[6][:200]})" for c in checks if c[3] and not c[2]
    ]
    return ReportData(
        run_date=run_date,
        as_of=params["as_of"],
        generated_at=datetime.now(UTC),
        run_id=run_id,
        succeeded=not failure_reasons,
        failure_reasons=failure_reasons + [r for r in failed_blocking if failure_reasons],
        invoices_posted=len(posted),
        amount_invoiced=_per_currency((c, a) for c, a, _ in posted),
        invoices_posted_total=cursor.execute("SELECT count(*) FROM invoicing.invoices").fetchone()[0],
        cycle_time_hours=[float(h) for _, _, h in posted if h is not None],
        exception_totals=[
            ExceptionTotal(kind, sum(n for n, _, _ in by_type[kind]),
                           _per_currency((c, a) for _, c, a in by_type[kind] if a is not None))
            for kind in EXCEPTION_TYPES
        ],
        top_exceptions=[ExceptionRow(*row) for row in top],
        open_disputes=len(disputes),
        open_dispute_amount=_per_currency(disputes),
        checks=[CheckOutcome(*row) for row in checks],
        dead_letters=[DeadLetterCount(*row) for row in dead],
        freshness=[
            Freshness(system, sla_class, minutes, captured.get(system, (None, None))[0],
                      float(captured[system][1]) if system in captured else None,
                      system in captured and float(captured[system][1]) <= minutes)
            for system, (sla_class, minutes) in freshness.SLA.items()
        ],
    )


def _exists(cursor, table: str) -> bool:
    return cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
