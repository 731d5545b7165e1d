"""`flask municipalities ...`: maintain the registry until the API has write endpoints."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from marshmallow import ValidationError

from app.db import get_db
from organisation.municipalities import service
from organisation.municipalities.schemas import MunicipalitySchema

municipalities_cli = AppGroup("municipalities", help="The municipality registry.")


@municipalities_cli.command("load")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=service.SEED_FILE, show_default=True, help="CSV: code,cvr,name,region,citizens")
def load_command(path: Path) -> None:
    """Create or update municipalities from a CSV file (all rows or none)."""
    try:
        records = service.read_csv(path)
    except service.InvalidRecords as exc:
        raise click.ClickException(f"{path}: nothing loaded: {exc}") from None
    with get_db().transaction() as conn:
        result = service.load(conn, records)
    click.echo(f"municipalities: {result.inserted} inserted, {result.updated} updated, "
               f"{result.unchanged} unchanged")


@municipalities_cli.command("set")
@click.argument("code", type=int)
@click.option("--cvr")
@click.option("--name")
@click.option("--region")
@click.option("--citizens", type=int)
def set_command(code: int, **changes) -> None:
    """Create or update one municipality; a new one needs every field."""
    with get_db().transaction() as conn:
        current = service.get(conn, code) or {}
        record = {"code": code, **{k: current.get(k) for k in ("cvr", "name", "region", "citizens")}}
        record.update({k: v for k, v in changes.items() if v is not None})
        try:
            record = MunicipalitySchema().load(record)
        except ValidationError as exc:
            raise click.ClickException(f"invalid: {exc.messages}") from None
        click.echo(f"{code}: {service.upsert(conn, record)}")
