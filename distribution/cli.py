"""`flask distribution sequence`: position the committed change events (the pull routes do it too;
the scheduler of a later step will run it continuously)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import get_db
from distribution import feed

distribution_cli = AppGroup("distribution", help="Distribution: the change feed.")


@distribution_cli.command("sequence")
def sequence_command() -> None:
    """Give the committed change events their positions, in commit order."""
    with get_db().transaction() as conn:
        n = feed.sequence(conn)
    click.echo(f"{n} events positioned")
