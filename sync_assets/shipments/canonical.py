"""The canonical operational model: shipments, their loads, dispatches, vehicle events, PODs,
milestones, charges, disputes and inventory positions, built from landing with LANDSCAPE §5's rules.

- Ids from other systems are normalised with `canonical.shipment_id` (upper case, trimmed, the
  dash restored: `so0001234` → `SO-0001234`); a load, dispatch, charge or dispute whose reference
  matches no ERP order is kept, flagged `is_orphan`.
- Every row tied to a shipment carries its `correlation_id` (derived from the order id, so it is
  the same in every run and every system's rows).
- WMS times are local site time: they become UTC with the WMS site's zone. A WMS row whose site
  is not in the crosswalk cannot be placed in time and becomes a dead letter.
- Telematics events count once per event_uid (the first received), POSITION pings are noise and
  stay in landing; "first" is always by device time (`occurred_at`).
"""

from resources.dead_letters import DeadLetterRule
from resources.warehouse import drop_retired_index, ensure_landing_table
from sync_assets.canonical import CanonicalTable
from sync_assets.edi.intake import INTAKE_DDL
from sync_assets.invoicing.posting import DDL as INVOICING_DDL
from sync_assets.reconciliation.rules import DDL as RECONCILIATION_DDL
from sync_assets.mappings import source_table

#: Governed code lists (LANDSCAPE §4); a charge line outside them cannot be billed.
CHARGE_CODES = ("BASE", "FUEL", "DET", "LIFT", "INSD", "RESI")
CHARGE_STATUSES = ("RATED", "VOID")


def _payload_rule(table: str, landing: str, key: tuple[str, str], reason_sql: str, where: str) -> DeadLetterRule:
    """A rule over `landing` rows failing `where`; `key` is the row's (single) key column and type."""
    column, type_ = key
    return DeadLetterRule(
        source_table=table,
        query=f"""
            SELECT r.{column}::text, {reason_sql}, to_jsonb(r) - '_source_system' - '_captured_at' - '_xid', r._capture_position
            FROM landing.{landing} r WHERE r._operation <> 'delete' AND {where} AND CANDIDATES
        """,
        key=key,
        landing=landing,
    )


_UNKNOWN_SITE = "NOT EXISTS (SELECT 1 FROM landing.raw_wms_sites s WHERE s._operation <> 'delete' AND s.site_code = r.site_code)"
#: A site whose zone PostgreSQL does not know: its local times cannot be converted either.
_ZONE_KNOWN = "s.timezone IN (SELECT name FROM pg_timezone_names)"
_UNKNOWN_ZONE = (f"EXISTS (SELECT 1 FROM landing.raw_wms_sites s WHERE s._operation <> 'delete' AND s.site_code = r.site_code "
                 f"AND NOT {_ZONE_KNOWN})")
_UNKNOWN_DISPATCH = (
    "NOT EXISTS (SELECT 1 FROM landing.raw_fleet_dispatches d WHERE d._operation <> 'delete' AND d.dispatch_id = r.dispatch_id)"
)

SHIPMENTS = CanonicalTable(
    name="shipments",
    key=("shipment_id",),
    ddl="""
        shipment_id text NOT NULL,
        customer_id text,
        ship_from text,
        ship_to text,
        requested_delivery date,
        order_status text,
        created_at timestamptz,
        source_updated_at timestamptz,
        correlation_id text
    """,
    select="""
        SELECT order_id, upper(btrim(customer_id)), upper(btrim(ship_from)),
               upper(btrim(ship_to)), requested_delivery, upper(btrim(status)), created_at, updated_at,
               canonical.correlation_id(order_id)
        FROM landing.raw_erp_sales_orders WHERE _operation <> 'delete' AND IN_SCOPE[order_id]
    """,
    landing=("raw_erp_sales_orders",),
    scope_inputs=(),
    # Before the order_id was taken as it is, these indexed canonical.shipment_id(order_id), and
    # canonical.shipments had a second index on its key.
    prepare=lambda cursor: [
        drop_retired_index(cursor, schema, name)
        for schema, name in (
            ("landing", "raw_erp_sales_orders_canonical_shipment_id_order_id"),
            ("landing", "raw_erp_sales_orders_history_canonical_shipment_id_order_id"),
            ("canonical", "shipments_shipment_id"),
        )
    ],
    description=(
        "One shipment per ERP sales order: the canonical shipment id is the ERP order_id as it is "
        "(LANDSCAPE §5), so the orders' own key finds a shipment's order."
    ),
)

LOADS = CanonicalTable(
    name="loads",
    key=("load_id",),
    ddl="""
        load_id text NOT NULL,
        shipment_id text,
        site_code text,
        location_id text,
        dock_door text,
        status text,
        load_completed_at timestamptz,
        source_updated_at timestamptz,
        is_orphan bool,
        correlation_id text
    """,
    select=f"""
        SELECT l.load_id, canonical.shipment_id(l.ext_order_ref), s.site_code, s.erp_location_id, l.dock_door,
               upper(btrim(l.status)), canonical.local_to_utc(l.load_completed_at, s.timezone),
               canonical.local_to_utc(l.updated_at, s.timezone),
               sh.shipment_id IS NULL, sh.correlation_id
        FROM landing.raw_wms_loads l
        JOIN landing.raw_wms_sites s ON s.site_code = l.site_code AND s._operation <> 'delete' AND {_ZONE_KNOWN}
        LEFT JOIN canonical.shipments sh ON sh.shipment_id = canonical.shipment_id(l.ext_order_ref)
        WHERE l._operation <> 'delete' AND IN_SCOPE[canonical.shipment_id(l.ext_order_ref)]
    """,
    landing=("raw_wms_loads", "raw_wms_sites", "shipments"),
    scope_inputs=("shipments",),
    indexes=(("landing", "raw_wms_loads", "canonical.shipment_id(ext_order_ref)"),),
    description="WMS loads with the shipment they carry and their times in UTC (site zone applied).",
    dead_letters=(
        _payload_rule("wms.loads", "raw_wms_loads", ("load_id", "text"), "'unknown WMS site ' || coalesce(r.site_code, 'NULL') || ': no zone for its local times'", _UNKNOWN_SITE),
        _payload_rule("wms.loads", "raw_wms_loads", ("load_id", "text"),
                      "'WMS site ' || r.site_code || ': time zone ' || (SELECT quote_literal(s.timezone) FROM landing.raw_wms_sites s "
                      "WHERE s._operation <> 'delete' AND s.site_code = r.site_code) || ' not recognised'", _UNKNOWN_ZONE),
    ),
)

DISPATCHES = CanonicalTable(
    name="dispatches",
    key=("dispatch_id",),
    ddl="""
        dispatch_id text NOT NULL,
        shipment_id text,
        shipment_ref text,
        vehicle_id text,
        driver_id text,
        distance_km numeric(10,2),
        status text,
        source_updated_at timestamptz,
        is_orphan bool,
        correlation_id text
    """,
    select="""
        SELECT d.dispatch_id, canonical.shipment_id(d.shipment_ref), d.shipment_ref, d.vehicle_id, d.driver_id,
               d.distance_km, upper(btrim(d.status)), d.updated_at, sh.shipment_id IS NULL, sh.correlation_id
        FROM landing.raw_fleet_dispatches d
        LEFT JOIN canonical.shipments sh ON sh.shipment_id = canonical.shipment_id(d.shipment_ref)
        WHERE d._operation <> 'delete' AND IN_SCOPE[canonical.shipment_id(d.shipment_ref)]
    """,
    landing=("raw_fleet_dispatches", "shipments"),
    scope_inputs=("shipments",),
    indexes=(("landing", "raw_fleet_dispatches", "canonical.shipment_id(shipment_ref)"),),
    description="Fleet dispatches with the dispatcher-typed shipment reference normalised to the ERP order id.",
)

VEHICLE_EVENTS = CanonicalTable(
    name="vehicle_events",
    key=("event_uid",),
    ddl="""
        event_uid text NOT NULL,
        seq bigint,
        dispatch_id text,
        shipment_id text,
        event_type text,
        geofence_id text,
        occurred_at timestamptz,
        received_at timestamptz,
        resent_count int,
        correlation_id text
    """,
    select="""
        SELECT DISTINCT ON (e.event_uid) e.event_uid, e.seq, e.dispatch_id, d.shipment_id, e.event_type, e.geofence_id,
               e.occurred_at, e.received_at, count(*) OVER (PARTITION BY e.event_uid) - 1, d.correlation_id
        FROM landing.raw_fleet_telematics_events e
        JOIN canonical.dispatches d ON d.dispatch_id = e.dispatch_id
        WHERE e._operation <> 'delete' AND e.event_type <> 'POSITION'
          -- whole events: a copy re-sent under another shipment's dispatch counts, or each
          -- shipment's refresh would take the copies it sees for the event
          AND WHEN_PARTIAL<<e.event_uid IN (
                SELECT s.event_uid FROM landing.raw_fleet_telematics_events s
                JOIN canonical.dispatches sd ON sd.dispatch_id = s.dispatch_id
                WHERE s._operation <> 'delete' AND IN_SCOPE[sd.shipment_id])>>
        ORDER BY e.event_uid, e.received_at, e.seq
    """,
    landing=("raw_fleet_telematics_events", "dispatches"),
    scope_inputs=("dispatches",),
    indexes=(("landing", "raw_fleet_telematics_events", "dispatch_id"), ("landing", "raw_fleet_telematics_events", "event_uid")),
    description=(
        "Telematics events other than POSITION pings, once per event_uid (a re-sent event is the "
        "same event); `resent_count` says how often the provider sent it again."
    ),
    dead_letters=(
        _payload_rule("fleet.telematics_events", "raw_fleet_telematics_events", ("seq", "bigint"), "'unknown dispatch ' || coalesce(r.dispatch_id, 'NULL')", _UNKNOWN_DISPATCH),
    ),
)

PODS = CanonicalTable(
    name="proofs_of_delivery",
    key=("pod_id",),
    ddl="""
        pod_id text NOT NULL,
        dispatch_id text,
        shipment_id text,
        signed_by text,
        signed_at timestamptz,
        exception_code text,
        is_delivery bool,
        source_updated_at timestamptz,
        correlation_id text
    """,
    select="""
        SELECT p.pod_id, p.dispatch_id, d.shipment_id, p.signed_by, p.signed_at, upper(btrim(p.exception_code)),
               upper(btrim(p.exception_code)) IS DISTINCT FROM 'REFUSED', p.updated_at, d.correlation_id
        FROM landing.raw_fleet_proof_of_delivery p
        JOIN canonical.dispatches d ON d.dispatch_id = p.dispatch_id
        WHERE p._operation <> 'delete' AND IN_SCOPE[d.shipment_id]
    """,
    landing=("raw_fleet_proof_of_delivery", "dispatches"),
    scope_inputs=("dispatches",),
    indexes=(("landing", "raw_fleet_proof_of_delivery", "dispatch_id"),),
    description="Proofs of delivery; a REFUSED one is not a delivery (no DELIVERED milestone, no invoice).",
    dead_letters=(
        _payload_rule("fleet.proof_of_delivery", "raw_fleet_proof_of_delivery", ("pod_id", "text"), "'unknown dispatch ' || coalesce(r.dispatch_id, 'NULL')", _UNKNOWN_DISPATCH),
    ),
)

MILESTONES = CanonicalTable(
    name="shipment_milestones",
    key=("shipment_id", "milestone"),
    ddl="""
        shipment_id text NOT NULL,
        milestone text NOT NULL,
        occurred_at timestamptz,
        source text,
        source_ref text,
        correlation_id text
    """,
    # One row per (shipment, milestone), the earliest; EDI 214s fill milestones no system of ours saw.
    # An order's statuses: the ones it showed before (the history) and the one it shows now.
    select="""
        WITH internal AS (
            (SELECT shipment_id, 'ORDERED' AS milestone, created_at AS occurred_at, 'erp' AS source,
                   'erp:sales_orders:' || shipment_id AS source_ref FROM canonical.shipments WHERE IN_SCOPE[shipment_id])
            UNION ALL
            (SELECT order_id, 'RELEASED', min(seen_at), 'erp', 'erp:sales_orders:' || order_id
            FROM (SELECT order_id, status, first_updated_at FROM landing.raw_erp_sales_orders_history
                  UNION ALL
                  SELECT order_id, status, updated_at FROM landing.raw_erp_sales_orders) AS seen (order_id, status, seen_at)
            WHERE upper(status) = 'RELEASED' AND seen_at IS NOT NULL AND IN_SCOPE[order_id]
            GROUP BY 1)
            UNION ALL
            (SELECT DISTINCT ON (shipment_id) shipment_id, 'LOADED', load_completed_at, 'wms', 'wms:loads:' || load_id
            FROM canonical.loads WHERE NOT is_orphan AND load_completed_at IS NOT NULL AND IN_SCOPE[shipment_id]
            ORDER BY shipment_id, load_completed_at, load_id)
            UNION ALL
            (SELECT DISTINCT ON (shipment_id) shipment_id, 'DEPARTED', occurred_at, 'fleet', 'fleet:telematics_events:' || event_uid
            FROM canonical.vehicle_events WHERE event_type = 'DEPARTED' AND shipment_id IS NOT NULL AND IN_SCOPE[shipment_id]
            ORDER BY shipment_id, occurred_at, event_uid)
            UNION ALL
            (SELECT DISTINCT ON (e.shipment_id) e.shipment_id, 'ARRIVED', e.occurred_at, 'fleet',
                   'fleet:telematics_events:' || e.event_uid
            FROM canonical.vehicle_events e
            JOIN canonical.shipments s ON s.shipment_id = e.shipment_id
            -- The ship-to's geofence as canonical.locations names it (the lowest id, where a site has
            -- several): the one reconciliation measures dwell and detention at.
            JOIN canonical.locations l ON l.location_id = s.ship_to AND l.geofence_id = e.geofence_id
            WHERE e.event_type = 'GEOFENCE_ENTER' AND IN_SCOPE[e.shipment_id]
            ORDER BY e.shipment_id, e.occurred_at, e.event_uid)
            UNION ALL
            (SELECT DISTINCT ON (shipment_id) shipment_id, 'DELIVERED', signed_at, 'fleet', 'fleet:proof_of_delivery:' || pod_id
            FROM canonical.proofs_of_delivery WHERE is_delivery AND shipment_id IS NOT NULL AND IN_SCOPE[shipment_id]
            ORDER BY shipment_id, signed_at, pod_id)
            UNION ALL
            (SELECT shipment_id, 'INVOICE_READY', (min(run_date) + 1)::timestamp AT TIME ZONE 'UTC', 'waybill',
                   'waybill:invoice_readiness:' || min(run_date)
            FROM reconciliation.invoice_readiness WHERE ready AND IN_SCOPE[shipment_id] GROUP BY shipment_id)
            UNION ALL
            (SELECT shipment_id, 'INVOICED', issued_at, 'waybill', 'erp:invoice_postings:' || invoice_id
            FROM invoicing.invoices WHERE IN_SCOPE[shipment_id])
                    ),
        edi_events AS (
            -- The order is the one B10-02 names, else the one B10-01 names (sync_assets/edi/messages.py).
            -- A local time (AT7-07 `LT`, or no code) is the event's place's: the order's ship-from
            -- for pick-up events, its ship-to for the others (ERP locations.timezone).
            SELECT s.shipment_id, e.milestone,
                   coalesce(e.occurred_at, canonical.local_to_utc(e.local_time, z.name)) AS occurred_at,
                   e.file_name, e.shipment_ref
            FROM landing.raw_edi_status_events e
            LEFT JOIN canonical.shipments b2 ON b2.shipment_id = canonical.shipment_id(e.shipment_ref)
            LEFT JOIN canonical.shipments b1 ON b1.shipment_id = canonical.shipment_id(e.carrier_ref)
            JOIN canonical.shipments s ON s.shipment_id = coalesce(b2.shipment_id, b1.shipment_id)
            LEFT JOIN canonical.locations l
                   ON l.location_id = CASE WHEN e.milestone IN ('LOADED', 'DEPARTED') THEN s.ship_from ELSE s.ship_to END
            LEFT JOIN pg_timezone_names z ON z.name = l.timezone
            WHERE e.milestone IS NOT NULL
              AND (IN_SCOPE[canonical.shipment_id(e.shipment_ref)] OR IN_SCOPE[canonical.shipment_id(e.carrier_ref)])
        ),
        edi AS (
            SELECT DISTINCT ON (shipment_id, milestone)
                   shipment_id, milestone, occurred_at, 'edi' AS source, 'edi:' || file_name || ':' || shipment_ref AS source_ref
            FROM edi_events WHERE occurred_at IS NOT NULL AND IN_SCOPE[shipment_id]
            ORDER BY shipment_id, milestone, occurred_at, file_name, shipment_ref
        ),
        everything AS (
            SELECT * FROM internal
            UNION ALL
            SELECT * FROM edi WHERE NOT EXISTS (
                SELECT 1 FROM internal i WHERE i.shipment_id = edi.shipment_id AND i.milestone = edi.milestone)
            -- A REFUSED proof of delivery is not a delivery, whatever the carrier reports.
            AND NOT (edi.milestone = 'DELIVERED' AND EXISTS (
                SELECT 1 FROM canonical.proofs_of_delivery p WHERE p.shipment_id = edi.shipment_id AND NOT p.is_delivery))
        )
        SELECT m.shipment_id, m.milestone, m.occurred_at, m.source, m.source_ref, s.correlation_id
        FROM everything m JOIN canonical.shipments s ON s.shipment_id = m.shipment_id
    """,
    landing=("shipments", "loads", "vehicle_events", "proofs_of_delivery", "raw_erp_sales_orders", "raw_edi_status_events",
             "locations"),
    scope_inputs=("shipments", "loads", "vehicle_events", "proofs_of_delivery"),
    indexes=(
        ("landing", "raw_edi_status_events", "canonical.shipment_id(shipment_ref)"),
        ("landing", "raw_edi_status_events", "canonical.shipment_id(carrier_ref)"),
        ("landing", "raw_edi_status_events", "_xid"),
        ("reconciliation", "invoice_readiness", "shipment_id"),
    ),
    prepare=lambda cursor: (
        cursor.execute(INTAKE_DDL),
        ensure_landing_table(cursor, source_table("erp", "sales_orders")),
        cursor.execute(RECONCILIATION_DDL),
        cursor.execute(INVOICING_DDL),
    ),
    description=(
        "Shipment milestones in UTC: ORDERED and RELEASED (ERP), LOADED (WMS, site time converted), "
        "DEPARTED and ARRIVED (first by device time; ARRIVED at the ship-to geofence), DELIVERED (POD "
        "signed, not REFUSED); carrier 214s fill milestones our systems did not see; INVOICE_READY "
        "(the first nightly as-of instant that found it ready) and INVOICED (the invoice's issue "
        "instant) from Waybill's own reconciliation, as of the previous nightly run."
    ),
)

CHARGES = CanonicalTable(
    name="charges",
    key=("charge_id",),
    ddl="""
        charge_id text NOT NULL,
        shipment_id text,
        charge_code text,
        quantity numeric(12,3),
        amount numeric(12,2),
        currency char(3),
        status text,
        rated_at timestamptz,
        source_updated_at timestamptz,
        is_orphan bool,
        correlation_id text
    """,
    select=f"""
        SELECT c.charge_id, canonical.shipment_id(c.shipment_ref), upper(btrim(c.charge_code)), c.quantity, c.amount,
               upper(c.currency), upper(btrim(c.status)), c.rated_at, c.updated_at, sh.shipment_id IS NULL, sh.correlation_id
        FROM landing.raw_billing_charge_lines c
        LEFT JOIN canonical.shipments sh ON sh.shipment_id = canonical.shipment_id(c.shipment_ref)
        WHERE c._operation <> 'delete' AND upper(btrim(c.charge_code)) IN {CHARGE_CODES}
          AND upper(btrim(c.status)) IN {CHARGE_STATUSES} AND IN_SCOPE[canonical.shipment_id(c.shipment_ref)]
    """,
    landing=("raw_billing_charge_lines", "shipments"),
    scope_inputs=("shipments",),
    indexes=(("landing", "raw_billing_charge_lines", "canonical.shipment_id(shipment_ref)"),),
    description="Billing charge lines with normalised shipment ids; codes and statuses from the governed lists.",
    dead_letters=(
        _payload_rule(
            "billing.charge_lines",
            "raw_billing_charge_lines",
            ("charge_id", "text"),
            "'charge code ' || coalesce(r.charge_code, 'NULL') || ' / status ' || coalesce(r.status, 'NULL') || ' not in the governed lists'",
            f"(upper(btrim(r.charge_code)) NOT IN {CHARGE_CODES} OR upper(btrim(r.status)) NOT IN {CHARGE_STATUSES} "
            "OR r.charge_code IS NULL OR r.status IS NULL)",
        ),
    ),
)

DISPUTES = CanonicalTable(
    name="disputes",
    key=("dispute_id",),
    ddl="""
        dispute_id text NOT NULL,
        shipment_id text,
        reason text,
        amount numeric(12,2),
        status text,
        opened_at timestamptz,
        source_updated_at timestamptz,
        is_orphan bool,
        correlation_id text
    """,
    select="""
        SELECT d.dispute_id, canonical.shipment_id(d.shipment_ref), d.reason, d.amount, upper(btrim(d.status)),
               d.opened_at, d.updated_at, sh.shipment_id IS NULL, sh.correlation_id
        FROM landing.raw_billing_disputes d
        LEFT JOIN canonical.shipments sh ON sh.shipment_id = canonical.shipment_id(d.shipment_ref)
        WHERE d._operation <> 'delete' AND IN_SCOPE[canonical.shipment_id(d.shipment_ref)]
    """,
    landing=("raw_billing_disputes", "shipments"),
    scope_inputs=("shipments",),
    indexes=(("landing", "raw_billing_disputes", "canonical.shipment_id(shipment_ref)"),),
    description="Customer disputes by shipment; an OPEN one holds the shipment's invoice.",
)

CARRIER_CHARGES = CanonicalTable(
    name="carrier_charges",
    key=("file_sha256", "set_no", "line_no"),
    ddl="""
        file_sha256 text NOT NULL,
        set_no int NOT NULL,
        line_no int NOT NULL,
        file_name text,
        invoice_number text,
        shipment_id text,
        shipment_ref text,
        charge_code text,
        l1_code text,
        amount numeric(12,2),
        currency char(3),
        invoice_date date,
        is_orphan bool,
        correlation_id text
    """,
    # What partner carriers bill us (X12 210), beside what we bill customers; a 210 whose
    # reference matches no order is kept as an orphan.
    select="""
        SELECT l.file_sha256, l.set_no, l.line_no, l.file_name, l.invoice_number,
               canonical.shipment_id(l.shipment_ref), l.shipment_ref, l.charge_code, l.l1_code, l.amount, l.currency,
               l.invoice_date, sh.shipment_id IS NULL, sh.correlation_id
        FROM landing.raw_edi_invoice_lines l
        LEFT JOIN canonical.shipments sh ON sh.shipment_id = canonical.shipment_id(l.shipment_ref)
    """,
    landing=("raw_edi_invoice_lines", "shipments"),
    description="Partner carriers' freight invoice lines (X12 210) by shipment, with Waybill charge codes.",
    prepare=lambda cursor: cursor.execute(INTAKE_DDL),
)

INVENTORY_POSITIONS = CanonicalTable(
    name="inventory_positions",
    key=("sku", "location_id"),
    ddl="""
        sku text NOT NULL,
        location_id text NOT NULL,
        erp_qty int,
        wms_qty bigint,
        difference bigint,
        unit_cost numeric(12,4)
    """,
    # WMS on-hand = the ledger's sum per (sku, site), in ERP ids (sku upper case, site → location);
    # a side with no row counts 0.
    select="""
        WITH wms AS (
            SELECT upper(btrim(m.sku)) AS sku, s.erp_location_id AS location_id, sum(m.qty) AS qty
            FROM landing.raw_wms_inventory_movements m
            JOIN landing.raw_wms_sites s ON s.site_code = m.site_code AND s._operation <> 'delete'
            WHERE m._operation <> 'delete' GROUP BY 1, 2
        ),
        erp AS (
            SELECT upper(btrim(sku)) AS sku, upper(btrim(location_id)) AS location_id, sum(qty_on_hand) AS qty
            FROM landing.raw_erp_inventory_balances WHERE _operation <> 'delete' GROUP BY 1, 2
        )
        SELECT coalesce(e.sku, w.sku), coalesce(e.location_id, w.location_id), coalesce(e.qty, 0), coalesce(w.qty, 0),
               coalesce(e.qty, 0) - coalesce(w.qty, 0), i.unit_cost
        FROM erp e FULL JOIN wms w ON w.sku = e.sku AND w.location_id = e.location_id
        LEFT JOIN canonical.items i ON i.sku = coalesce(e.sku, w.sku)
    """,
    landing=("raw_wms_inventory_movements", "raw_wms_sites", "raw_erp_inventory_balances", "items"),
    description="Stock per ERP sku and location: the ERP's balance beside the WMS ledger's on-hand.",
    dead_letters=(
        _payload_rule(
            "wms.inventory_movements", "raw_wms_inventory_movements", ("movement_id", "bigint"),
            "'unknown WMS site ' || coalesce(r.site_code, 'NULL') || ': no ERP location for its stock'", _UNKNOWN_SITE,
        ),
    ),
)

OPERATIONAL = (
    SHIPMENTS, LOADS, DISPATCHES, VEHICLE_EVENTS, PODS, MILESTONES, CHARGES, CARRIER_CHARGES, DISPUTES, INVENTORY_POSITIONS
)
