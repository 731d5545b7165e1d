"""`flask demo load`: the demo data `make run` starts with.

Safe to repeat: it only adds what is missing, so changes made since (through
the CLI or the API) survive the next `make run`.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.db import get_db

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
def load_command() -> None:
    """Add the demo data that is missing: the municipality registry."""
    from organisation.municipalities import service as municipalities

    with get_db().transaction() as conn:
        result = municipalities.load(conn, municipalities.read_csv(municipalities.SEED_FILE), only_missing=True)
    click.echo(f"municipalities: {result.inserted} inserted, {result.updated} updated, "
               f"{result.unchanged} unchanged")
