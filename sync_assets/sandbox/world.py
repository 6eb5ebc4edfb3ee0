"""Master data: customers, items, locations, contracts, WMS sites, geofences, and what follows from them.

`make_world` draws it from the seed (for `build`); `read_world` reads it back from the databases
(for `tick`). Both give an identical :class:`World`, so an order's lifecycle computed by a tick
matches the one the build computed. Everything a lifecycle needs beyond the rows themselves
(nearest warehouses, which items a warehouse stocks, the vehicle pool) is derived from the rows
by fixed rules, never drawn at random.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from random import Random

from . import geography
from .clock import DAY, LocalTime, day_seconds, seconds, utc_date
from .geography import CUSTOMER_CITIES, WAREHOUSES
from .rating import on_half_cent

#: Partner carriers (fictitious SCACs): their dispatches are also reported over EDI.
PARTNERS = (("LKSD", "LAKESIDE FREIGHT LINES"), ("BRCR", "BIRCHLINE CARRIERS"))
_FOUR = Decimal("0.0001")
_THREE = Decimal("0.001")
_TWO = Decimal("0.01")


@dataclass(frozen=True)
class Customer:
    customer_id: str
    name: str
    currency: str
    payment_terms_days: int
    active: bool
    updated_at: int

    def row(self):
        return (self.customer_id, self.name, self.currency, self.payment_terms_days, self.active, self.updated_at)


@dataclass(frozen=True)
class Item:
    sku: str
    description: str | None
    uom: str
    unit_cost: Decimal
    updated_at: int

    def row(self):
        return (self.sku, self.description, self.uom, self.unit_cost, self.updated_at)


@dataclass(frozen=True)
class Location:
    location_id: str
    kind: str
    name: str
    city: str
    country: str
    lat: float
    lon: float
    zone: str
    updated_at: int

    def row(self):
        return (self.location_id, self.kind, self.name, self.city, self.country, self.lat, self.lon,
                self.zone, self.updated_at)


@dataclass(frozen=True)
class Contract:
    contract_id: str
    customer_id: str
    valid_from: date
    valid_to: date | None
    currency: str
    rate_per_km: Decimal
    min_charge: Decimal
    fuel_surcharge_pct: Decimal
    detention_free_minutes: int
    detention_rate_per_hour: Decimal
    accessorial_rates: dict
    updated_at: int

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def row(self):
        rates = "{" + ", ".join(f'"{code}": {rate}' for code, rate in self.accessorial_rates.items()) + "}"
        return (self.contract_id, self.customer_id, self.valid_from, self.valid_to, self.currency,
                self.rate_per_km, self.min_charge, self.fuel_surcharge_pct, self.detention_free_minutes,
                self.detention_rate_per_hour, rates, self.updated_at)


@dataclass(frozen=True)
class Site:
    site_code: str
    location_id: str
    zone: str

    def row(self):
        return (self.site_code, self.location_id, self.zone)


@dataclass(frozen=True)
class Geofence:
    geofence_id: str
    location_ref: str | None
    lat: float
    lon: float
    radius_m: int

    def row(self):
        return (self.geofence_id, self.location_ref, self.lat, self.lon, self.radius_m)


@dataclass
class World:
    customers: list[Customer]
    items: list[Item]
    locations: dict[str, Location]
    contracts: list[Contract]
    sites: list[Site]
    geofences: list[Geofence]
    # Derived by __post_init__:
    site_of: dict[str, Site] = field(init=False)
    local_time: dict[str, LocalTime] = field(init=False)
    geofence_of: dict[str, Geofence] = field(init=False)
    stops: list[Geofence] = field(init=False)
    contracts_of: dict[str, list[Contract]] = field(init=False)
    customer_sites: dict[str, list[str]] = field(init=False)
    nearest_warehouses: dict[str, tuple[str, str]] = field(init=False)
    stocked: dict[str, list[Item]] = field(init=False)
    ordering_customers: list[Customer] = field(init=False)
    customer_weights: list[float] = field(init=False)
    vehicles: int = field(init=False)

    def __post_init__(self):
        # One canonical order, whether the world was drawn or read back from the databases.
        self.customers.sort(key=lambda c: c.customer_id)
        self.items.sort(key=lambda i: i.sku)
        self.contracts.sort(key=lambda c: c.contract_id)
        self.sites.sort(key=lambda s: s.site_code)
        self.geofences.sort(key=lambda g: (g.location_ref is None, g.geofence_id))
        self.site_of = {s.location_id: s for s in self.sites}
        self.local_time = {s.site_code: LocalTime(s.zone) for s in self.sites}
        self.geofence_of = {g.location_ref: g for g in self.geofences if g.location_ref}
        self.stops = [g for g in self.geofences if g.location_ref is None]
        self.contracts_of = {}
        for contract in sorted(self.contracts, key=lambda c: (c.customer_id, c.valid_from)):
            self.contracts_of.setdefault(contract.customer_id, []).append(contract)
        self.customer_sites = {}
        for loc in self.locations.values():
            if loc.kind == "CUSTOMER_SITE":
                self.customer_sites.setdefault(f"C{loc.location_id[3:9]}", []).append(loc.location_id)
        warehouses = [self.locations[s.location_id] for s in self.sites]
        self.nearest_warehouses = {}
        for sites in self.customer_sites.values():
            for site_id in sites:
                here = self.locations[site_id]
                ranked = sorted(warehouses, key=lambda w: (self.km(w, here), w.location_id))
                self.nearest_warehouses[site_id] = (ranked[0].location_id, ranked[1].location_id)
        self.stocked = {s.site_code: [i for i in self.items if is_stocked(i.sku, s.site_code)] for s in self.sites}
        self.ordering_customers = [c for c in self.customers if c.active and c.customer_id in self.customer_sites]
        self.customer_weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(self.ordering_customers))]
        self.vehicles = max(12, len(self.customers) * 3 // 2)
        self._routes: dict[tuple[str, str], float] = {}
        self._stops_on: dict[tuple[str, str], Geofence] = {}

    @staticmethod
    def km(a: Location, b: Location) -> float:
        return geography.distance_km(a.lat, a.lon, b.lat, b.lon)

    def route_km(self, origin: str, destination: str) -> float:
        """Great-circle kilometres between two locations (the road is longer; lifecycles add that)."""
        key = (origin, destination)
        if key not in self._routes:
            self._routes[key] = self.km(self.locations[origin], self.locations[destination])
        return self._routes[key]

    def truck_stop(self, origin: str, destination: str) -> Geofence:
        """The ad-hoc geofence nearest the middle of a route: where its driver rests."""
        key = (origin, destination)
        if key not in self._stops_on:
            a, b = self.locations[origin], self.locations[destination]
            lat, lon = (a.lat + b.lat) / 2, (a.lon + b.lon) / 2
            self._stops_on[key] = min(
                self.stops, key=lambda g: (geography.distance_km(g.lat, g.lon, lat, lon), g.geofence_id))
        return self._stops_on[key]

    def contract_on(self, customer_id: str, day: date) -> Contract:
        for contract in self.contracts_of[customer_id]:
            if contract.covers(day):
                return contract
        raise LookupError(f"no contract of {customer_id} is valid on {day}")

    def replace_contract(self, contract: Contract) -> None:
        """Swap in a corrected contract (same id), keeping the derived lookups in step."""
        self.contracts = [contract if c.contract_id == contract.contract_id else c for c in self.contracts]
        self.contracts_of[contract.customer_id] = [
            contract if c.contract_id == contract.contract_id else c for c in self.contracts_of[contract.customer_id]
        ]


def is_stocked(sku: str, site_code: str) -> bool:
    """Whether a warehouse carries an item: a fixed rule (about 70 % of items per warehouse)."""
    return zlib.crc32(f"{sku}@{site_code}".encode()) % 100 < 70


def make_world(rng: Random, orders: int, start: int) -> World:
    """Master data scaled to the order volume, last changed before `start` (a contract that starts
    inside the window was signed a few days before it starts)."""
    n_customers = max(20, orders // 200)
    n_items = min(5000, max(50, orders // 100))
    before = lambda low, high: start - int(rng.uniform(low, high) * DAY)  # noqa: E731
    locations = {}
    sites = []
    for location_id, site_code, city in WAREHOUSES:
        locations[location_id] = Location(location_id, "WAREHOUSE", f"{city.name} DC", city.name, city.country,
                                          city.lat, city.lon, city.zone, before(200, 900))
        sites.append(Site(site_code, location_id, city.zone))
    customers, contracts = [], []
    for number in range(101, 101 + n_customers):
        customer = _draw_customer(rng, number, before(30, 700))
        customers.append(customer)
        for k, city in enumerate(_draw_site_cities(rng, customer.currency), start=1):
            location_id = f"CS-{number:06d}-{k:02d}"
            locations[location_id] = Location(
                location_id, "CUSTOMER_SITE",
                f"{customer.name.split(' ')[0]} {city.name} {('DC', 'Store', 'Plant')[k % 3]}",
                city.name, city.country, round(city.lat + rng.uniform(-0.12, 0.12), 5),
                round(city.lon + rng.uniform(-0.12, 0.12), 5), city.zone, before(30, 500))
        contracts.extend(_draw_contracts(rng, customer, start))
    items = [_draw_item(rng, number, before(10, 900)) for number in range(1, n_items + 1)]
    geofences = [Geofence(f"GF-{loc.location_id}", loc.location_id, loc.lat, loc.lon,
                          int(rng.uniform(350, 600) if loc.kind == "WAREHOUSE" else rng.uniform(120, 350)))
                 for loc in locations.values()]
    geofences.extend(_draw_truck_stops(rng, 12 + min(n_customers // 10, 36)))
    return World(customers, items, locations, contracts, sites, geofences)


def _draw_customer(rng: Random, number: int, updated_at: int) -> Customer:
    currency = rng.choices(("USD", "EUR", "CAD"), (80, 10, 10))[0]
    suffix = rng.choice(geography.EUROPEAN_SUFFIX if currency == "EUR" else geography.NAME_SUFFIX)
    name = f"{rng.choice(geography.NAME_FIRST)} {rng.choice(geography.NAME_SECOND)} {suffix}"
    terms = rng.choices((15, 30, 45, 60), (10, 50, 25, 15))[0]
    return Customer(f"C{number:06d}", name, currency, terms, number < 104 or rng.random() > 0.08, updated_at)


def _draw_site_cities(rng: Random, currency: str) -> list:
    canadian = [c for c in CUSTOMER_CITIES if c.country == "CA"]
    american = [c for c in CUSTOMER_CITIES if c.country == "US"]
    pool = canadian if currency == "CAD" or (currency == "USD" and rng.random() < 0.12) else american
    home = rng.choice(pool)
    nearby = sorted(pool, key=lambda c: geography.distance_km(home.lat, home.lon, c.lat, c.lon))[:8]
    return [home] + [rng.choice(nearby) for _ in range(rng.choices((0, 1, 2), (50, 35, 15))[0])]


def _draw_contracts(rng: Random, customer: Customer, start: int) -> list[Contract]:
    """One or two consecutive validity periods; the last is open-ended or ends far after the window."""
    window_start = utc_date(start)
    first_from = window_start - timedelta(days=rng.randint(120, 500))
    periods = []
    if rng.random() < 0.45:
        switch = window_start + timedelta(days=rng.randint(-60, 25))
        periods.append((first_from, switch - timedelta(days=1)))
        first_from = switch
    periods.append((first_from, None if rng.random() < 0.8 else window_start + timedelta(days=rng.randint(120, 400))))
    contracts = []
    currency = customer.currency
    for k, (valid_from, valid_to) in enumerate(periods, start=1):
        if k == 2 and rng.random() < 0.1:
            currency = "USD" if currency != "USD" else "CAD"
        updated = day_seconds(valid_from) - int(rng.uniform(5, 40) * DAY)
        contracts.append(_draw_contract(rng, f"CT-{customer.customer_id}-{k}", customer.customer_id,
                                        valid_from, valid_to, currency, updated))
    return contracts


def _draw_contract(rng, contract_id, customer_id, valid_from, valid_to, currency, updated_at) -> Contract:
    min_charge = Decimal(rng.randrange(150, 460, 5)).quantize(_TWO)
    pct = Decimal(rng.uniform(8, 24.5)).quantize(_THREE)
    while on_half_cent(min_charge * pct / 100):
        pct += _THREE
    rates = {code: Decimal(rng.randrange(low, high, 5) / (2 if code == "RESI" else 1)).quantize(_TWO)
             for code, low, high in (("INSD", 30, 65), ("LIFT", 55, 100), ("RESI", 30, 90))
             if rng.random() < 0.7}
    return Contract(
        contract_id, customer_id, valid_from, valid_to, currency,
        Decimal(rng.uniform(1.2, 3.5)).quantize(_FOUR), min_charge, pct,
        rng.choice((60, 90, 120)), Decimal(rng.randrange(45, 100, 5)).quantize(_TWO), rates, updated_at)


def _draw_item(rng: Random, number: int, updated_at: int) -> Item:
    uom = rng.choices(("EA", "CS", "PL"), (50, 35, 15))[0]
    low, high = {"EA": (0.5, 80), "CS": (10, 400), "PL": (150, 2500)}[uom]
    description = None if rng.random() < 0.03 else (
        f"{rng.choice(geography.ITEM_ADJECTIVES)} {rng.choice(geography.ITEM_NOUNS)}, "
        f"{rng.choice(('1', '6', '12', '24', '48'))} {dict(CS='per case', PL='units').get(uom, 'each')}")
    return Item(f"SKU-{number:05d}", description, uom, Decimal(rng.uniform(low, high)).quantize(_FOUR), updated_at)


def _draw_truck_stops(rng: Random, count: int) -> list[Geofence]:
    """Ad-hoc geofences (no location_ref) on the routes between warehouses and customer cities."""
    stops = []
    for number in range(1, count + 1):
        _, _, a = rng.choice(WAREHOUSES)
        b = rng.choice(CUSTOMER_CITIES)
        share = rng.uniform(0.3, 0.7)
        stops.append(Geofence(f"GF-X{number:04d}", None, round(a.lat + (b.lat - a.lat) * share, 5),
                              round(a.lon + (b.lon - a.lon) * share, 5), int(rng.uniform(100, 300))))
    return stops


def world_rows(world: World) -> dict[str, list[tuple]]:
    """The master-data rows, by table."""
    return {
        "customers": [c.row() for c in world.customers],
        "items": [i.row() for i in world.items],
        "locations": [loc.row() for loc in world.locations.values()],
        "contracts": [c.row() for c in world.contracts],
        "sites": [s.row() for s in world.sites],
        "geofences": [g.row() for g in world.geofences],
    }


def read_world(connections) -> World:
    """The master data as the databases hold it now (a tick's view)."""
    erp, wms, fleet = connections["erp"], connections["wms"], connections["fleet"]
    customers = [Customer(r[0], r[1], r[2], r[3], r[4], seconds(r[5])) for r in erp.execute(
        "SELECT customer_id, name, currency, payment_terms_days, active, updated_at FROM customers "
        "ORDER BY customer_id")]
    items = [Item(r[0], r[1], r[2], r[3], seconds(r[4])) for r in erp.execute(
        "SELECT sku, description, uom, unit_cost, updated_at FROM items ORDER BY sku")]
    locations = {r[0]: Location(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], seconds(r[8])) for r in erp.execute(
        "SELECT location_id, kind, name, city, country, latitude, longitude, timezone, updated_at "
        "FROM locations ORDER BY kind DESC, location_id")}
    contracts = [Contract(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
                          json.loads(r[10], parse_float=Decimal), seconds(r[11])) for r in erp.execute(
        "SELECT contract_id, customer_id, valid_from, valid_to, currency, rate_per_km, min_charge, fuel_surcharge_pct, "
        "detention_free_minutes, detention_rate_per_hour, accessorial_rates::text, updated_at "
        "FROM contracts ORDER BY contract_id")]
    sites = [Site(*r) for r in wms.execute("SELECT site_code, erp_location_id, timezone FROM sites ORDER BY site_code")]
    geofences = [Geofence(*r) for r in fleet.execute(
        "SELECT geofence_id, location_ref, latitude, longitude, radius_m FROM geofences "
        "ORDER BY location_ref IS NULL, geofence_id")]
    return World(customers, items, locations, contracts, sites, geofences)
