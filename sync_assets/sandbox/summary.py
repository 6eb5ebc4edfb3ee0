"""What a build or a tick did, for the CLI, Dagster metadata and the manifest the tests compare with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class SandboxSummary:
    #: rows per table now, keyed "system.table"
    counts: dict[str, int]
    #: seconds the call took
    elapsed: float
    #: the simulated clock: every row's moment is at or before it (UTC)
    as_of: datetime
    #: the anomalies planted on purpose, by LANDSCAPE §5 exception type, as exception keys
    #: (a tick plants none: its lists are empty, and the build's stay the complete set)
    planted: dict[str, list[str]]
    #: EDI files written malformed on purpose (to be quarantined, never dropped)
    malformed_edi: list[str] = field(default_factory=list)
    #: rows this call inserted, updated or deleted, per table ("system.table")
    changes: dict[str, int] = field(default_factory=dict)
    #: EDI files this call wrote into the inbox
    edi_files: list[str] = field(default_factory=list)
