"""`flask distribution ...`: operate the change feed.

    flask distribution sequence      position the committed change events once, now
    flask distribution boundaries    write the events of validity boundaries passed (once, now)
    flask distribution scheduler     run the scheduler process (started by `make run`)
    flask scheduler run              the same, under the name operators look for
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.db import get_db
from distribution import feed
from distribution.boundaries import emit_boundaries
from distribution.scheduler import EVENT_RETENTION_DAYS, KLE_IMPORT_SECONDS, POLL_SECONDS, DistributionScheduler

distribution_cli = AppGroup("distribution", help="Distribution: the change feed.")
scheduler_cli = AppGroup("scheduler", help="The scheduler process (distribution jobs).")


@distribution_cli.command("sequence")
def sequence_command() -> None:
    """Give the committed change events their positions, in commit order."""
    with get_db().transaction() as conn:
        n = feed.sequence(conn)
    click.echo(f"{n} events positioned")


@distribution_cli.command("boundaries")
def boundaries_command() -> None:
    """Write change events for the future-dated changes that have taken effect since the last check."""
    with get_db().transaction() as conn:
        n = emit_boundaries(conn, now=datetime.now(UTC))
    click.echo(f"{n} validity-boundary events written")


@distribution_cli.command("scheduler")
@click.option("--retention-days", default=EVENT_RETENTION_DAYS, show_default=True, type=click.IntRange(1),
              help="Positioned change events older than this are deleted (daily).")
@click.option("--poll-seconds", default=POLL_SECONDS, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between sequencing and delivery runs without a NOTIFY.")
@click.option("--kle-import-seconds", default=KLE_IMPORT_SECONDS, show_default=True, type=click.FloatRange(0.1),
              help="Seconds between looks for queued KLE uploads without a NOTIFY.")
def scheduler_command(retention_days: int, poll_seconds: float, kle_import_seconds: float) -> None:
    """Run the scheduler: sequencing (woken by NOTIFY), push delivery, validity boundaries, cleanup, KLE uploads."""
    DistributionScheduler(get_db(), retention_days=retention_days, poll_seconds=poll_seconds,
                          kle_import_seconds=kle_import_seconds).run()


scheduler_cli.add_command(scheduler_command, name="run")
