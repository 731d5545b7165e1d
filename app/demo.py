"""`flask demo load`: the demo data `make run` starts with.

Safe to repeat: it only adds what is missing, so changes made since (through
the CLI or the API) survive the next `make run`; the exception is the national
classifications, which are brought back to classification/seed_data.py.  The
demo credentials are fixed and public (printed by `make run`): demo data is
for a laptop, never for production.

It also loads a synthetic organisation for Aarhus (organisation/synthetic.py:
invented units and people with fake CPR numbers, years of history, one
reorganisation two months ahead) through the sync feed's bulk import, under a
job name that carries its size and reference date: a load that was killed is
resumed by the next run (the same records, the same job), a finished one is
never loaded again, and a municipality that already has units of its own gets
none.  Its KLE tasks need KLE subjects: if the database has none, a small
synthetic KLE subject plan is imported first.  `--organisation-size` (or
STS_DEMO_ORGANISATION_SIZE) picks the size; `none` skips it.  Then a few
hundred synthetic citizens' cases, documents, grants and payments go into the
indexes (indexes/demo.py), once.
"""

from __future__ import annotations

import os
import re
import time
from datetime import date, timedelta

import click
from flask.cli import AppGroup
from psycopg.types.json import Jsonb

from app.bitemporal.periods import copenhagen_today
from app.db import get_db

demo_cli = AppGroup("demo", help="Demo data.")

DEMO_MUNICIPALITY = 751  # Aarhus
DEMO_VENDOR = "Demo Leverandør A/S"
DEMO_SYSTEM = {"name": "Demo Fagsystem", "client_id": "demo-fagsystem",
               "client_secret": "demo-secret-not-for-production"}
DEMO_SERVICES = ("registry", "organisation", "klassifikation", "sdi", "yi", "distribution", "adgangsstyring")
# name → (units, users, years of history, hovedgrupper of the synthetic KLE plan if the database has
# none).  "default" (what `make run` loads: ~12,000 functions) takes about 25 s on a 2-vCPU laptop,
# "large" (the size of bench/organisation.py: ~60,000 functions, ten years) about 4 minutes.
ORGANISATION_SIZES = {"none": None, "small": (20, 80, 3, 5), "default": (1000, 10000, 4, 25),
                      "large": (5000, 50000, 10, 25)}
ORGANISATION_SEED = 751
ORGANISATION_JOB = re.compile(r"^demo-organisation-(?P<size>[a-z]+)-(?P<day>\d{4}-\d{2}-\d{2})$")
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


def _organisation_job(conn, size: str) -> tuple[str | None, str]:
    """(job name to run, or None to skip; why).  An unfinished demo job is resumed with its own size
    and date, so that it reads the same records again."""
    jobs = conn.execute("SELECT name, finished_at FROM organisation_sync_job WHERE municipality_code = %(m)s "
                        "AND name LIKE 'demo-organisation-%%' ORDER BY started_at",
                        {"m": DEMO_MUNICIPALITY}).fetchall()
    done = [j["name"] for j in jobs if j["finished_at"] is not None]
    if done:
        return None, f"already loaded ({done[0]})"
    unfinished = [j["name"] for j in jobs if ORGANISATION_JOB.match(j["name"])]
    if unfinished:
        return unfinished[-1], "resuming the interrupted load of"
    if conn.execute("SELECT 1 FROM enhed WHERE municipality_code = %(m)s LIMIT 1",
                    {"m": DEMO_MUNICIPALITY}).fetchone() is not None:
        return None, f"municipality {DEMO_MUNICIPALITY} already has an organisation"
    if ORGANISATION_SIZES[size] is None:
        return None, "skipped (size none)"
    return f"demo-organisation-{size}-{copenhagen_today().isoformat()}", "loading"


def _load_organisation(size: str) -> str:
    """The synthetic organisation through organisation.bulk.import_jsonl, progress on stderr."""
    from organisation.bulk import import_jsonl
    from organisation.synthetic import ensure_kle_codes, generate, lines

    db = get_db()
    with db.transaction() as conn:
        job, why = _organisation_job(conn, size)
        if job is None:
            return f"organisation {DEMO_MUNICIPALITY}: {why}"
        m = ORGANISATION_JOB.match(job)
        units, users, years, hovedgrupper = ORGANISATION_SIZES[m["size"]]
        codes = ensure_kle_codes(conn, actor="flask demo load", hovedgrupper=hovedgrupper, grupper_per=3,
                                 emner_per=3)
    today = date.fromisoformat(m["day"])
    records = generate(ORGANISATION_SEED, units=units, users=users, years=years, today=today,
                       reorganisation_at=today + timedelta(days=61), kle_codes=codes,
                       municipality="Aarhus")
    click.echo(f"organisation {DEMO_MUNICIPALITY}: {why} a synthetic organisation ({units:,} units, "
               f"{users:,} users, {years} years of history; job {job})", err=True)
    began, shown = time.monotonic(), [0.0]

    def progress(p: dict) -> None:
        if time.monotonic() - shown[0] >= 3 or p["done"] == p["total"]:
            shown[0] = time.monotonic()
            click.echo(f"  {p['done']:,}/{p['total']:,} steps ({p['rate']:,.0f}/s, {p['rejected']} rejected)",
                       err=True)

    result = import_jsonl(db, DEMO_MUNICIPALITY, lines(records), job=job, progress=progress,
                          actor="flask demo load")
    for rejected in result["rejected"][:5]:
        click.echo(f"  rejected line {rejected['line']}: {rejected['errors']}", err=True)
    return (f"organisation {DEMO_MUNICIPALITY}: {units:,} units, {users:,} users loaded in "
            f"{time.monotonic() - began:.0f} s ({result['accepted']:,} accepted, {result['unchanged']:,} unchanged, "
            f"{len(result['rejected'])} rejected; resumed from step {result['resumed_from']:,})")


@demo_cli.command("load")
@click.option("--organisation-size", type=click.Choice(list(ORGANISATION_SIZES)),
              default=lambda: os.environ.get("STS_DEMO_ORGANISATION_SIZE", "default"), show_default="default",
              help="Size of the synthetic organisation of Aarhus (env STS_DEMO_ORGANISATION_SIZE): "
                   + ", ".join(f"{k} {v[0]:,} units / {v[1]:,} users" if v else k
                               for k, v in ORGANISATION_SIZES.items()) + ".")
def load_command(organisation_size: str) -> None:
    """Add the demo data that is missing: municipalities, a demo vendor, system, agreements and logins,
    a synthetic organisation for Aarhus; bring the national classifications (classification/seed_data.py)
    up to date."""
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
    click.echo(_load_organisation(organisation_size))
    click.echo(_load_indexes())


def _load_indexes() -> str:
    from indexes.demo import load_demo

    with get_db().transaction() as conn:
        system_id = conn.execute("SELECT id::text AS id FROM it_system WHERE client_id = %(c)s",
                                 {"c": DEMO_SYSTEM["client_id"]}).fetchone()["id"]
    return load_demo(get_db(), DEMO_MUNICIPALITY, system_id)
