"""The carrier EDI inbox: a folder X12 files are dropped into (WAYBILL_EDI_INBOX)."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from resources.settings import edi_inbox


class EdiInbox(dg.ConfigurableResource):
    path: str | None = Field(default=None, description="From WAYBILL_EDI_INBOX; unset = .waybill/edi/inbox.")

    def folder(self) -> Path:
        return Path(self.path).resolve() if self.path else edi_inbox()
