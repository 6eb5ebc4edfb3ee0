"""Each LANDSCAPE §5 formula and boundary on a hand-made one-shipment world: rounding half-up,
min charge, dwell from the first visit by device time, accessorials missing from the contract,
REFUSED PODs, the 24 h MISSING_POD edge, contract valid_to inclusive, the as-of instant, duplicates
and what holds an invoice. Other tools check these numbers against their own reading of §5."""

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from conftest import create_databases, drop_databases
from psycopg.types.json import Jsonb

from sync_assets.canonical import ensure_functions
from sync_assets.edi.intake import INTAKE_DDL
from sync_assets.master_data.canonical import MASTER_DATA
from sync_assets.partitions import run_params
from sync_assets.reconciliation import rules
from sync_assets.shipments.canonical import OPERATIONAL

DAY = "2026-10-31"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
POD_AT = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
SHIPMENT = "SO-0000001"


@pytest.fixture
def warehouse(pg_admin_url):
    urls = create_databases(pg_admin_url, roles=("warehouse",))
    with psycopg.connect(urls["warehouse"], autocommit=True) as conn:
        cursor = conn.cursor()
        ensure_functions(cursor)
        cursor.execute(INTAKE_DDL)
        for table in (*MASTER_DATA, *OPERATIONAL):
            cursor.execute(table.create_statement())
        yield conn
    drop_databases(pg_admin_url, urls)


def insert(conn, table: str, **values) -> None:
    values = {k: Jsonb(v) if isinstance(v, dict) else v for k, v in values.items()}
    columns = ", ".join([*values, "_synced_at"])
    conn.execute(f"INSERT INTO canonical.{table} ({columns}) VALUES ({', '.join(['%s'] * len(values))}, now())",
                 list(values.values()))


def one_delivery(conn, *, distance="10.00", pod_at=POD_AT, pod_code=None, valid_to=date(2026, 12, 31)) -> None:
    """Customer C1 (USD, 30 days), its contract, ship-to CS-1 with geofence G1, shipment, dispatch, POD."""
    insert(conn, "customers", customer_id="C1", currency="USD", payment_terms_days=30, active=True)
    insert(conn, "contracts", contract_id="K1", customer_id="C1", valid_from=date(2026, 1, 1), valid_to=valid_to,
           currency="USD", rate_per_km="1.0005", min_charge="5.00", fuel_surcharge_pct="12.500",
           detention_free_minutes=120, detention_rate_per_hour="50.00", accessorial_rates={"LIFT": 75.0})
    insert(conn, "locations", location_id="CS-1", kind="CUSTOMER_SITE", timezone="UTC", geofence_id="G1")
    insert(conn, "shipments", shipment_id=SHIPMENT, customer_id="C1", ship_to="CS-1", order_status="SHIPPED",
           correlation_id="corr-1")
    insert(conn, "dispatches", dispatch_id="D1", shipment_id=SHIPMENT, distance_km=distance, status="DELIVERED",
           is_orphan=False, correlation_id="corr-1")
    if pod_at:
        insert(conn, "proofs_of_delivery", pod_id="P1", dispatch_id="D1", shipment_id=SHIPMENT, signed_at=pod_at,
               exception_code=pod_code, is_delivery=pod_code != "REFUSED", correlation_id="corr-1")


def event(conn, uid: str, kind: str, at: datetime, geofence="G1", seq=1) -> None:
    insert(conn, "vehicle_events", event_uid=uid, seq=seq, dispatch_id="D1", shipment_id=SHIPMENT, event_type=kind,
           geofence_id=geofence, occurred_at=at, received_at=at, resent_count=0, correlation_id="corr-1")


def charge(conn, charge_id: str, code: str, amount: str, *, quantity="1", currency="USD", rated_at=POD_AT) -> None:
    insert(conn, "charges", charge_id=charge_id, shipment_id=SHIPMENT, charge_code=code, quantity=quantity,
           amount=amount, currency=currency, status="RATED", rated_at=rated_at, is_orphan=False,
           correlation_id="corr-1")


def reconcile(conn) -> tuple[dict, dict, dict]:
    """Run the day; returns (expected by code, exceptions by type as (key, expected, actual, at risk), readiness)."""
    params = run_params(DAY)
    with conn.transaction():
        rules.compute_expected_charges(conn.cursor(), params)
    with conn.transaction():
        rules.compute_exceptions(conn.cursor(), params)
    with conn.transaction():
        rules.compute_readiness(conn.cursor(), params)
    expected = dict(conn.execute("SELECT charge_code, expected_amount::text FROM reconciliation.expected_charges").fetchall())
    exceptions: dict[str, list] = {}
    for kind, *row in conn.execute(
            "SELECT exception_type, exception_key, expected, actual, amount_at_risk::text "
            "FROM reconciliation.reconciliation_exceptions ORDER BY 1, 2"):
        exceptions.setdefault(kind, []).append(tuple(row))
    readiness = {r[0]: r[1:] for r in conn.execute(
        "SELECT shipment_id, ready, reason FROM reconciliation.invoice_readiness").fetchall()}
    return expected, exceptions, readiness


@pytest.mark.parametrize(
    "distance, base, fuel",
    [
        ("10.00", "10.01", "1.25"),  # 1.0005 x 10 = 10.005 -> 10.01 (half-up, not half-even); 10.01 x 12.5 % = 1.25125
        ("1.00", "5.00", "0.63"),  # below the minimum charge; 0.625 -> 0.63
        ("1000.00", "1000.50", "125.06"),  # 125.0625 -> 125.06
    ],
)
def test_base_and_fuel_round_half_up_at_the_end(warehouse, distance, base, fuel):
    one_delivery(warehouse, distance=distance)
    charge(warehouse, "CH1", "BASE", base)
    charge(warehouse, "CH2", "FUEL", fuel)
    expected, exceptions, readiness = reconcile(warehouse)
    assert expected == {"BASE": base, "FUEL": fuel}
    assert exceptions == {}
    assert readiness[SHIPMENT] == (True, "")


def test_detention_uses_the_first_visit_by_device_time(warehouse):
    one_delivery(warehouse)
    arrived = POD_AT - timedelta(hours=5)
    event(warehouse, "e-late-ingest", "GEOFENCE_ENTER", arrived, seq=9)  # ingested last, happened first
    event(warehouse, "e-second", "GEOFENCE_ENTER", arrived + timedelta(minutes=10), seq=1)
    event(warehouse, "e-other-fence", "GEOFENCE_EXIT", arrived + timedelta(minutes=30), geofence="G9")
    event(warehouse, "e-exit", "GEOFENCE_EXIT", arrived + timedelta(minutes=150, seconds=30))
    event(warehouse, "e-revisit-in", "GEOFENCE_ENTER", arrived + timedelta(hours=3))
    event(warehouse, "e-revisit-out", "GEOFENCE_EXIT", arrived + timedelta(hours=4))
    charge(warehouse, "CH1", "BASE", "10.01")
    charge(warehouse, "CH2", "FUEL", "1.25")
    expected, exceptions, readiness = reconcile(warehouse)
    # dwell 150.5 min, 30.5 over the free 120: 30.5 / 60 x 50.00 = 25.4166… -> 25.42
    assert expected["DET"] == "25.42"
    assert exceptions == {"DETENTION_NOT_BILLED": [(SHIPMENT, "25.42", "0.00", "25.42")]}
    assert readiness[SHIPMENT] == (False, "open exception(s): DETENTION_NOT_BILLED")


def test_detention_billed_without_dwell_is_a_rate_mismatch(warehouse):
    one_delivery(warehouse)
    event(warehouse, "in", "GEOFENCE_ENTER", POD_AT - timedelta(hours=2))
    event(warehouse, "out", "GEOFENCE_EXIT", POD_AT - timedelta(minutes=30))  # 90 min: within the free time
    for charge_id, code, amount in (("CH1", "BASE", "10.01"), ("CH2", "FUEL", "1.25"), ("CH3", "DET", "40.00")):
        charge(warehouse, charge_id, code, amount)
    expected, exceptions, _ = reconcile(warehouse)
    assert "DET" not in expected
    assert exceptions == {"RATE_MISMATCH": [(f"{SHIPMENT}:DET", "DET:0.00", "DET:40.00", "40.00")]}


def test_accessorials_are_quantity_times_rate_and_zero_when_the_contract_lacks_the_code(warehouse):
    one_delivery(warehouse)
    charge(warehouse, "CH1", "BASE", "10.01")
    charge(warehouse, "CH2", "FUEL", "1.25")
    charge(warehouse, "CH3", "LIFT", "150.00", quantity="2")
    charge(warehouse, "CH4", "RESI", "12.00")
    expected, exceptions, _ = reconcile(warehouse)
    assert (expected["LIFT"], expected["RESI"]) == ("150.00", "0.00")
    assert exceptions == {"RATE_MISMATCH": [(f"{SHIPMENT}:RESI", "RESI:0.00", "RESI:12.00", "12.00")]}


@pytest.mark.parametrize(
    "arrived_before_as_of, raised",
    [(timedelta(hours=24), False), (timedelta(hours=24, seconds=1), True)],
)
def test_a_refused_pod_is_no_pod_and_missing_pod_waits_strictly_24_hours(warehouse, arrived_before_as_of, raised):
    one_delivery(warehouse, pod_code="REFUSED")
    event(warehouse, "in", "GEOFENCE_ENTER", AS_OF - arrived_before_as_of)
    charge(warehouse, "CH1", "BASE", "10.01")
    expected, exceptions, readiness = reconcile(warehouse)
    assert expected == {} and readiness == {}  # no delivery: nothing priced, nothing to invoice
    assert exceptions == ({"MISSING_POD": [(SHIPMENT, "11.26", None, "11.26")]} if raised else {})


def test_the_contract_is_valid_through_valid_to_and_facts_after_the_as_of_instant_wait(warehouse):
    one_delivery(warehouse, valid_to=POD_AT.date())
    charge(warehouse, "CH1", "BASE", "10.01")
    charge(warehouse, "CH2", "FUEL", "1.25")
    charge(warehouse, "CH3", "LIFT", "75.00", rated_at=AS_OF + timedelta(seconds=1))  # rated after the run's instant
    expected, exceptions, readiness = reconcile(warehouse)
    assert expected == {"BASE": "10.01", "FUEL": "1.25"} and exceptions == {}
    assert readiness[SHIPMENT] == (True, "")
    warehouse.execute("UPDATE canonical.proofs_of_delivery SET signed_at = %s", (AS_OF + timedelta(minutes=1),))
    expected, exceptions, readiness = reconcile(warehouse)
    assert expected == {} and readiness == {}


def test_duplicates_count_the_lines_beyond_the_first_and_hold_the_invoice(warehouse):
    one_delivery(warehouse)
    charge(warehouse, "CH1", "BASE", "10.01")
    charge(warehouse, "CH2", "FUEL", "1.25")
    charge(warehouse, "CH3", "BASE", "10.01")
    charge(warehouse, "CH4", "FUEL", "1.25", currency="EUR")
    _, exceptions, readiness = reconcile(warehouse)
    assert exceptions == {
        "CURRENCY_MISMATCH": [(SHIPMENT, "USD", "EUR", "1.25")],
        "DUPLICATE_CHARGE": [(SHIPMENT, None, "CH3,CH4", "11.26")],
        "RATE_MISMATCH": [(f"{SHIPMENT}:BASE", "BASE:10.01", "BASE:20.02", "10.01"),
                          (f"{SHIPMENT}:FUEL", "FUEL:1.25", "FUEL:2.50", "1.25")],
    }
    assert readiness[SHIPMENT][0] is False


def test_an_open_dispute_holds_the_invoice_and_unbilled_delivery_is_expected_base_plus_fuel(warehouse):
    one_delivery(warehouse)
    insert(warehouse, "disputes", dispute_id="DS1", shipment_id=SHIPMENT, status="OPEN", opened_at=POD_AT,
           is_orphan=False)
    _, exceptions, readiness = reconcile(warehouse)
    assert exceptions == {"UNBILLED_DELIVERY": [(SHIPMENT, "11.26", None, "11.26")]}
    assert readiness[SHIPMENT] == (False, "no RATED BASE line; 1 open dispute(s); open exception(s): UNBILLED_DELIVERY")


def test_a_carrier_message_is_an_orphan_only_when_neither_b10_reference_names_an_order(warehouse):
    one_delivery(warehouse)
    charge(warehouse, "CH1", "BASE", "10.01")
    charge(warehouse, "CH2", "FUEL", "1.25")
    for file_name, shipment_ref, carrier_ref in (("a.edi", "so0000001", "PRO-1"), ("b.edi", "BOL-9", "so-0000001 "),
                                                 ("c.edi", "BOL-7", "PRO-2")):
        warehouse.execute(
            "INSERT INTO landing.raw_edi_status_events (file_sha256, set_no, event_no, file_name, control_number, "
            "shipment_ref, carrier_ref, status_code) VALUES (%s, 1, 1, %s, '0001', %s, %s, 'X1')",
            (file_name, file_name, shipment_ref, carrier_ref))
    _, exceptions, _ = reconcile(warehouse)
    assert exceptions == {"ORPHAN_RECORD": [("edi:c.edi:BOL-7", None, "edi:c.edi:BOL-7", None)]}
