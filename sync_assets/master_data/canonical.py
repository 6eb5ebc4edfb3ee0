"""Canonical master data: the shared model built from the landing tables, one named query per table.

Each query reads only live landing rows (`_operation <> 'delete'`), normalises ids (trimmed,
upper case) and, should two source rows normalise to one id, keeps the most recently updated so
the merge key stays unique. The merge into `canonical.*` rewrites only changed rows and deletes
rows whose source row is gone.
"""

from sync_assets.canonical import CanonicalTable


CUSTOMERS = CanonicalTable(
    name="customers",
    key=("customer_id",),
    ddl="""
        customer_id text NOT NULL,
        name text,
        currency char(3),
        payment_terms_days int,
        active bool,
        source_updated_at timestamptz
    """,
    select="""
        SELECT DISTINCT ON (upper(btrim(customer_id)))
               upper(btrim(customer_id)), btrim(name), upper(currency), payment_terms_days, active, updated_at
        FROM landing.raw_erp_customers WHERE _operation <> 'delete'
        ORDER BY upper(btrim(customer_id)), updated_at DESC
    """,
    landing=("raw_erp_customers",),
    description="ERP customers: who is billed, in which currency, with which payment terms.",
)

ITEMS = CanonicalTable(
    name="items",
    key=("sku",),
    ddl="""
        sku text NOT NULL,
        description text,
        uom text,
        unit_cost numeric(12,4),
        source_updated_at timestamptz
    """,
    select="""
        SELECT DISTINCT ON (upper(btrim(sku)))
               upper(btrim(sku)), description, upper(btrim(uom)), unit_cost, updated_at
        FROM landing.raw_erp_items WHERE _operation <> 'delete'
        ORDER BY upper(btrim(sku)), updated_at DESC
    """,
    landing=("raw_erp_items",),
    description="ERP items (SKUs) with unit cost, which prices inventory mismatches.",
)

LOCATIONS = CanonicalTable(
    name="locations",
    key=("location_id",),
    ddl="""
        location_id text NOT NULL,
        kind text,
        name text,
        city text,
        country char(2),
        latitude double precision,
        longitude double precision,
        timezone text,
        wms_site_code text,
        geofence_id text,
        geofence_latitude double precision,
        geofence_longitude double precision,
        geofence_radius_m int,
        source_updated_at timestamptz
    """,
    # The WMS site crosswalk and the fleet geofence are joined on the ERP location id; a location
    # with several geofences takes the lowest geofence_id so the result is repeatable.
    select="""
        SELECT DISTINCT ON (upper(btrim(l.location_id)))
               upper(btrim(l.location_id)), upper(btrim(l.kind)), l.name, l.city, upper(l.country),
               l.latitude, l.longitude, l.timezone,
               s.site_code, g.geofence_id, g.latitude, g.longitude, g.radius_m, l.updated_at
        FROM landing.raw_erp_locations l
        LEFT JOIN (
            SELECT DISTINCT ON (upper(btrim(erp_location_id))) upper(btrim(erp_location_id)) AS location_id,
                   upper(btrim(site_code)) AS site_code
            FROM landing.raw_wms_sites WHERE _operation <> 'delete'
            ORDER BY upper(btrim(erp_location_id)), upper(btrim(site_code))
        ) s ON s.location_id = upper(btrim(l.location_id))
        LEFT JOIN (
            SELECT DISTINCT ON (upper(btrim(location_ref))) upper(btrim(location_ref)) AS location_id,
                   geofence_id, latitude, longitude, radius_m
            FROM landing.raw_fleet_geofences WHERE _operation <> 'delete'
            ORDER BY upper(btrim(location_ref)), geofence_id
        ) g ON g.location_id = upper(btrim(l.location_id))
        WHERE l._operation <> 'delete'
        ORDER BY upper(btrim(l.location_id)), l.updated_at DESC
    """,
    landing=("raw_erp_locations", "raw_wms_sites", "raw_fleet_geofences"),
    description=(
        "ERP locations with their WMS site (the crosswalk that turns WMS local times into UTC and "
        "WMS stock into ERP locations) and their fleet geofence (which decides ARRIVED and dwell)."
    ),
)

CONTRACTS = CanonicalTable(
    name="contracts",
    key=("contract_id",),
    ddl="""
        contract_id text NOT NULL,
        customer_id text,
        valid_from date,
        valid_to date,
        currency char(3),
        rate_per_km numeric(12,4),
        min_charge numeric(12,2),
        fuel_surcharge_pct numeric(6,3),
        detention_free_minutes int,
        detention_rate_per_hour numeric(12,2),
        accessorial_rates jsonb,
        source_updated_at timestamptz
    """,
    select="""
        SELECT DISTINCT ON (upper(btrim(contract_id)))
               upper(btrim(contract_id)), upper(btrim(customer_id)), valid_from, valid_to, upper(currency),
               rate_per_km, min_charge, fuel_surcharge_pct, detention_free_minutes, detention_rate_per_hour,
               accessorial_rates, updated_at
        FROM landing.raw_erp_contracts WHERE _operation <> 'delete'
        ORDER BY upper(btrim(contract_id)), updated_at DESC
    """,
    landing=("raw_erp_contracts",),
    description="Customer contracts: the rates every expected charge is computed from.",
)

MASTER_DATA = (CUSTOMERS, ITEMS, LOCATIONS, CONTRACTS)
