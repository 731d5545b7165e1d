"""`flask klassifikation seed`: load the national type lists (classification/seed_data.py).

A separate module that adds the command to the `klassifikation` group of
classification/cli.py, so the seed and the KLE import can change independently.
"""

from __future__ import annotations

import click

from app.db import get_db
from classification.cli import klassifikation_cli
from classification.seed import load_seed


@klassifikation_cli.command("seed")
def seed_command() -> None:
    """Create or update the national type lists (unit and function types, sensitivity levels, ...).

    Safe to repeat: loading the same seed again registers nothing.
    """
    with get_db().transaction() as conn:
        result = load_seed(conn, actor="flask klassifikation seed")
    click.echo(f"klassifikation seed: {result.created} created, {result.changed} changed, "
               f"{result.unchanged} unchanged")
