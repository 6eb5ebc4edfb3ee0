-- Billing engine: LANDSCAPE.md §4, exactly.
CREATE TABLE charge_lines (
    charge_id    text PRIMARY KEY,
    shipment_ref text NOT NULL,
    charge_code  text NOT NULL,
    quantity     numeric(12,3) NOT NULL,
    amount       numeric(12,2) NOT NULL,
    currency     char(3) NOT NULL,
    status       text NOT NULL,
    rated_at     timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE TABLE disputes (
    dispute_id   text PRIMARY KEY,
    shipment_ref text NOT NULL,
    reason       text,
    amount       numeric(12,2),
    status       text NOT NULL,
    opened_at    timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
