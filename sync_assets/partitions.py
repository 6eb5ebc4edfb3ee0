"""The nightly run's day: a daily UTC partition whose rules are evaluated at the next midnight UTC."""

from datetime import UTC, date, datetime, time, timedelta

import dagster as dg

#: The nightly job; its canonical refreshes examine every landing row for dead letters.
NIGHTLY_JOB = "nightly_reconciliation"

#: One partition per UTC day. Data can be far from the wall clock (a replay, a backfill), so the
#: partitions reach back to 2000 and a year ahead of today.
NIGHTLY_PARTITIONS = dg.DailyPartitionsDefinition(start_date="2000-01-01", end_offset=366)


def as_of(run_date: date) -> datetime:
    """LANDSCAPE §5: a nightly run for day D is evaluated as of D+1 00:00 UTC."""
    return datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=UTC)


def run_params(partition_key: str) -> dict:
    """The SQL parameters every reconciliation query of a day's run binds."""
    run_date = date.fromisoformat(partition_key)
    return {"run_date": run_date, "as_of": as_of(run_date)}
