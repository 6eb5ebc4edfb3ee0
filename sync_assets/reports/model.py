"""What the finance report shows for one nightly run, as plain values.

Gathering (sync_assets/reports/gather.py, SQL over the warehouse) and rendering
(sync_assets/reports/html.py) meet here, so the renderer can be tested without a database and
the gatherer without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class ExceptionTotal:
    """One exception type: how many are open and the amount at risk per currency ('' = none given)."""

    exception_type: str
    count: int
    amount_at_risk: dict[str, Decimal]


@dataclass(frozen=True)
class ExceptionRow:
    """One row of reconciliation_exceptions (the CSV's columns)."""

    exception_type: str
    shipment_id: str | None
    sku: str | None
    location_id: str | None
    expected: str | None
    actual: str | None
    amount_at_risk: Decimal | None
    currency: str | None
    correlation_id: str | None
    detected_at: datetime


@dataclass(frozen=True)
class CheckOutcome:
    """The latest result of one quality check."""

    asset: str
    check: str
    passed: bool
    blocking: bool
    severity: str  # "ERROR" or "WARN"
    offending_count: int
    offending_sample: str  # comma-separated ids, at most 50
    description: str
    evaluated_at: datetime


@dataclass(frozen=True)
class Freshness:
    """How recently one source was captured, against its SLA class."""

    system: str
    sla_class: str  # "critical" or "standard"
    sla_minutes: int
    last_capture_at: datetime | None
    lag_minutes: float | None
    fresh: bool


@dataclass(frozen=True)
class DeadLetterCount:
    source_table: str
    open: int
    oldest_first_seen_at: datetime | None


@dataclass(frozen=True)
class ReportData:
    run_date: date  # the UTC day D the report is for
    as_of: datetime  # D + 1 00:00 UTC: the instant every rule is evaluated at
    generated_at: datetime
    run_id: str | None
    succeeded: bool
    failure_reasons: list[str]  # why the run failed or posted nothing, one line each; empty when it succeeded
    invoices_posted: int  # by this day's run
    amount_invoiced: dict[str, Decimal]  # per currency, this day's run
    invoices_posted_total: int  # every invoice Waybill ever posted, as of this run
    cycle_time_hours: list[float]  # POD signed → invoice issued, one value per invoice posted by this run
    exception_totals: list[ExceptionTotal]  # every type of LANDSCAPE §5, zeros included, in LANDSCAPE order
    top_exceptions: list[ExceptionRow]  # the largest amounts at risk, at most 50
    open_disputes: int
    open_dispute_amount: dict[str, Decimal]  # per currency of the disputed shipment's contract ('' when unknown)
    checks: list[CheckOutcome]
    dead_letters: list[DeadLetterCount]
    freshness: list[Freshness]
    csv_name: str = "reconciliation_exceptions.csv"
    notes: list[str] = field(default_factory=list)
