"""`flask authz ...`: operator tasks that must work without the API."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from marshmallow import ValidationError

from app.db import get_db
from authz import keys
from authz.registry import create_platform_user
from authz.schemas import PlatformUserSchema
from authz.tokens import lifetime

authz_cli = AppGroup("authz", help="Access control: platform users, signing keys.")


@authz_cli.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["platform_operator", "municipality_admin", "vendor_admin"]))
@click.option("--name", "display_name", required=True)
@click.option("--municipality", "municipality_code", type=int)
@click.option("--vendor", "vendor_id")
@click.password_option(help="At least 12 characters (prompted when not given).")
def create_user_command(username, role, display_name, municipality_code, vendor_id, password) -> None:
    """Create a platform user (the first operator is made this way)."""
    try:
        body = PlatformUserSchema().load({"username": username, "role": role, "display_name": display_name,
                                          "municipality_code": municipality_code, "vendor_id": vendor_id,
                                          "password": password})
    except ValidationError as exc:
        raise click.ClickException(f"invalid: {exc.messages}") from None
    with get_db().transaction() as conn:
        row = create_platform_user(conn, body)
    click.echo(f"created {row['role']} {row['username']} ({row['id']})")


@authz_cli.command("rotate-keys")
def rotate_keys_command() -> None:
    """Start signing tokens with a new key; the old key stays published until its tokens expire."""
    with current_app.test_request_context(), get_db().transaction() as conn:
        kid = keys.rotate(conn, lifetime())
    click.echo(f"signing with key {kid}")
