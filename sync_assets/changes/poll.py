"""One change-data poll of every source, each in its configured capture mode (what `waybill sync` runs)."""

from resources.capture.state import polling
from resources.settings import SOURCE_SYSTEMS
from resources.sources import SourceDatabase
from resources.warehouse import Warehouse
from sync_assets.changes.cursor_capture import poll_cursor
from sync_assets.changes.log_capture import PollResult, poll_log
from sync_assets.mappings import tables_of

#: changes per log poll: one warehouse transaction's worth (a few hundred MB of decoded text at most)
MAX_CHANGES = 200_000


def poll_source(warehouse: Warehouse, source: SourceDatabase, max_changes: int = MAX_CHANGES) -> PollResult:
    """One poll: at most `max_changes` changes from the slot (a cursor poll reads all it finds).
    A poll of the same source elsewhere (the sensor's run, a `waybill sync`) finishes first."""
    tables = list(tables_of(source.system))
    with polling(warehouse.engine(), source.system) as session:
        if source.capture_mode() == "log":
            return poll_log(warehouse, session, source, tables, max_changes)
        return poll_cursor(warehouse, session, source, tables)


def catch_up(warehouse: Warehouse, source: SourceDatabase, max_changes: int = MAX_CHANGES) -> PollResult:
    """Poll until the source has nothing older than the poll waiting: what the nightly run does
    first, so that a busy day (more than one poll's worth of changes) is reconciled whole."""
    result = poll_source(warehouse, source, max_changes)
    while not result.caught_up:
        result.add(poll_source(warehouse, source, max_changes))
    return result


def poll_all(warehouse: Warehouse, sources: dict[str, SourceDatabase]) -> list[PollResult]:
    return [poll_source(warehouse, sources[system]) for system in SOURCE_SYSTEMS]
