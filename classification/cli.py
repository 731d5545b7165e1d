"""`flask klassifikation ...`: KLE import from the command line.

    flask klassifikation import-kle FILE   import a file now, in this process (with a progress bar)
    flask klassifikation run-imports       run the queued KLE upload jobs once (classification/kle_jobs.py);
                                           the scheduler process does this by itself
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.db import get_db
from classification import kle_jobs
from classification.kle_import import import_edition
from classification.kle_parser import KleParseError, parse_kle

klassifikation_cli = AppGroup("klassifikation", help="Klassifikation and KLE.")


@klassifikation_cli.command("import-kle")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_kle_command(path: Path) -> None:
    """Import a KLE file (emneplan XML 2.0 or full variant, or the action facets), all or nothing.

    Importing the same file again changes nothing; a newer edition registers
    only the classes that changed.
    """
    try:
        edition = parse_kle(path)
    except KleParseError as exc:
        raise click.ClickException(f"{path}: nothing imported:\n{exc}") from None
    with get_db().transaction() as conn, click.progressbar(
            length=len(edition.classes), label=f"importing {path.name}", show_pos=True) as bar:
        def progress(done: int, _total: int) -> None:
            bar.update(done - bar.pos)

        result = import_edition(conn, edition, actor="flask klassifikation import-kle", progress=progress)
    counts = ", ".join(f"{n} {level}" for level, n in sorted(result.counts.items()))
    click.echo(f"{path.name}: {counts}; {result.created} created, {result.changed} changed, "
               f"{result.unchanged} unchanged; {result.retired} retired, {result.moved} moved")
    for warning in result.warnings:
        click.echo(f"warning: {warning}")


@klassifikation_cli.command("run-imports")
def run_imports_command() -> None:
    """Run the queued KLE imports (uploads through POST /kle-import-jobs) once, oldest first.

    A job whose runner died (no heartbeat for a minute) is run again from the start.
    """
    n = kle_jobs.run_due(get_db())
    click.echo(f"{n} KLE import job(s) run")
