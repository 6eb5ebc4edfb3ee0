"""The Dagster instance Waybill's commands record their runs in (the same one `dagster dev` shows).

DAGSTER_HOME defaults to a project-local folder holding a copy of the checkout's `dagster.yaml`,
so runs started from the CLI appear in the UI, and nothing is written outside the project.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg

from resources.settings import waybill_home

#: The checked-in instance configuration (telemetry off, storage under DAGSTER_HOME).
INSTANCE_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def ensure_dagster_home() -> Path:
    """Set DAGSTER_HOME (unless the user did) to `.waybill/dagster` with the project's dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or waybill_home() / "dagster")
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != INSTANCE_YAML.read_bytes():
        shutil.copyfile(INSTANCE_YAML, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()
