"""One order's life, from entry to close, as time lines of the rows it touches in the four systems.

ERP order entry -> (lines hard-deleted while OPEN | cancelled) -> RELEASED: WMS load PLANNED,
fleet dispatch PLANNED (5 % cancelled and replaced) -> picking: PICK movements, SHORT_PICK/DAMAGED
exceptions -> PACKED -> LOADED (load_completed_at) -> departure: load SHIPPED, dispatch
IN_TRANSIT, order SHIPPED -> telematics (telematics.py) -> ARRIVED at the ship-to geofence ->
POD signed -> POD uploaded with the charges rated in the same instant (BASE, FUEL, accessorials;
3 % with a mis-rated BASE line already VOID and superseded) -> DET rated once POD, first ENTER and
first EXIT are all in -> disputes -> order CLOSED (the partner's 210 arrives then).

Every random choice comes from a Random seeded by the order's id and creation time, and the
draws happen in a fixed sequence, so a tick that recomputes an in-flight order gets the same
life the build computed, and keeps only the part inside its own window (changes.py).

Choices that keep the planted anomalies the only rule violations (LANDSCAPE §5):
* the POD and every charge it triggers appear together (POD.updated_at = the charges' rated_at),
  so no instant shows a POD without its BASE line;
* the POD comes at most ~6 h after ARRIVED, so no unplanted shipment is ARRIVED > 24 h without POD,
  and it is uploaded on the UTC day it was signed, so signed_at and updated_at give the same
  "POD date" (contract, due date);
* DET is rated exactly when expected: at max(POD upload, receipt of the first ENTER, receipt of
  the first EXIT at the ship-to geofence), for the dwell between them; DET, BASE and FUEL never
  land on a half cent (a dwell gets a second longer, a route 10 m longer), and a dwell never
  exceeds the free time by less than a minute;
* accessorials are billed only for codes the contract prices; everything uses the contract
  valid on the POD's UTC date and its currency;
* a REFUSED delivery is refused at the gate: the truck never enters the ship-to geofence (no
  ARRIVED, no dwell), its BASE and FUEL are billed (a refused trip is still driven), nothing else;
  the goods come back as a RETURN receipt and the order ends CANCELLED;
* nothing about an order changes after it closes (`MAX_LIFE` after entry at the latest), except
  the WMS purge of resolved exceptions, which is a fixed function of the row (:func:`purge_moment`).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import Protocol

from . import ids as idf
from .changes import Changes
from .clock import DAY, HOUR, MINUTE, utc_date
from .edi import InvoiceMessage, StatusMessage
from .geography import REGION_OF, SIGNERS
from .ids import EntityIds, order_number, order_ref
from .orders import Order
from .rating import (
    accessorial_amount,
    base_amount,
    detention_amount,
    detention_exact,
    detention_excess_seconds,
    detention_hours,
    fuel_amount,
    has_half_cent,
    on_half_cent,
    to_cents,
)
from .telematics import Trip, trip_stream
from .world import PARTNERS, Contract, World

MAX_LINES = 4
#: The longest an order lives from entry to its last change; a tick looks back this far.
MAX_LIFE = 16 * DAY
PURGE_AFTER = 7 * DAY
#: Hours-of-service: a 30-minute break is due after 8 hours of driving.
REST_AFTER = 8 * HOUR

P_CANCEL = 0.03
P_DELETE_LINE = 0.06
P_SHORT_PICK = 0.03
P_DAMAGED = 0.01
P_MISLOAD = 0.005
P_REDISPATCH = 0.05
P_PARTNER = 0.06
P_REFUSED = 0.012
P_VOID = 0.03
P_SECOND_VISIT = 0.05
P_LATE_ENTER = 0.03
P_DISPUTE = 0.03
ACCESSORIAL_ODDS = (("INSD", 0.08), ("LIFT", 0.15), ("RESI", 0.10))
DISPUTE_REASONS = ("Detention not agreed", "Rate differs from contract", "Damaged goods on arrival",
                   "Duplicate invoice", "Late delivery penalty")
_KM = Decimal("0.01")
_THOUSANDTH = Decimal("0.001")
_ONE = Decimal("1.000")
_RNG = Random()


@dataclass(slots=True)
class Charge:
    code: str
    quantity: Decimal
    amount: Decimal
    currency: str
    status: str
    rated_at: int
    updated_at: int


@dataclass(slots=True)
class Delivery:
    """What planting an anomaly needs to know about a delivered order."""

    order: Order
    contract: Contract
    closed: int
    refused: bool
    detention: Decimal  # expected DET, 0 when the dwell stayed within the free time


class Planter(Protocol):
    def stuck(self, order: Order, trip: Trip, enter_received: int) -> bool:
        """Whether the order stays without POD after arriving (a planted MISSING_POD)."""

    def charges(self, delivery: Delivery, charges: list[Charge]) -> list[Charge]:
        """The charge lines the billing engine writes (a planter may spoil them)."""


def order_seed(order_id: str, created: int) -> int:
    return int.from_bytes(hashlib.blake2b(f"{order_id}|{created}".encode(), digest_size=8).digest(), "big")


def resolution_lag(ext_order_ref: str, code: str, sku: str | None) -> int:
    """Seconds from a WMS exception to its resolution: a fixed function of the row."""
    return (2 + zlib.crc32(f"{ext_order_ref}|{code}|{sku}".encode()) % 46) * HOUR


def purge_moment(occurred: int, ext_order_ref: str, code: str, sku: str | None) -> int:
    """When the WMS hard-deletes a resolved exception: 7 days after its resolution."""
    return occurred + resolution_lag(ext_order_ref, code, sku) + PURGE_AFTER


def typed_ref(order_id: str, draw: float) -> str:
    """A shipment reference as a dispatcher types it."""
    if draw < 0.70:
        return order_id
    if draw < 0.85:
        return f" {order_id.lower()} "
    return order_ref(order_id)


def _steer_dwell(contract: Contract, arrived: int, exited: int) -> int:
    """The exit moment, nudged so detention is either nothing or at least a minute and never a half cent."""
    excess = detention_excess_seconds(contract, exited - arrived)
    if 0 < excess < MINUTE:
        exited += MINUTE - excess
    while detention_excess_seconds(contract, exited - arrived) and on_half_cent(
            detention_exact(contract, exited - arrived)):
        exited += 1
    return exited


def plan_order(order: Order, world: World, changes: Changes, ids: EntityIds, *, planter: Planter | None = None,
               known_distances: tuple = ()) -> None:
    """Add to `changes` every row of the order's life that falls in its window.

    `known_distances` are the distances of dispatches that already exist (a tick reads them):
    a route is fixed once dispatched, even if a contract correction would now steer it differently.
    """
    rng = _RNG
    rng.seed(order_seed(order.order_id, order.created))
    u = rng.random
    created = order.created
    order_id = order.order_id
    ref = order_ref(order_id)

    # Every draw up front, in a fixed sequence.
    slots = [(u(), u(), u(), u(), u()) for _ in range(MAX_LINES)]
    cancelled = u() < P_CANCEL
    released = created + int((1 + 23 * u() ** 2) * HOUR)
    cancel_at = created + int((released - created) * (0.2 + 0.7 * u()))
    dock = None if u() < 0.1 else f"D{1 + int(u() * 24):02d}"
    picking = released + int((0.5 + 7.5 * u() ** 1.5) * HOUR)
    packed_after, loaded_after, depart_after = u(), u(), u()
    misload = u() < P_MISLOAD
    redispatch = u() < P_REDISPATCH
    first_created = released + int((10 + 50 * u()) * MINUTE)
    dispatch_cancel_share = 0.2 + 0.6 * u()
    road_factor, detour = 1.15 + 0.2 * u(), 0.92 + 0.16 * u()
    partner = u() < P_PARTNER
    partner_index, truck, driver, partner_truck = (int(u() * len(PARTNERS)), 1 + int(u() * world.vehicles),
                                                   1 + int(u() * world.vehicles), 1000 + int(u() * 9000))
    style_first, style_active = u(), u()
    speed = 62 + 22 * u()
    rest_share, rest_minutes = 0.4 + 0.2 * u(), 30 + 20 * u()
    refused = u() < P_REFUSED
    unload = (15 + 60 * u() + (60 + 120 * u() if u() < 0.2 else 0)) * MINUTE
    leave, upload = (4 + 16 * u()) * MINUTE, (2 + 38 * u()) * MINUTE
    void, void_delay, void_factor = u() < P_VOID, int((3 + 42 * u()) * MINUTE), Decimal(f"{1.05 + 0.25 * u():.2f}")
    pod_draw, signer_draw = u(), u()
    accessorials = [(code, u() < odds, 2 if u() < 0.2 else 1) for code, odds in ACCESSORIAL_ODDS]
    second_visit, visit_after, visit_minutes = u() < P_SECOND_VISIT, (2 + 18 * u()) * HOUR, 15 + 45 * u()
    late_enter, enter_delay = u() < P_LATE_ENTER, int((2 + 10 * u()) * HOUR)
    disputed, open_after, outcome_draw, settle_draw, reason_draw = u() < P_DISPUTE, (2 + 38 * u()) * HOUR, u(), u(), u()
    close_after = (24 + 48 * u()) * HOUR
    edi_lags = [int((5 + 35 * u()) * MINUTE) for _ in range(3)]
    edi_ref_draw = u()
    uid_bases = ("%013x" % rng.getrandbits(52), "%013x" % rng.getrandbits(52))

    # ERP: lines, some hard-deleted while the order is still OPEN.
    open_until = cancel_at if cancelled else released
    surviving, remaining = [], len(order.lines)
    for line_no, sku, quantity in order.lines:
        slot = slots[(line_no - 1) % MAX_LINES]
        versions = [(created, (order_id, line_no, sku, quantity, created))]
        if slot[0] < P_DELETE_LINE and remaining > 1:
            remaining -= 1
            versions.append((created + int((open_until - created) * (0.1 + 0.8 * slot[1])), None))
        else:
            surviving.append((line_no, sku, quantity, slot))
        changes.add_versions("order_lines", (order_id, line_no), versions, _row)
    statuses = [(created, ("OPEN", created))]
    if cancelled:
        statuses.append((cancel_at, ("CANCELLED", cancel_at)))
        changes.add_versions("sales_orders", (order_id,), statuses, order.header)
        return

    # WMS: the load, picks and exceptions.
    site = world.site_of[order.ship_from]
    local = world.local_time[site.site_code]
    moment = picking
    problems = []  # (code, sku, qty, occurred)
    picked = []  # (sku, quantity actually picked)
    for _, sku, quantity, slot in surviving:
        moment += int((2 + 8 * slot[4]) * MINUTE)
        short = 0
        if slot[2] < P_SHORT_PICK and quantity > 1:
            short = 1 + int(slot[2] / P_SHORT_PICK * min(3, quantity - 1))
            problems.append(("SHORT_PICK", sku.lower(), short, moment))
        changes.add_movement(moment, site.site_code, sku.lower(), "PICK", short - quantity, None, ref)
        picked.append((sku.lower(), quantity - short))
        if slot[3] < P_DAMAGED:
            problems.append(("DAMAGED", sku.lower(), 1, moment + 90))
    packed = moment + int((10 + 50 * packed_after) * MINUTE)
    loaded = packed + int((15 + 75 * loaded_after) * MINUTE)
    departed = loaded + int((10 + 50 * depart_after) * MINUTE)
    if misload and surviving:
        problems.append(("MISLOAD", surviving[0][1].lower(), None, loaded - 5 * MINUTE))
    load_id = ids.get(idf.LOAD, order_id, 0, released)
    load_row = lambda status, at, done: (load_id, ref, site.site_code, dock, status,  # noqa: E731
                                         local(done) if done else None, local(at))
    changes.add_versions("loads", (load_id,), [
        (released, ("PLANNED", released, None)), (picking, ("PICKING", picking, None)),
        (packed, ("PACKED", packed, None)), (loaded, ("LOADED", loaded, loaded)),
        (departed, ("SHIPPED", departed, loaded))], load_row)
    for index, (code, sku, quantity, occurred) in enumerate(problems):
        exception_id = ids.get(idf.EXCEPTION, order_id, index, occurred)
        resolved = occurred + resolution_lag(ref, code, sku)
        changes.add_versions("wms_exceptions", (exception_id,), [
            (occurred, (exception_id, ref, code, sku, quantity, local(occurred), False)),
            (resolved, (exception_id, ref, code, sku, quantity, local(occurred), True)),
            (resolved + PURGE_AFTER, None)], _row)

    # Fleet: dispatches (a cancelled first one is replaced), the trip and its telematics.
    redispatch = redispatch and loaded - 30 * MINUTE - first_created > 10 * MINUTE
    active_created = (first_created + int((loaded - 30 * MINUTE - first_created) * dispatch_cancel_share)
                      if redispatch else first_created)
    origin, destination = world.locations[order.ship_from], world.locations[order.ship_to]
    raw_km = max(8.0, world.route_km(order.ship_from, order.ship_to) * road_factor)
    drive = raw_km / speed * HOUR
    stop = rest = None
    if drive > REST_AFTER:
        stop = world.truck_stop(order.ship_from, order.ship_to)
        rest_start = departed + int(drive * rest_share)
        rest = (rest_start, rest_start + int(rest_minutes * MINUTE))
    arrived = departed + int(drive) + (rest[1] - rest[0] if rest else 0)
    signed = arrived + int(unload)
    contract = world.contract_on(order.customer_id, utc_date(signed))
    exited = signed + int(leave) if refused else _steer_dwell(contract, arrived, signed + int(leave))
    # The POD is uploaded, with its charges, on the UTC day it was signed (so "the POD's date" is
    # the same whichever of signed_at and updated_at a reader takes).
    pod_time = min(signed + int(upload) + (void_delay if void else 0), (signed // DAY + 1) * DAY - 1)
    uploaded = max(signed, pod_time - void_delay) if void else pod_time
    visit = None
    if second_visit and not late_enter and not refused:
        visit_start = exited + int(visit_after)
        visit = (visit_start, visit_start + int(visit_minutes * MINUTE))
    active = int(redispatch)
    distance = Decimal(f"{raw_km:.2f}")
    if len(known_distances) > active:
        distance = known_distances[active]
    else:
        while has_half_cent(contract, distance):
            distance += _KM
    if redispatch:
        first_id = ids.get(idf.DISPATCH, order_id, 0, first_created)
        first_km = known_distances[0] if known_distances else Decimal(f"{raw_km * detour:.2f}")
        first_row = (first_id, typed_ref(order_id, style_first), f"TRK-{truck:04d}", f"DRV-{driver:04d}", first_km)
        changes.add_versions("dispatches", (first_id,), [(first_created, ("PLANNED", first_created)),
                                                         (active_created, ("CANCELLED", active_created))],
                             lambda status, at: (*first_row, status, at))
        truck = 1 + truck % world.vehicles
    dispatch_id = ids.get(idf.DISPATCH, order_id, active, active_created)
    trip = Trip(departed, arrived, exited, speed, world.geofence_of[order.ship_from], world.geofence_of[order.ship_to],
                stop, rest, visit, refused, enter_delay if late_enter and not refused else None)
    stream = trip_stream(rng, trip, uid_bases[redispatch], dispatch_id, changes)
    stuck = planter is not None and not refused and planter.stuck(order, trip, stream.enter_received)
    scac = PARTNERS[partner_index][0]
    dispatch_row = (dispatch_id, typed_ref(order_id, style_active), f"{scac}-{partner_truck}" if partner else
                    f"TRK-{truck:04d}", None if partner else f"DRV-{driver:04d}", distance)
    dispatched = max(active_created + MINUTE, loaded - 20 * MINUTE)
    dispatch_versions = [(active_created, ("PLANNED", active_created)), (dispatched, ("DISPATCHED", dispatched)),
                         (departed, ("IN_TRANSIT", departed))]
    if not stuck:
        dispatch_versions.append((pod_time, ("DELIVERED", pod_time)))
    changes.add_versions("dispatches", (dispatch_id,), dispatch_versions,
                         lambda status, at: (*dispatch_row, status, at))

    # Partner carriers report the same trip over EDI (the shipment id as they typed it from the tender).
    shipper, consignee = origin.name.upper(), destination.name.upper()
    reference = order_id if edi_ref_draw < 0.8 else order_id.replace("-", "")
    if partner:
        pro = f"{7 + 2 * partner_index}{order_number(order_id):09d}"

        def status(code: str, moment: int, place, lag: int) -> None:
            changes.add_edi(moment + lag, StatusMessage(scac, pro, reference, code, moment, place.zone,
                                                        place.city.upper(), REGION_OF[place.city], place.country,
                                                        shipper, consignee))

        status("AF", departed, origin, edi_lags[0])
        if refused:
            status("A7", signed, destination, edi_lags[1])
        else:
            status("X1", arrived, destination, edi_lags[1])
            if not stuck:
                status("D1", signed, destination, edi_lags[2])

    statuses += [(released, ("RELEASED", released)), (departed, ("SHIPPED", departed))]
    if stuck:
        changes.add_versions("sales_orders", (order_id,), statuses, order.header)
        return

    # Delivery: POD and charges in one instant, DET when its inputs are in, disputes, close.
    pod_code = "REFUSED" if refused else ("SHORT" if pod_draw < 0.03 else "DAMAGED" if pod_draw < 0.05 else None)
    signer = None if signer_draw < 0.05 else SIGNERS[int(signer_draw * len(SIGNERS))]
    changes.add("proof_of_delivery", pod_time, (ids.get(idf.POD, order_id, 0, pod_time), dispatch_id, signer,
                                                signed, pod_code, pod_time))
    currency = contract.currency
    base = base_amount(contract, distance)
    charges = []
    if void:
        charges.append(Charge("BASE", distance.quantize(_THOUSANDTH), to_cents(base * void_factor), currency, "VOID",
                              uploaded, pod_time))
    charges.append(Charge("BASE", distance.quantize(_THOUSANDTH), base, currency, "RATED", pod_time, pod_time))
    charges.append(Charge("FUEL", _ONE, fuel_amount(contract, base), currency, "RATED", pod_time, pod_time))
    detention = Decimal(0) if refused else detention_amount(contract, exited - arrived)
    last_change = max(pod_time, stream.last_received)
    if not refused:
        for code, wanted, quantity in accessorials:
            amount = accessorial_amount(contract, code, quantity) if wanted else None
            if amount is not None:
                charges.append(Charge(code, Decimal(quantity).quantize(_THOUSANDTH), amount, currency, "RATED",
                                      pod_time, pod_time))
        if detention:
            rated = max(pod_time, stream.enter_received, stream.exit_received)
            charges.append(Charge("DET", detention_hours(contract, exited - arrived), detention, currency, "RATED",
                                  rated, rated))
            last_change = max(last_change, rated)
    settled = None
    if disputed and not refused:
        opened = pod_time + int(open_after)
        settled = opened + int((12 + 108 * settle_draw) * HOUR if outcome_draw < 0.85 else (4 + 2 * settle_draw) * DAY)
        amount = detention if detention else to_cents(base * Decimal("0.10"))
        dispute_id = ids.get(idf.DISPUTE, order_id, 0, opened)
        outcome = "RESOLVED" if outcome_draw < 0.55 else "REJECTED"
        reason = DISPUTE_REASONS[int(reason_draw * len(DISPUTE_REASONS))]
        changes.add_versions("disputes", (dispute_id,), [(opened, ("OPEN", opened)), (settled, (outcome, settled))],
                             lambda status, at: (dispute_id, order_id, reason, amount, status, opened, at))
        last_change = max(last_change, settled)
    closed = max(pod_time + int(close_after), last_change + HOUR)
    if refused:
        returned = exited + int(drive) + 2 * HOUR
        for sku, quantity in picked:
            changes.add_movement(returned, site.site_code, sku, "RECEIPT", quantity, "RETURN", ref)
        closed = max(closed, returned + HOUR)
    if closed - created > MAX_LIFE:
        raise AssertionError(f"{order_id} lives longer than MAX_LIFE")
    statuses.append((closed, ("CANCELLED" if refused else "CLOSED", closed)))
    changes.add_versions("sales_orders", (order_id,), statuses, order.header)

    clean = [(c.code, c.amount) for c in charges if c.status == "RATED"]
    if planter is not None:
        charges = planter.charges(Delivery(order, contract, closed, refused, detention), charges)
    for index, charge in enumerate(charges):
        charge_id = ids.get(idf.CHARGE, order_id, index, charge.updated_at)
        changes.add("charge_lines", charge.updated_at, (
            charge_id, order_id, charge.code, charge.quantity, charge.amount, charge.currency, charge.status,
            charge.rated_at, charge.updated_at))
    if partner and not refused:
        changes.add_edi(closed, InvoiceMessage(scac, f"{scac}{order_number(order_id):08d}", reference, closed, signed,
                                               currency, tuple(clean), shipper, consignee))


def _row(*values) -> tuple:
    return values
