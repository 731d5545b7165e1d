"""`flask demo load`: the demo data `make run` starts with.

Safe to repeat: it only adds what is missing, so changes made since (through
the CLI or the API) survive the next `make run`; the exception is the national
classifications, which are brought back to classification/seed_data.py.  The
demo credentials are fixed and public (printed by `make run`): demo data is
for a laptop, never for production.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from psycopg.types.json import Jsonb

from app.db import get_db

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_MUNICIPALITY = 751  # Aarhus
DEMO_VENDOR = "Demo Leverandør A/S"
DEMO_SYSTEM = {"name": "Demo Fagsystem", "client_id": "demo-fagsystem",
               "client_secret": "demo-secret-not-for-production"}
DEMO_SERVICES = ("registry", "organisation", "klassifikation", "sdi", "yi", "distribution", "adgangsstyring")
DEMO_USERS = (
    {"username": "operator", "password": "demo-operator-password", "role": "platform_operator",
     "display_name": "Demo driftsoperatør"},
    {"username": "admin.aarhus", "password": "demo-aarhus-password", "role": "municipality_admin",
     "display_name": "Demo kommuneadministrator (Aarhus)", "municipality_code": DEMO_MUNICIPALITY},
    {"username": "vendor.demo", "password": "demo-vendor-password", "role": "vendor_admin",
     "display_name": "Demo leverandøradministrator"},
)


def credentials_text() -> str:
    lines = [f"  System token:  client_id={DEMO_SYSTEM['client_id']} client_secret={DEMO_SYSTEM['client_secret']}",
             f"                 municipality=55133018 (Aarhus), audience one of: {', '.join(DEMO_SERVICES)}"]
    lines += [f"  Login:         {u['username']} / {u['password']}  ({u['role']})" for u in DEMO_USERS]
    return "\n".join(lines)


def _load_access(conn) -> int:
    from authz import hashing

    added = 0
    vendor = conn.execute("INSERT INTO vendor (name) VALUES (%(n)s) ON CONFLICT (name) DO NOTHING RETURNING id",
                          {"n": DEMO_VENDOR}).fetchone()
    added += vendor is not None
    vendor_id = conn.execute("SELECT id FROM vendor WHERE name = %(n)s", {"n": DEMO_VENDOR}).fetchone()["id"]
    system = conn.execute(
        "INSERT INTO it_system (vendor_id, name, client_id, secret_hash) VALUES (%(v)s, %(n)s, %(c)s, %(h)s) "
        "ON CONFLICT (client_id) DO NOTHING RETURNING id",
        {"v": vendor_id, "n": DEMO_SYSTEM["name"], "c": DEMO_SYSTEM["client_id"],
         "h": hashing.hash_secret(DEMO_SYSTEM["client_secret"])}).fetchone()
    added += system is not None
    system_id = conn.execute("SELECT id FROM it_system WHERE client_id = %(c)s",
                             {"c": DEMO_SYSTEM["client_id"]}).fetchone()["id"]
    for service in DEMO_SERVICES:
        # Only where the system never had an agreement: a terminated one stays terminated.
        row = conn.execute(
            "INSERT INTO agreement (system_id, service, municipality_code, roles, constraints, state) "
            "SELECT %(s)s, %(svc)s, %(m)s, '{read,edit}', %(c)s, 'approved' WHERE NOT EXISTS ("
            "SELECT 1 FROM agreement WHERE system_id = %(s)s AND service = %(svc)s AND municipality_code = %(m)s) "
            "RETURNING id",
            {"s": system_id, "svc": service, "m": DEMO_MUNICIPALITY,
             "c": Jsonb({"see_cpr": True, "see_name": True})}).fetchone()
        if row:
            conn.execute("INSERT INTO agreement_event (agreement_id, state, actor_kind, note) "
                         "VALUES (%(a)s, 'approved', 'operator_cli', 'demo data')", {"a": row["id"]})
            added += 1
    for user in DEMO_USERS:
        row = conn.execute(
            "INSERT INTO platform_user (username, display_name, password_hash, role, municipality_code, vendor_id) "
            "VALUES (%(u)s, %(d)s, %(h)s, %(r)s, %(m)s, %(v)s) ON CONFLICT (username) DO NOTHING RETURNING id",
            {"u": user["username"], "d": user["display_name"], "h": hashing.hash_secret(user["password"]),
             "r": user["role"], "m": user.get("municipality_code"),
             "v": vendor_id if user["role"] == "vendor_admin" else None}).fetchone()
        added += row is not None
    return added


@demo_cli.command("load")
def load_command() -> None:
    """Add the demo data that is missing: municipalities, a demo vendor, system, agreements and logins;
    bring the national classifications (classification/seed_data.py) up to date."""
    from classification.seed import load_seed
    from organisation.municipalities import service as municipalities

    with get_db().transaction() as conn:
        result = municipalities.load(conn, municipalities.read_csv(municipalities.SEED_FILE), only_missing=True)
        access = _load_access(conn)
        seeded = load_seed(conn, actor="flask demo load")
    click.echo(f"municipalities: {result.inserted} inserted, {result.updated} updated, "
               f"{result.unchanged} unchanged; access-control demo objects added: {access}")
    click.echo(f"klassifikation seed: {seeded.created} created, {seeded.changed} changed, "
               f"{seeded.unchanged} unchanged")
