"""One change-data poll of every source, each in its configured capture mode (what `waybill sync` runs)."""

from resources.settings import SOURCE_SYSTEMS
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes.cursor_capture import poll_cursor
from sync_assets.changes.log_capture import PollResult, poll_log
from sync_assets.mappings import tables_of


def poll_source(warehouse: Warehouse, source: SourceDatabase) -> PollResult:
    tables = list(tables_of(source.system))
    if source.capture_mode() == "log":
        return poll_log(warehouse, source, tables)
    return poll_cursor(warehouse, source, tables)


def poll_all(warehouse: Warehouse, sources: dict[str, SourceDatabase]) -> list[PollResult]:
    return [poll_source(warehouse, sources[system]) for system in SOURCE_SYSTEMS]
