"""Carrier EDI intake: X12 214 status messages and 210 freight invoices read into typed messages.

Pure Python, with no database. The inbox asset calls `parse_file` for each file. It quarantines the
file with `MalformedEdi.reason` when the file cannot be read, and never drops it.
"""

from sync_assets.edi.messages import (
    ChargeLine,
    FreightInvoice,
    Message,
    StatusEvent,
    StatusMessage,
    UnsupportedSet,
    parse_file,
)
from sync_assets.edi.x12 import MalformedEdi

__all__ = [
    "ChargeLine",
    "FreightInvoice",
    "MalformedEdi",
    "Message",
    "StatusEvent",
    "StatusMessage",
    "UnsupportedSet",
    "parse_file",
]
