"""`flask authz ...`: operator tasks that must work without the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from marshmallow import ValidationError

from app.db import get_db
from authz import access_log, keys
from authz.registry import create_platform_user
from authz.schemas import PlatformUserSchema
from authz.tokens import lifetime

authz_cli = AppGroup("authz", help="Access control: platform users, signing keys, the access log.")


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


def _known_head(value: str | None) -> tuple[int, bytes] | None:
    if value is None:
        return None
    row_id, _, digest = value.partition(":")
    try:
        return int(row_id), bytes.fromhex(digest)
    except ValueError:
        raise click.BadParameter("expected ID:HASH (the hash in hex), as printed by this command") from None


@authz_cli.command("verify-access-log")
@click.option("--expect", "expect", metavar="ID:HASH",
              help="A head printed earlier (kept outside the database): that row must still have that hash.")
def verify_access_log_command(expect) -> None:
    """Recompute the access log's hash chain; exit 1 and name the first bad row if it was tampered with."""
    known = _known_head(expect)
    with get_db().transaction() as conn:
        report = access_log.inspect_chain(conn, known)
    if not report.ok:
        where = f"first bad row: {report.first_bad_id}" if report.first_bad_id is not None else "no row to name"
        click.echo(f"access log TAMPERED: {where} ({report.reason}); {report.checked} row(s) read", err=True)
        raise SystemExit(1)
    head = f"head {report.head_id}:{report.head_hash.hex()}" if report.head_id is not None else "empty"
    click.echo(f"access log OK: {report.checked} row(s) verified; {head}")


@authz_cli.command("purge-access-log")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days (default: ACCESS_LOG_RETENTION_DAYS).")
def purge_access_log_command(days) -> None:
    """Remove access-log entries older than the retention period (the purge is recorded; the chain stays valid)."""
    days = days or current_app.config["ACCESS_LOG_RETENTION_DAYS"]
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with get_db().transaction() as conn:
        removed = access_log.purge(conn, cutoff)
    click.echo(f"removed {removed} access-log entr{'y' if removed == 1 else 'ies'} older than {days} days "
               f"(before {cutoff.isoformat(timespec='seconds')})")
