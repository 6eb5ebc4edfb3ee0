"""A truck's telematics stream for one trip, with the provider's habits.

Per trip: DEPARTED at the warehouse, one or two ETA_UPDATEs, GEOFENCE_ENTER/EXIT at an ad-hoc
truck-stop geofence when the drive needs a break (over 8 h), GEOFENCE_ENTER/EXIT at the
customer's site (the ARRIVED milestone and the dwell detention is billed on), sometimes a second
visit there hours later, and POSITION pings ({"lat", "lon", "speed_kmh"}), four for every other
event so they are ~80 % of the volume. Times are whole seconds. `event_uid` is the provider's:
a per-trip prefix and a counter, in no particular time order.

Flaws, as LANDSCAPE §3 describes them:
* about 2 % of events are re-sent later with the same `event_uid` (and a new seq when written);
* about 1 % of pings and ETAs, 2 % of departures and, on 3 % of trips, the first ENTER at the
  customer's site arrive hours late, after events that happened later. A trip whose ENTER is late
  never has a second visit, so whenever that ENTER is missing from the data no other ENTER at
  the site stands in for it.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from time import gmtime

from .clock import HOUR, MINUTE

P_RESENT = 0.02
P_LATE_PING = 0.01
P_LATE_DEPARTURE = 0.02


@dataclass(slots=True)
class Trip:
    """The moments of one trip that the stream reports."""

    departed: int
    arrived: int  # first ENTER at the customer's site (occurred_at)
    exited: int  # first EXIT there
    speed: float
    origin: object  # Geofence
    destination: object  # Geofence
    stop: object | None  # truck-stop Geofence on long routes
    rest: tuple[int, int] | None
    second_visit: tuple[int, int] | None
    refused: bool  # the consignee refused at the gate: the truck never entered the site's geofence
    enter_delay: int | None  # seconds the first ENTER at the site arrives late, or None


@dataclass(slots=True)
class Stream:
    """When the stream's key events reached the data."""

    enter_received: int
    exit_received: int
    last_received: int


_HEX = [f"{index:03x}" for index in range(4096)]


def _at(lat: float, lon: float) -> str:
    return '{"lat": %.5f, "lon": %.5f}' % (lat, lon)


def _eta(moment: int) -> str:
    return '{"eta": "%04d-%02d-%02dT%02d:%02d:%02dZ"}' % gmtime(moment)[:6]


def trip_stream(rng, trip: Trip, uid_base: str, dispatch_id: str, changes) -> Stream:
    """Add the trip's telematics events to `changes` (those received in its window).

    The provider numbers a trip's events in its own order (milestones first, then pings), so
    `event_uid` says nothing about time — only `occurred_at` does.
    """
    u = rng.random
    origin, destination, departed, arrived = trip.origin, trip.destination, trip.departed, trip.arrived
    span = arrived - departed
    marks = [("DEPARTED", origin.geofence_id, departed, _at(origin.lat, origin.lon)),
             ("ETA_UPDATE", None, departed + min(int((5 + 15 * u()) * MINUTE), span // 3),
              _eta(arrived + int((u() - 0.5) * 1800)))]
    if u() < 0.25:
        marks.append(("ETA_UPDATE", None, departed + span // 2, _eta(arrived + int((u() - 0.5) * 600))))
    if trip.rest:
        stop = _at(trip.stop.lat, trip.stop.lon)
        marks += [("GEOFENCE_ENTER", trip.stop.geofence_id, trip.rest[0], stop),
                  ("GEOFENCE_EXIT", trip.stop.geofence_id, trip.rest[1], stop)]
    site, site_id = _at(destination.lat, destination.lon), destination.geofence_id
    enter_at = exit_at = None
    if not trip.refused:
        enter_at, exit_at = arrived, trip.exited
        marks += [("GEOFENCE_ENTER", site_id, arrived, site), ("GEOFENCE_EXIT", site_id, trip.exited, site)]
    if trip.second_visit:
        marks += [("GEOFENCE_ENTER", site_id, trip.second_visit[0], site),
                  ("GEOFENCE_EXIT", site_id, trip.second_visit[1], site)]
    enter_received = exit_received = last_received = 0
    for index, (kind, geofence_id, occurred, payload) in enumerate(marks):
        received, fate = occurred + 2 + int(88 * u()), u()
        if occurred == enter_at and kind == "GEOFENCE_ENTER":
            received = occurred + trip.enter_delay if trip.enter_delay else received
            enter_received = received
        elif occurred == exit_at and kind == "GEOFENCE_EXIT":
            exit_received = received
        elif fate < P_LATE_PING and kind == "ETA_UPDATE":
            received = occurred + int((2 + 18 * fate / P_LATE_PING) * HOUR)
        elif fate < P_LATE_DEPARTURE and kind == "DEPARTED":
            received = occurred + int((1 + 5 * fate / P_LATE_DEPARTURE) * HOUR)
        last_received = max(last_received, _emit(changes, uid_base + _HEX[index], dispatch_id, kind, geofence_id,
                                                 occurred, received, payload, fate))
    # Pings: four per milestone, evenly spread over the drive (parked at the truck stop while resting).
    pings, first = 4 * len(marks), len(marks)
    lat0, lon0, speed = origin.lat, origin.lon, trip.speed - 8
    dlat, dlon = destination.lat - lat0, destination.lon - lon0
    rest_from, rest_to = trip.rest or (0, 0)
    parked = '{"lat": %.5f, "lon": %.5f, "speed_kmh": 0}' % (trip.stop.lat, trip.stop.lon) if trip.rest else ""
    for k in range(1, pings + 1):
        occurred = departed + span * k // (pings + 1)
        a, fate = u(), u()
        share = k / (pings + 1)
        payload = parked if rest_from <= occurred <= rest_to else '{"lat": %.5f, "lon": %.5f, "speed_kmh": %d}' % (
            lat0 + dlat * share + (a - 0.5) * 0.02, lon0 + dlon * share + (fate - 0.5) * 0.02, speed + 16 * a)
        received = occurred + (int((2 + 18 * fate / P_LATE_PING) * HOUR) if fate < P_LATE_PING else 2 + int(88 * a))
        last_received = max(last_received, _emit(changes, uid_base + _HEX[first + k - 1], dispatch_id, "POSITION",
                                                 None, occurred, received, payload, fate))
    return Stream(enter_received, exit_received, last_received)


def _emit(changes, uid: str, dispatch_id: str, kind: str, geofence_id, occurred: int, received: int, payload: str,
          fate: float) -> int:
    """Add an event as received; a few are sent again later (same event_uid, later received_at).
    Returns when its last copy was received."""
    changes.add_event(received, uid, dispatch_id, kind, geofence_id, occurred, payload)
    if fate > 1 - P_RESENT:
        received += 30 + int(7170 * (1 - fate) / P_RESENT)
        changes.add_event(received, uid, dispatch_id, kind, geofence_id, occurred, payload)
    return received


class IngestSeq:
    """telematics_events.seq, the provider's ingest order, Snowflake-style: the second received_at
    falls in, x 1,000,000, plus the writer's slot x 1000, plus the event's rank within that second.

    So seq follows received_at (a late event gets a seq after everything received before it), a
    re-sent event gets a new seq, parallel build workers (one slot each) never collide, and a tick
    continues without reading a counter: all it writes was received after everything already there.
    """

    PER_SECOND = 1000

    def __init__(self, first: int, last: int, slot: int = 0):
        if not 0 <= slot < 1000:
            raise ValueError("a writer slot is 0-999")
        self.first = first
        self.base = slot * self.PER_SECOND
        self.used = array("H", bytes(2 * (last - first + 1)))

    def next(self, received: int) -> int:
        """The seq of the next event received at `received`."""
        rank = self.used[received - self.first]
        if rank >= self.PER_SECOND:
            raise OverflowError(f"more than {self.PER_SECOND} telematics events received in one second")
        self.used[received - self.first] = rank + 1
        return received * 1_000_000 + self.base + rank
