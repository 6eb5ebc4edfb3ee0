"""Invoices for invoice-ready shipments, posted to the ERP exactly once.

The ERP is the system of record, so it decides what has been posted:
1. draft the day's invoices in the warehouse (one per invoice-ready shipment not yet invoiced;
   one line per RATED charge line, by charge_id), streamed in batches;
2. per batch, one ERP transaction inserts the postings with `ON CONFLICT (invoice_id) DO NOTHING`
   and the lines of exactly the postings that were new, then commits;
3. then the warehouse records what the ERP now holds for the batch (read back from the ERP).

`invoice_id` is derived from the order id, so a crash anywhere is safe: before the ERP commit
nothing was posted and the rerun posts it; after it, the rerun's insert finds the posting, adds
nothing, and step 3 records the ERP's copy. A posted invoice is final: later runs never change it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from sync_assets.reconciliation.rules import prepare

#: invoices per ERP transaction: large enough that commit latency does not dominate, small
#: enough that a batch's arrays stay a few MB.
BATCH = 2000

DDL = """
CREATE SCHEMA IF NOT EXISTS invoicing;
CREATE TABLE IF NOT EXISTS invoicing.invoices (
    invoice_id      text PRIMARY KEY,
    shipment_id     text NOT NULL UNIQUE,
    customer_id     text NOT NULL,
    currency        char(3) NOT NULL,
    total_amount    numeric(12,2) NOT NULL,
    issued_at       timestamptz NOT NULL,
    due_date        date NOT NULL,
    line_count      int NOT NULL,
    correlation_id  text NOT NULL,
    posted_at       timestamptz NOT NULL,
    pod_signed_at   timestamptz,
    run_date        date NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('posted', 'found posted'))
);
CREATE TABLE IF NOT EXISTS invoicing.invoice_lines (
    invoice_id   text NOT NULL,
    line_no      int NOT NULL,
    charge_code  text NOT NULL,
    quantity     numeric(12,3) NOT NULL,
    amount       numeric(12,2) NOT NULL,
    PRIMARY KEY (invoice_id, line_no)
);
"""

#: The day's drafts: invoice-ready shipments without an invoice, with their lines as arrays.
DRAFTS = """
    SELECT 'INV-' || r.shipment_id, r.shipment_id, r.customer_id, r.currency, sum(l.amount),
           %(as_of)s::timestamptz, (r.pod_signed_at AT TIME ZONE 'UTC')::date + c.payment_terms_days,
           count(*)::int, r.correlation_id,
           array_agg(l.charge_code ORDER BY l.charge_id), array_agg(l.quantity ORDER BY l.charge_id),
           array_agg(l.amount ORDER BY l.charge_id), r.pod_signed_at
    FROM reconciliation.invoice_readiness r
    JOIN canonical.customers c ON c.customer_id = r.customer_id
    JOIN rated_lines l ON l.shipment_id = r.shipment_id
    WHERE r.run_date = %(run_date)s AND r.ready
      AND NOT EXISTS (SELECT 1 FROM invoicing.invoices i WHERE i.shipment_id = r.shipment_id)
    GROUP BY r.shipment_id, r.customer_id, r.currency, r.pod_signed_at, c.payment_terms_days, r.correlation_id
    ORDER BY r.shipment_id
"""

POSTING_COLUMNS = (
    "invoice_id", "order_id", "customer_id", "currency", "total_amount", "issued_at", "due_date", "line_count",
    "correlation_id",
)
_POSTING_TYPES = ("text", "text", "text", "text", "numeric", "timestamptz", "date", "int", "text")
#: what the warehouse keeps of a posting (the ERP's columns, order_id as shipment_id)
RECORD_COLUMNS = (
    "invoice_id", "shipment_id", "customer_id", "currency", "total_amount", "issued_at", "due_date", "line_count",
    "correlation_id", "posted_at", "pod_signed_at", "outcome",
)
LINE_COLUMNS = ("invoice_id", "line_no", "charge_code", "quantity", "amount")
_LINE_TYPES = ("text", "int", "text", "numeric", "numeric")


def _unnest(columns: tuple[str, ...], types: tuple[str, ...]) -> str:
    """A SELECT over one array parameter per column (sent in binary: no per-value quoting)."""
    arrays = ", ".join(f"%({c})b::{t}[]" for c, t in zip(columns, types))
    return f"SELECT * FROM unnest({arrays}) AS v({', '.join(columns)})"


POST_INVOICES = (
    f"INSERT INTO invoice_postings ({', '.join(POSTING_COLUMNS)}) {_unnest(POSTING_COLUMNS, _POSTING_TYPES)} "
    "ON CONFLICT (invoice_id) DO NOTHING RETURNING invoice_id"
)
POST_LINES = (
    f"INSERT INTO invoice_posting_lines ({', '.join(LINE_COLUMNS)}) "
    f"SELECT * FROM ({_unnest(LINE_COLUMNS, _LINE_TYPES)}) l WHERE l.invoice_id = ANY(%(new)b::text[])"
)
READ_POSTINGS = (
    f"SELECT {', '.join(POSTING_COLUMNS)}, posted_at FROM invoice_postings WHERE invoice_id = ANY(%(ids)b::text[])"
)
READ_LINES = f"SELECT {', '.join(LINE_COLUMNS)} FROM invoice_posting_lines WHERE invoice_id = ANY(%(ids)b::text[])"
RECORD_INVOICES = (
    f"INSERT INTO invoicing.invoices ({', '.join(RECORD_COLUMNS)}, run_date) SELECT v.*, %(run_date)s::date FROM "
    f"({_unnest(RECORD_COLUMNS, (*_POSTING_TYPES, 'timestamptz', 'timestamptz', 'text'))}) v ON CONFLICT DO NOTHING"
)
RECORD_LINES = f"INSERT INTO invoicing.invoice_lines {_unnest(LINE_COLUMNS, _LINE_TYPES)} ON CONFLICT DO NOTHING"


@dataclass
class PostingResult:
    posted: int = 0  # new postings this run
    found_posted: int = 0  # already in the ERP (an earlier run crashed after posting)
    lines: int = 0
    amount: dict[str, Decimal] = field(default_factory=dict)  # newly posted, per currency

    def add(self, currency: str, amount: Decimal) -> None:
        self.amount[currency] = self.amount.get(currency, Decimal(0)) + amount


@dataclass(frozen=True)
class Draft:
    posting: tuple  # POSTING_COLUMNS
    lines: list[tuple]  # LINE_COLUMNS
    pod_signed_at: object


def drafts(cursor, params: dict) -> Iterator[list[Draft]]:
    """The day's drafts in batches (the cursor must see the `rated_lines` of this transaction)."""
    cursor.execute(DRAFTS, params)
    while rows := cursor.fetchmany(BATCH):
        batch = []
        for row in rows:
            invoice_id = row[0]
            lines = [(invoice_id, n, code, qty, amount) for n, (code, qty, amount) in enumerate(zip(*row[9:12]), 1)]
            batch.append(Draft(posting=tuple(row[:9]), lines=lines, pod_signed_at=row[12]))
        yield batch


def _arrays(rows: list[tuple], columns: tuple[str, ...]) -> dict[str, list]:
    return {column: [row[i] for row in rows] for i, column in enumerate(columns)}


def _execute(conn: sa.Connection, statement: str, params: dict):
    """Run on the driver connection; the statements' `%(name)b` send arrays in binary, because
    psycopg's text array format would quote every value in Python, the slowest part of a batch."""
    return conn.connection.driver_connection.cursor().execute(statement, params)


def post_batch(erp: sa.Engine, batch: list[Draft]) -> set[str]:
    """Post the batch in one ERP transaction; returns the invoice ids that were new."""
    with erp.begin() as conn:
        new = [row[0] for row in _execute(conn, POST_INVOICES, _arrays([d.posting for d in batch], POSTING_COLUMNS))]
        if new:
            lines = [line for d in batch for line in d.lines]
            _execute(conn, POST_LINES, {**_arrays(lines, LINE_COLUMNS), "new": new})
    return set(new)


def record_batch(erp: sa.Engine, warehouse: sa.Engine, batch: list[Draft], new: set[str], run_date) -> PostingResult:
    """Record in the warehouse what the ERP holds for the batch: its copy is the truth."""
    ids = [d.posting[0] for d in batch]
    pod = {d.posting[0]: d.pod_signed_at for d in batch}
    with erp.connect() as conn:
        postings = _execute(conn, READ_POSTINGS, {"ids": ids}).fetchall()
        lines = _execute(conn, READ_LINES, {"ids": ids}).fetchall()
        conn.rollback()
    records = [(*p, pod[p[0]], "posted" if p[0] in new else "found posted") for p in postings]
    with warehouse.begin() as conn:
        _execute(conn, RECORD_INVOICES, {**_arrays(records, RECORD_COLUMNS), "run_date": run_date})
        _execute(conn, RECORD_LINES, _arrays(lines, LINE_COLUMNS))
    result = PostingResult()
    for invoice_id, _, _, currency, total, _, _, line_count, *_ in postings:
        if invoice_id in new:
            result.posted += 1
            result.lines += line_count
            result.add(currency, total)
        else:
            result.found_posted += 1
    return result


def post_invoices(warehouse: sa.Engine, erp: sa.Engine, params: dict, progress) -> PostingResult:
    """Draft, post and record the day's invoices batch by batch; `progress(result)` after each batch."""
    total = PostingResult()
    with warehouse.begin() as conn:  # committed first: record_batch writes from other connections
        conn.exec_driver_sql(DDL)
    with warehouse.begin() as conn:
        driver = conn.connection.driver_connection
        prepare(driver.cursor(), params)
        with driver.cursor(name="invoice_drafts") as cursor:
            for batch in drafts(cursor, params):
                new = post_batch(erp, batch)
                done = record_batch(erp, warehouse, batch, new, params["run_date"])
                total.posted += done.posted
                total.found_posted += done.found_posted
                total.lines += done.lines
                for currency, amount in done.amount.items():
                    total.add(currency, amount)
                progress(total)
    return total
