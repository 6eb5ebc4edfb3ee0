-- ERP, the system of record: LANDSCAPE.md §1, exactly (schema public, no foreign keys).
CREATE TABLE customers (
    customer_id        text PRIMARY KEY,
    name               text NOT NULL,
    currency           char(3) NOT NULL,
    payment_terms_days int NOT NULL,
    active             bool NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE TABLE items (
    sku         text PRIMARY KEY,
    description text,
    uom         text NOT NULL,
    unit_cost   numeric(12,4),
    updated_at  timestamptz NOT NULL
);
CREATE TABLE locations (
    location_id text PRIMARY KEY,
    kind        text NOT NULL,
    name        text,
    city        text,
    country     char(2),
    latitude    double precision,
    longitude   double precision,
    timezone    text NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE contracts (
    contract_id             text PRIMARY KEY,
    customer_id             text NOT NULL,
    valid_from              date NOT NULL,
    valid_to                date,
    currency                char(3) NOT NULL,
    rate_per_km             numeric(12,4) NOT NULL,
    min_charge              numeric(12,2) NOT NULL,
    fuel_surcharge_pct      numeric(6,3) NOT NULL,
    detention_free_minutes  int NOT NULL,
    detention_rate_per_hour numeric(12,2) NOT NULL,
    accessorial_rates       jsonb NOT NULL,
    updated_at              timestamptz NOT NULL
);
CREATE TABLE sales_orders (
    order_id           text PRIMARY KEY,
    customer_id        text NOT NULL,
    ship_from          text NOT NULL,
    ship_to            text NOT NULL,
    requested_delivery date,
    status             text NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE TABLE order_lines (
    order_id   text NOT NULL,
    line_no    int NOT NULL,
    sku        text NOT NULL,
    quantity   int NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE TABLE inventory_balances (
    sku         text NOT NULL,
    location_id text NOT NULL,
    qty_on_hand int NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (sku, location_id)
);
CREATE TABLE invoice_postings (
    invoice_id     text PRIMARY KEY,
    order_id       text NOT NULL,
    customer_id    text NOT NULL,
    currency       char(3) NOT NULL,
    total_amount   numeric(12,2) NOT NULL,
    issued_at      timestamptz NOT NULL,
    due_date       date NOT NULL,
    line_count     int NOT NULL,
    correlation_id text NOT NULL,
    posted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE invoice_posting_lines (
    invoice_id  text NOT NULL,
    line_no     int NOT NULL,
    charge_code text NOT NULL,
    quantity    numeric(12,3) NOT NULL,
    amount      numeric(12,2) NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);
