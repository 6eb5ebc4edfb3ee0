"""Real places the sandbox puts its warehouses, customer sites and truck stops in."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    region: str
    country: str
    lat: float
    lon: float
    zone: str


#: The company's six distribution centres: (location_id, WMS site code, city).
WAREHOUSES = (
    ("WH-ATL", "ATL", City("Atlanta", "GA", "US", 33.7490, -84.3880, "America/New_York")),
    ("WH-CHI", "CHI", City("Chicago", "IL", "US", 41.8781, -87.6298, "America/Chicago")),
    ("WH-DAL", "DAL", City("Dallas", "TX", "US", 32.7767, -96.7970, "America/Chicago")),
    ("WH-LAX", "LAX", City("Los Angeles", "CA", "US", 34.0522, -118.2437, "America/Los_Angeles")),
    ("WH-NWK", "NWK", City("Newark", "NJ", "US", 40.7357, -74.1724, "America/New_York")),
    ("WH-TOR", "TOR", City("Toronto", "ON", "CA", 43.6532, -79.3832, "America/Toronto")),
)

#: Cities customer sites are spread over (every zone a carrier in this network meets).
CUSTOMER_CITIES = (
    City("Charlotte", "NC", "US", 35.2271, -80.8431, "America/New_York"),
    City("Nashville", "TN", "US", 36.1627, -86.7816, "America/Chicago"),
    City("Birmingham", "AL", "US", 33.5186, -86.8104, "America/Chicago"),
    City("Jacksonville", "FL", "US", 30.3322, -81.6557, "America/New_York"),
    City("Orlando", "FL", "US", 28.5383, -81.3792, "America/New_York"),
    City("Miami", "FL", "US", 25.7617, -80.1918, "America/New_York"),
    City("Savannah", "GA", "US", 32.0809, -81.0912, "America/New_York"),
    City("Memphis", "TN", "US", 35.1495, -90.0490, "America/Chicago"),
    City("Indianapolis", "IN", "US", 39.7684, -86.1581, "America/Indiana/Indianapolis"),
    City("Milwaukee", "WI", "US", 43.0389, -87.9065, "America/Chicago"),
    City("Detroit", "MI", "US", 42.3314, -83.0458, "America/Detroit"),
    City("Columbus", "OH", "US", 39.9612, -82.9988, "America/New_York"),
    City("Minneapolis", "MN", "US", 44.9778, -93.2650, "America/Chicago"),
    City("St. Louis", "MO", "US", 38.6270, -90.1994, "America/Chicago"),
    City("Kansas City", "MO", "US", 39.0997, -94.5786, "America/Chicago"),
    City("Houston", "TX", "US", 29.7604, -95.3698, "America/Chicago"),
    City("San Antonio", "TX", "US", 29.4241, -98.4936, "America/Chicago"),
    City("Austin", "TX", "US", 30.2672, -97.7431, "America/Chicago"),
    City("Oklahoma City", "OK", "US", 35.4676, -97.5164, "America/Chicago"),
    City("Denver", "CO", "US", 39.7392, -104.9903, "America/Denver"),
    City("Phoenix", "AZ", "US", 33.4484, -112.0740, "America/Phoenix"),
    City("Las Vegas", "NV", "US", 36.1699, -115.1398, "America/Los_Angeles"),
    City("San Diego", "CA", "US", 32.7157, -117.1611, "America/Los_Angeles"),
    City("Fresno", "CA", "US", 36.7378, -119.7871, "America/Los_Angeles"),
    City("Sacramento", "CA", "US", 38.5816, -121.4944, "America/Los_Angeles"),
    City("Salt Lake City", "UT", "US", 40.7608, -111.8910, "America/Denver"),
    City("Albuquerque", "NM", "US", 35.0844, -106.6504, "America/Denver"),
    City("El Paso", "TX", "US", 31.7619, -106.4850, "America/Denver"),
    City("Tucson", "AZ", "US", 32.2226, -110.9747, "America/Phoenix"),
    City("Philadelphia", "PA", "US", 39.9526, -75.1652, "America/New_York"),
    City("Baltimore", "MD", "US", 39.2904, -76.6122, "America/New_York"),
    City("Boston", "MA", "US", 42.3601, -71.0589, "America/New_York"),
    City("Hartford", "CT", "US", 41.7658, -72.6734, "America/New_York"),
    City("Pittsburgh", "PA", "US", 40.4406, -79.9959, "America/New_York"),
    City("Albany", "NY", "US", 42.6526, -73.7562, "America/New_York"),
    City("Richmond", "VA", "US", 37.5407, -77.4360, "America/New_York"),
    City("Raleigh", "NC", "US", 35.7796, -78.6382, "America/New_York"),
    City("Louisville", "KY", "US", 38.2527, -85.7585, "America/Kentucky/Louisville"),
    City("Cincinnati", "OH", "US", 39.1031, -84.5120, "America/New_York"),
    City("Mississauga", "ON", "CA", 43.5890, -79.6441, "America/Toronto"),
    City("Hamilton", "ON", "CA", 43.2557, -79.8711, "America/Toronto"),
    City("Ottawa", "ON", "CA", 45.4215, -75.6972, "America/Toronto"),
    City("Montreal", "QC", "CA", 45.5017, -73.5673, "America/Toronto"),
    City("Quebec City", "QC", "CA", 46.8139, -71.2080, "America/Toronto"),
    City("London", "ON", "CA", 42.9849, -81.2453, "America/Toronto"),
    City("Kitchener", "ON", "CA", 43.4516, -80.4925, "America/Toronto"),
    City("Winnipeg", "MB", "CA", 49.8951, -97.1384, "America/Winnipeg"),
)

#: Parts of generated company names and item descriptions.
NAME_FIRST = ("Acme", "Northwind", "Blue Ridge", "Summit", "Harbor", "Prairie", "Cedar", "Granite", "Maple",
              "Lakeshore", "Pioneer", "Keystone", "Redwood", "Silverline", "Evergreen", "Ironwood", "Bayside",
              "Frontier", "Riverbend", "Sterling", "Cascade", "Heartland", "Coastal", "Union", "Liberty")
NAME_SECOND = ("Foods", "Hardware", "Supply", "Retail", "Pharma", "Beverages", "Paper", "Electronics",
               "Home Goods", "Auto Parts", "Textiles", "Building Products", "Pet Care", "Outfitters",
               "Grocers", "Medical", "Packaging", "Garden Centers", "Office Supply", "Appliances")
NAME_SUFFIX = ("Inc", "LLC", "Co", "Corp", "Ltd", "Group", "Distribution", "Holdings")
EUROPEAN_SUFFIX = ("GmbH", "S.A.", "B.V.", "S.p.A.", "AB")
ITEM_ADJECTIVES = ("Heavy-duty", "Compact", "Premium", "Standard", "Organic", "Stainless", "Insulated",
                   "Recycled", "Cordless", "Frozen", "Bulk", "Slim")
ITEM_NOUNS = ("shelving unit", "detergent", "coffee beans", "printer paper", "LED panel", "garden hose",
              "dog food", "motor oil", "paint", "tile adhesive", "water filter", "cable reel", "canned tomatoes",
              "office chair", "copper pipe", "trash bags", "batteries", "spring water", "pallet wrap", "flour")
SIGNERS = ("J. Smith", "M. Garcia", "A. Nguyen", "R. Patel", "K. Johnson", "L. Tremblay", "S. Brown",
           "D. Martin", "T. Williams", "C. Roy", "P. Lee", "E. Davis", "B. Gagnon", "N. Wilson")


#: State or province of every city above (ERP locations carry only city and country; EDI wants both).
REGION_OF = {city.name: city.region for city in CUSTOMER_CITIES + tuple(c for _, _, c in WAREHOUSES)}


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))
