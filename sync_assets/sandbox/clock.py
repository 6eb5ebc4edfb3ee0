"""Simulated time: integer UTC seconds inside the simulator, real datetimes only in written rows.

Integers make the lifecycle arithmetic cheap and exact; a row gets an aware UTC datetime (for
`timestamptz`) or a naive local wall time of its site (for the WMS's `timestamp` columns). No
function here reads the wall clock or a session TimeZone.

The simulated clock advances on a grid of whole hours: `build` simulates up to `end + 1 day`
00:00 UTC and every `tick` one more hour. The grid is what lets any process find the clock from
the data alone (see :func:`read_clock`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
MINUTE = 60
HOUR = 3600
DAY = 86400
TICK_SECONDS = HOUR
_NAIVE_EPOCH = datetime(1970, 1, 1)


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
    """Naive wall-clock time of one IANA zone, with the zone's offset cached per UTC hour.

    Every zone the landscape uses changes its offset only on whole UTC hours, so an hourly
    cache is exact and turns a zoneinfo lookup per row into a dict hit.
    """

    def __init__(self, zone: str):
        self.zone = ZoneInfo(zone)
        self._offsets: dict[int, int] = {}

    def __call__(self, s: int) -> datetime:
        hour = s // HOUR
        offset = self._offsets.get(hour)
        if offset is None:
            offset = int(utc(hour * HOUR).astimezone(self.zone).utcoffset().total_seconds())
            self._offsets[hour] = offset
        return _NAIVE_EPOCH + timedelta(seconds=s + offset)

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
