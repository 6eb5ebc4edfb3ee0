"""X12 code tables that turn carrier codes into Waybill's vocabulary. They are plain dicts.

Carriers send codes from several X12 releases, and some use codes with their own meanings
(tests/fixtures/edi/CODES.md). So a code that is not in these tables is accepted as it is and
maps to None (use `.get`). The message keeps the raw code, so nothing is lost, and a mapping can
be added when a trading partner's guide says what a code means.
"""

from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

#: AT7-01 shipment status code -> ERP milestone (landscape §5). This follows CODES.md's
#: "suggested" column, but only where the code reaches one of the milestones themselves.
#: Departure and arrival mean the shipment's origin and destination, so "departed terminal" (P1),
#: "arrived at pickup" (X3) and ETA updates (AG, X2) map to nothing. Exception codes (AH, AP, A7,
#: A9, SD, CA) also map to nothing; they are not milestones.
STATUS_MILESTONES: dict[str, str] = {
    "CP": "LOADED",  # Completed Loading at Pick-up Location
    "AF": "DEPARTED",  # Carrier Departed Pick-up Location with Shipment
    "X1": "ARRIVED",  # Arrived at Delivery Location
    "X5": "ARRIVED",  # Arrived at Delivery Location Loading Dock
    "D1": "DELIVERED",  # Completed Unloading at Delivery Location
}

#: L1-08 special charge code (X12 element 150) -> Waybill charge code (billing charge_lines).
#: The key "" is deliberate: an L1 without a special-charge code is the freight (line-haul) line,
#: as in the EDI.Net and staedi 210s. Only delivery-side accessorials are mapped, because Waybill
#: shipments are picked up at its own warehouses; so IPU (inside pickup) and REP (residential
#: pickup) stay unmapped. Discounts and adjustments (DSC, AAJ, 275, 295) stay unmapped too, and
#: their negative amounts are kept.
CHARGE_CODES: dict[str, str] = {
    "": "BASE",
    "400": "BASE",  # Freight
    "FUE": "FUEL",  # Fuel Charge
    "405": "FUEL",  # Fuel Surcharge
    "ENS": "FUEL",  # Energy Surcharge (Fuel Adjustment Factor)
    "DET": "DET",  # Detention of Trailers
    "DEP": "DET",  # Detention of Power Units
    "DTL": "DET",  # Detention Loading
    "DTU": "DET",  # Detention Unloading
    "LFT": "LIFT",  # Lift Gate (Truck) or Forklift Service at Pickup/Delivery
    "IDL": "INSD",  # Inside Delivery
    "RES": "RESI",  # Residential Delivery
}

_UTC = timezone.utc


def _fixed(hours: int) -> tzinfo:
    return timezone(timedelta(hours=hours))


#: AT7-07 time code (X12 element 623, the US subset in CODES.md §4) -> time zone. "xT" codes
#: follow daylight saving time (IANA zones). "xS"/"xD" name standard or daylight time, so each is
#: one fixed offset. Canadian senders use the same codes; Canada's zones have kept the US rules
#: since 2007. LT (local time at the event's place), an empty code and unknown codes are missing
#: here on purpose. The event then has no UTC instant: the caller resolves its local time with the
#: location's zone (ERP locations.timezone). The machine's zone is never used.
TIME_CODE_ZONES: dict[str, tzinfo] = {
    "UT": _UTC,
    "GM": _UTC,
    "ET": ZoneInfo("America/New_York"),
    "ES": _fixed(-5),
    "ED": _fixed(-4),
    "CT": ZoneInfo("America/Chicago"),
    "CS": _fixed(-6),
    "CD": _fixed(-5),
    "MT": ZoneInfo("America/Denver"),
    "MS": _fixed(-7),
    "MD": _fixed(-6),
    "PT": ZoneInfo("America/Los_Angeles"),
    "PS": _fixed(-8),
    "PD": _fixed(-7),
    "AT": ZoneInfo("America/Anchorage"),
    "AD": _fixed(-8),
}
