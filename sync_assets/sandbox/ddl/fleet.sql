-- Fleet / TMS / telematics: LANDSCAPE.md §3, exactly.
CREATE TABLE geofences (
    geofence_id  text PRIMARY KEY,
    location_ref text,
    latitude     double precision,
    longitude    double precision,
    radius_m     int NOT NULL
);
CREATE TABLE dispatches (
    dispatch_id  text PRIMARY KEY,
    shipment_ref text NOT NULL,
    vehicle_id   text NOT NULL,
    driver_id    text,
    distance_km  numeric(10,2) NOT NULL,
    status       text NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE TABLE telematics_events (
    seq         bigint PRIMARY KEY,
    event_uid   text NOT NULL,
    dispatch_id text NOT NULL,
    event_type  text NOT NULL,
    geofence_id text,
    occurred_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    payload     jsonb
);
CREATE TABLE proof_of_delivery (
    pod_id         text PRIMARY KEY,
    dispatch_id    text NOT NULL,
    signed_by      text,
    signed_at      timestamptz NOT NULL,
    exception_code text,
    updated_at     timestamptz NOT NULL
);
