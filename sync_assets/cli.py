"""`waybill`: the command line for data engineers, the Makefile and other tools (LANDSCAPE §6).

Every command reads its settings from the environment (WAYBILL_*_URL, WAYBILL_EDI_INBOX,
WAYBILL_REPORTS_DIR; unset URLs use the embedded PostgreSQL) and prints what it did. Errors a
person can fix are one line on stderr and exit status 2; a failed run exits 1.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import click

from resources import embedded
from resources.databases import embedded_data_dir, engine_for, resolve_url
from resources.settings import (
    DATABASE_ROLES,
    SOURCE_SYSTEMS,
    WaybillError,
    edi_inbox,
    mask_url,
    reports_dir,
    waybill_home,
)


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"waybill: error: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Turns WaybillError anywhere below into one line on stderr instead of a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except WaybillError as exc:
            _fail(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Waybill keeps ERP, WMS, fleet and billing in sync and reconciles them into invoices."""


def check_connections(roles=DATABASE_ROLES) -> dict[str, str]:
    """Connect to every role once, so a bad URL fails before any work starts; returns masked URLs."""
    return {role: mask_url(engine_for(role, resolve_url(role)).url.render_as_string()) for role in roles}


# --- the embedded server ---------------------------------------------------------------------


@main.group()
def db() -> None:
    """The embedded PostgreSQL server (used for every role whose URL is not set)."""


@db.command("start")
def db_start() -> None:
    """Start the embedded server (or reuse the running one) and create Waybill's databases."""
    for role, url in check_connections().items():
        click.echo(f"{role:<10} {url}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded server cleanly."""
    stopped = embedded.stop(waybill_home() / "pg")
    click.echo("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")


@db.command("status")
def db_status() -> None:
    """Say whether the embedded server runs, and where each role connects."""
    running = embedded.is_running(waybill_home() / "pg")
    click.echo(f"embedded PostgreSQL in {embedded_data_dir()}: {'running' if running else 'stopped'}")


# --- the sandbox landscape -------------------------------------------------------------------


@main.group()
def sandbox() -> None:
    """The simulated landscape (LANDSCAPE §1-4) for demos, tests and benchmarks."""


def _source_engines() -> dict:
    return {system: engine_for(system, resolve_url(system)) for system in SOURCE_SYSTEMS}


def _write_manifest(summary) -> None:
    path = waybill_home() / "sandbox" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(summary), indent=2, default=str, sort_keys=True))
    click.echo(f"manifest of planted anomalies: {path}")


def _print_summary(summary) -> None:
    for table, rows in sorted(summary.counts.items()):
        click.echo(f"  {table:<32} {rows:>12,}")
    planted = ", ".join(f"{kind} {len(keys)}" for kind, keys in sorted(summary.planted.items()))
    click.echo(f"planted anomalies: {planted}")
    click.echo(f"simulated clock: {summary.as_of:%Y-%m-%d %H:%M:%S} UTC; took {summary.elapsed:.1f}s")


@sandbox.command("up")
@click.option("--seed", default=42, show_default=True, help="Same seed, same data.")
@click.option("--orders", default=5000, show_default=True, help="Sales orders to simulate.")
@click.option("--days", default=30, show_default=True, help="Days of activity, ending at --end.")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last simulated day (UTC).")
def sandbox_up(seed: int, orders: int, days: int, end) -> None:
    """Create the four source databases' tables and fill them with seeded activity and flaws."""
    from sync_assets import sandbox as sim

    engines = _source_engines()
    for system, engine in engines.items():
        click.echo(f"{system:<8} {mask_url(engine.url.render_as_string())}")
    summary = sim.build(
        engines,
        seed=seed,
        orders=orders,
        days=days,
        end=end.date() if end else sim.DEFAULT_END,
        edi_inbox=edi_inbox(),
        progress=click.echo,
    )
    _print_summary(summary)
    _write_manifest(summary)
    _drop_capture_slots(engines)


def _drop_capture_slots(engines: dict) -> None:
    """A rebuilt landscape is a new world: Waybill's slots would replay the whole rebuild, so drop
    them; the next `waybill sync` creates fresh ones and compares every table once by snapshot."""
    import sqlalchemy as sa

    for system, engine in engines.items():
        with engine.connect() as conn:
            dropped = conn.execute(
                sa.text(
                    "SELECT slot_name, pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                    "WHERE database = current_database() AND slot_name LIKE 'waybill\\_%'"
                )
            ).scalars().all()
            conn.commit()
        for slot in dropped:
            click.echo(f"dropped replication slot {slot}: the next sync starts from a fresh snapshot")


@sandbox.command("tick")
def sandbox_tick() -> None:
    """Apply one more slice of live activity (orders, progress, events, charges, corrections)."""
    from sync_assets import sandbox as sim

    summary = sim.tick(_source_engines(), edi_inbox=edi_inbox(), progress=click.echo)
    for table, rows in sorted(summary.changes.items()):
        click.echo(f"  {table:<32} {rows:>10,} rows written")
    click.echo(f"simulated clock: {summary.as_of:%Y-%m-%d %H:%M:%S} UTC; took {summary.elapsed:.1f}s "
               "(a tick plants no anomalies: the build's manifest stays the complete list)")


# --- runs ------------------------------------------------------------------------------------


def run_job(name: str, *, tags: dict | None = None, partition_key: str | None = None, config: dict | None = None):
    """Run a job of the code location in this process, recorded in the Dagster instance; print
    results and return the execution result."""
    from sync_assets.definitions import defs
    from sync_assets.instance import instance

    job = defs.resolve_job_def(name)
    # The job's own config (change_capture's and the nightly's landing refresh modes; a
    # partitioned job keeps it per partition), the caller's ops config, and a console log at
    # INFO: the per-step DEBUG events belong in the UI, not on a terminal.
    if partition_key and job.partitioned_config:
        own = job.partitioned_config.get_run_config_for_partition_key(partition_key)
    else:
        own = job.run_config or {}
    run_config = {
        **own,
        "ops": {**own.get("ops", {}), **(config or {}).get("ops", {})},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    result = job.execute_in_process(run_config=run_config, instance=instance(), raise_on_error=False, tags=tags,
                                    partition_key=partition_key)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        meta = {k: v.value for k, v in materialization.metadata.items()}
        rows = meta.get("dagster/row_count")  # a change poll does not count its table
        click.echo(
            f"  {materialization.asset_key.to_user_string():<28} rows {'-' if rows is None else f'{rows:,}':>10}"
            f"  +{meta.get('inserted', 0)} ~{meta.get('updated', 0)} -{meta.get('deleted', 0)}"
            f"  {meta.get('duration_s', 0):.2f}s"
        )
    for evaluation in result.get_asset_check_evaluations():
        status = "passed" if evaluation.passed else "FAILED"
        click.echo(f"  check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} {status}")
        if not evaluation.passed:
            offending = evaluation.metadata.get("offending_ids")
            detail = evaluation.description or (offending.value if offending else "")
            click.echo(f"      {detail}")
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            cause = error.cause or error
            click.echo(f"  step {event.step_key} failed: {cause.message.strip().splitlines()[0]}", err=True)
    click.echo(f"run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
    return result


@main.command("master-data")
def master_data() -> None:
    """Snapshot master data from every source into landing and canonical tables (job master_data_sync)."""
    check_connections()
    if not run_job("master_data_sync").success:
        sys.exit(1)


@main.command()
def sync() -> None:
    """One change-data poll of every source into landing (job change_capture, what the sensor starts)."""
    check_connections()
    if not run_job("change_capture").success:
        sys.exit(1)


@main.command()
@click.option("--date", "day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="The UTC day to reconcile.")
def nightly(day) -> None:
    """Reconcile one UTC day end to end, as of the next midnight UTC (job nightly_reconciliation):
    batch refresh and change catch-up, quality checks, reconciliation, invoice posting, reports.

    Writes $WAYBILL_REPORTS_DIR/<day>/reconciliation_exceptions.csv and report.html, also when the
    run fails (the report then says why); exits 1 when the run fails.
    """
    from sync_assets.nightly import failure_reasons
    from sync_assets.partitions import NIGHTLY_JOB, NIGHTLY_PARTITIONS

    key = day.date().isoformat()
    if not NIGHTLY_PARTITIONS.has_partition_key(key):
        _fail(f"--date {key}: outside the nightly partitions ({NIGHTLY_PARTITIONS.start:%Y-%m-%d} to a year from today)")
    check_connections()
    click.echo(f"nightly reconciliation for {key} (as of {day.date() + timedelta(days=1)} 00:00 UTC):")
    result = run_job(NIGHTLY_JOB, partition_key=key)
    if not result.success:
        reasons = failure_reasons(e for e in result.all_events if e.is_step_failure)
        click.echo("\nthe run failed; writing the finance report with the reasons (job finance_report_job):")
        run_job("finance_report_job", partition_key=key, config={"ops": {"finance_report": {"config": {
            "failed_run_id": result.run_id, "failure_reasons": reasons}}}})
    directory = reports_dir() / key
    click.echo(f"finance report: {directory / 'report.html'}\nexceptions:     {directory / 'reconciliation_exceptions.csv'}")
    if not result.success:
        sys.exit(1)


@main.group()
def deadletter() -> None:
    """Records that failed mapping, kept with payload, reason and source position."""


def _open_dead_letters(include_resolved: bool = False) -> list:
    import sqlalchemy as sa

    from resources.dead_letters import DEAD_LETTER_DDL

    with engine_for("warehouse", resolve_url("warehouse")).begin() as conn:
        conn.exec_driver_sql(DEAD_LETTER_DDL)
        return conn.execute(
            sa.text(
                "SELECT id, source_table, source_pk, reason, capture_position, first_seen_at, resolved_at, resolution "
                "FROM ops.dead_letters WHERE :all OR resolved_at IS NULL ORDER BY id"
            ),
            {"all": include_resolved},
        ).all()


@deadletter.command("list")
@click.option("--all", "include_resolved", is_flag=True,
              help="Include resolved dead letters, with how: mapped, source row deleted, or fails for another reason.")
def deadletter_list(include_resolved: bool) -> None:
    """List dead letters (open ones unless --all)."""
    rows = _open_dead_letters(include_resolved)
    for row in rows:
        state = f"{row.resolution or 'resolved'} {row.resolved_at:%Y-%m-%d %H:%M}" if row.resolved_at else "open"
        click.echo(
            f"{row.id:>6}  {row.source_table:<26} {row.source_pk:<24} {state:<42} {row.reason}"
            f"  (position {row.capture_position or '-'}, first seen {row.first_seen_at:%Y-%m-%d %H:%M} UTC)"
        )
    click.echo(f"{len(rows)} dead letter(s)")


@deadletter.command("replay")
def deadletter_replay() -> None:
    """Map every open dead letter again (after fixing its cause): re-runs the change_capture job.

    A dead letter whose row now maps is marked resolved; one that still fails stays open with its
    reason (a new one, if the row now fails for another reason); one whose row the source has
    deleted since is resolved as such. Every per-shipment table recomputes every shipment in this
    run, so a row that maps only now reaches canonical.
    """
    from resources.dead_letters import MAPPED, SOURCE_ROW_DELETED
    from sync_assets.shipments.scope import recompute_everything

    before = {row.id for row in _open_dead_letters()}
    check_connections()
    if before:
        with engine_for("warehouse", resolve_url("warehouse")).begin() as conn:
            recompute_everything(conn.connection.driver_connection.cursor())
    ok = run_job("change_capture").success
    outcomes = Counter(row.resolution if row.resolved_at else None for row in _open_dead_letters(True) if row.id in before)
    click.echo(f"replayed {len(before)} dead letter(s): {outcomes[MAPPED]} now map, {outcomes[SOURCE_ROW_DELETED]} "
               f"deleted at the source, {len(before) - outcomes[MAPPED] - outcomes[SOURCE_ROW_DELETED]} still fail")
    if not ok:
        sys.exit(1)


@main.command()
@click.option("--port", default=3000, show_default=True)
def dev(port: int) -> None:
    """Start the Dagster UI (dagster dev) on 127.0.0.1 with this project's instance and code location."""
    import os
    import shutil

    from sync_assets.instance import ensure_dagster_home

    check_connections()  # starts the embedded server and proves every URL before the UI comes up
    home = ensure_dagster_home()
    click.echo(f"DAGSTER_HOME={home}\nDagster UI: http://127.0.0.1:{port}")
    dagster = shutil.which("dagster") or _fail("the dagster command is not installed in this environment")
    workspace = str(Path(__file__).resolve().parent.parent / "workspace.yaml")
    os.execv(dagster, [dagster, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", str(port)])


def _reset_warehouse() -> None:
    """The demo builds a new sandbox world; what the warehouse holds is about the old one."""
    with engine_for("warehouse", resolve_url("warehouse")).begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS landing, canonical, ops, reconciliation, invoicing CASCADE")
    click.echo("warehouse reset for the new sandbox world (schemas landing, canonical, ops, reconciliation, invoicing)")


@main.command()
@click.option("--orders", default=5000, show_default=True)
@click.option("--seed", default=42, show_default=True)
@click.pass_context
def demo(ctx, orders: int, seed: int) -> None:
    """Reset the warehouse, build the sandbox, sync master data, capture changes, reconcile the
    sandbox's last day into invoices and a finance report, and say what to open next (what `make
    demo` runs)."""
    from sync_assets import sandbox as sim
    from sync_assets.partitions import NIGHTLY_JOB

    check_connections()
    _reset_warehouse()
    ctx.invoke(sandbox_up, seed=seed, orders=orders, days=30, end=None)
    click.echo("\nmaster-data sync (job master_data_sync):")
    ok = run_job("master_data_sync").success
    click.echo("\nchange capture into landing and the canonical model (job change_capture):")
    ok = run_job("change_capture").success and ok
    day = (sim.DEFAULT_END).isoformat()
    click.echo(f"\nnightly reconciliation of the sandbox's last day, {day} (job nightly_reconciliation):")
    ok = run_job(NIGHTLY_JOB, partition_key=day).success and ok
    click.echo(
        f"\nFinance report: {reports_dir() / day / 'report.html'}\n"
        f"Exceptions CSV: {reports_dir() / day / 'reconciliation_exceptions.csv'}\n"
        "\nNext:\n"
        "  make dev                 # the Dagster UI on http://127.0.0.1:3000 (asset graph, checks, runs)\n"
        "  .venv/bin/waybill sandbox tick   # more live activity\n"
        "  .venv/bin/waybill db stop        # stop the embedded PostgreSQL"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
