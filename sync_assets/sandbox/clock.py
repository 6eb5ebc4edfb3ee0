"""Simulated time: integer seconds everywhere, down to the rows handed to COPY.

A moment is integer UTC seconds; a WMS wall time is integer seconds of the site's local clock
(:class:`LocalTime`). Integers keep the lifecycle arithmetic cheap and exact, and the loader
writes them straight into the binary timestamp formats (loader.py), so no row ever depends on a
session TimeZone. No function here reads the wall clock.

The simulated clock advances on a grid of whole hours: `build` simulates up to `end + 1 day`
00:00 UTC and every `tick` one more hour. The grid is what lets any process find the clock from
the data alone (see :func:`read_clock`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

MINUTE = 60
HOUR = 3600
DAY = 86400
TICK_SECONDS = HOUR


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def seconds(moment: datetime) -> int:
    """Integer UTC seconds of an aware datetime (whatever zone it carries)."""
    return int(moment.timestamp())


def day_seconds(day: date) -> int:
    """00:00 UTC of `day`."""
    return seconds(datetime(day.year, day.month, day.day, tzinfo=UTC))


def utc_date(s: int) -> date:
    return utc(s).date()


def next_tick(s: int) -> int:
    """The first instant of the hour grid at or after `s`."""
    return -(-s // TICK_SECONDS) * TICK_SECONDS


class LocalTime:
    """Wall-clock time of one IANA zone as integer seconds (the WMS's zone-less `timestamp`), with
    the zone's offset cached per UTC hour.

    Every zone the landscape uses changes its offset only on whole UTC hours, so an hourly
    cache is exact and turns a zoneinfo lookup per row into a dict hit.
    """

    def __init__(self, zone: str):
        self.zone = ZoneInfo(zone)
        self._offsets: dict[int, int] = {}

    def __call__(self, s: int) -> int:
        hour = s // HOUR
        offset = self._offsets.get(hour)
        if offset is None:
            offset = int(utc(hour * HOUR).astimezone(self.zone).utcoffset().total_seconds())
            self._offsets[hour] = offset
        return s + offset

    def to_utc(self, local: datetime) -> int:
        """UTC seconds of a naive local time (the earlier instant when the wall time repeats)."""
        return seconds(local.replace(tzinfo=self.zone))


def read_clock(erp_connection) -> int:
    """The simulated clock, read back from ERP data: the grid point at or after the newest order change.

    Every simulated slice creates at least one order inside its last hour and nothing after its
    end, so rounding the newest `sales_orders.updated_at` up to the hour grid gives exactly the
    instant the previous build or tick simulated up to.
    """
    newest = erp_connection.execute("SELECT max(updated_at) FROM sales_orders").fetchone()[0]
    if newest is None:
        raise LookupError("the ERP has no sales orders: build the sandbox before ticking it")
    return next_tick(seconds(newest))
