"""`flask organisation ...`: the Organisation commands (bulk load of the sync feed).

    flask organisation import-jsonl FILE --municipality 751 [--job NAME] [--batch 500]

loads a JSON-lines file of unit and user records (docs/organisation.md),
committing every batch; progress goes to stderr, one JSON line per
rejected record to stdout (so they can be fixed and sent again), and the
exit code is 1 when any record was rejected.  With `--job`, an interrupted
load run again with the same name and file goes on where it stopped.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.db import get_db
from organisation import bulk
from organisation.service import OrgError

organisation_cli = AppGroup("organisation", help="Organisation: units, users and the sync feed.")


@organisation_cli.command("import-jsonl")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--municipality", type=int, required=True, help="The municipality code, e.g. 751.")
@click.option("--job", help="A name for this load: run it again with the same name and file to resume.")
@click.option("--batch", type=click.IntRange(min=1), default=500, show_default=True,
              help="Steps per committed transaction.")
def import_jsonl_command(file, municipality: int, job: str | None, batch: int) -> None:
    """Load units and users from a JSON-lines FILE ('-' for stdin) into a municipality's organisation."""
    def progress(p: dict) -> None:
        total = p["total"] or 1
        click.echo(f"{p['done']}/{p['total']} steps ({100 * p['done'] // total}%): {p['accepted']} accepted, "
                   f"{p['unchanged']} unchanged, {p['rejected']} rejected; {p['rate']:.0f} steps/s", err=True)

    try:
        result = bulk.import_jsonl(get_db(), municipality, file, job=job, batch=batch, progress=progress,
                                   actor="flask organisation import-jsonl")
    except OrgError as exc:
        raise click.ClickException(exc.detail) from None
    for rejected in result["rejected"]:
        click.echo(json.dumps(rejected, ensure_ascii=False))
    resumed = f"; resumed after step {result['resumed_from']} of {result['total']}" if result["resumed_from"] else ""
    click.echo(f"{getattr(file, 'name', 'input')}: {result['accepted']} accepted, {result['unchanged']} unchanged, "
               f"{len(result['rejected'])} rejected{resumed}", err=True)
    if result["rejected"]:
        click.get_current_context().exit(1)
