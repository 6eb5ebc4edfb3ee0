"""ErpPosting: the one place Waybill writes into a source system (the ERP's inbound invoice tables)."""

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from resources.databases import engine_for, resolve_url


class ErpPosting(dg.ConfigurableResource):
    """A read-write connection to the ERP, used only to insert `invoice_postings` and their lines.

    Every other use of the ERP goes through the read-only SourceDatabase resource.
    """

    url: str | None = Field(default=None, description="From WAYBILL_ERP_URL; unset uses the embedded server.")

    def engine(self) -> sa.Engine:
        return engine_for("erp", resolve_url("erp", self.url))
