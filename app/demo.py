"""`flask demo load`: the demo data `make run` starts with (safe to repeat)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import get_db

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
def load_command() -> None:
    """Load (or refresh) the demo data: the municipality registry."""
    from organisation.municipalities import service as municipalities

    with get_db().transaction() as conn:
        result = municipalities.load(conn, municipalities.read_csv(municipalities.SEED_FILE))
    click.echo(f"municipalities: {result.inserted} inserted, {result.updated} updated, "
               f"{result.unchanged} unchanged")
