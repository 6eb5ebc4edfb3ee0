"""The EDI inbox as landing assets: files, 214 status events and 210 invoice lines."""

import time

import dagster as dg

from resources.edi_inbox import EdiInbox
from resources.warehouse import Warehouse
from sync_assets.edi.intake import read_inbox
from sync_assets.landing import counts_metadata

EDI_TABLES = {
    "raw_edi_files": "Every X12 file read from the inbox, by SHA-256: processed or quarantined with its reason.",
    "raw_edi_status_events": "X12 214 status events (B10 shipment reference, AT7 status, UTC time when known).",
    "raw_edi_invoice_lines": "X12 210 freight invoice lines (B3 invoice, L1 charges, L3 total).",
}


@dg.multi_asset(
    name="edi_landing",
    specs=[
        dg.AssetSpec(
            key=name, group_name="edi_landing", kinds={"postgres"}, owners=["team:data-engineering"], description=text
        )
        for name, text in EDI_TABLES.items()
    ],
    description="Reads carrier X12 files from WAYBILL_EDI_INBOX, each exactly once; malformed files are quarantined.",
)
def edi_landing(context: dg.AssetExecutionContext, warehouse: Warehouse, edi_inbox: EdiInbox):
    inbox = edi_inbox.folder()
    started = time.perf_counter()
    result = read_inbox(warehouse.engine(), inbox)
    seconds = time.perf_counter() - started
    for name, reason in result.quarantined.items():
        context.log.warning(f"quarantined {name}: {reason}")
    context.log.info(
        f"{inbox}: {len(result.processed)} processed, {len(result.quarantined)} quarantined, "
        f"{len(result.already_seen)} seen before; {result.events} status events, {result.invoice_lines} invoice lines"
    )
    yield dg.MaterializeResult(
        asset_key="raw_edi_files",
        metadata={
            **counts_metadata(len(result.processed) + len(result.quarantined), 0, 0, None, seconds),
            "processed": dg.MetadataValue.int(len(result.processed)),
            "quarantined": dg.MetadataValue.int(len(result.quarantined)),
            "quarantine_reasons": dg.MetadataValue.json(result.quarantined),
            "already_seen": dg.MetadataValue.int(len(result.already_seen)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="raw_edi_status_events", metadata=counts_metadata(result.events, 0, 0, None, seconds)
    )
    yield dg.MaterializeResult(
        asset_key="raw_edi_invoice_lines", metadata=counts_metadata(result.invoice_lines, 0, 0, None, seconds)
    )
