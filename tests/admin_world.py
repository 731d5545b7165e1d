"""Data and helpers for the admin web's tests (tests/test_admin_*.py).

`seed(app)` makes the standard access-control world (tests/world.py: an
operator, the admins of 751 and 101, vendor admins), seeds the national type
lists, and builds small organisations through the Organisation API as the
municipalities' admins.  Every seeded date is a fixed day in the past, so the
data is the same whenever it is seeded, also in a run that passes midnight;
a test that needs the service's "today" takes the `today` fixture (conftest):

    751  Testkommune (kommune), from FOUNDED
         ├─ Borgerservice (center), from FOUNDED, with one employee
         ├─ Ydelseskontor (kontor), from FOUNDED
         ├─ Gammel afdeling (afdeling), FOUNDED until GAMMEL_AFDELING_ENDS
         └─ Ny afdeling (afdeling), from NY_AFDELING_STARTS
    101  Anden kommune (kommune) └─ Hemmelig enhed (afdeling)

`PAST` is a day on which Gammel afdeling existed and Ny afdeling did not;
nothing happens on `QUIET_DAY`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date

from app.bitemporal.periods import copenhagen_today
from tests.world import PASSWORD, World, bearer, standard_world

FOUNDED = date(2020, 1, 1)
PAST = date(2023, 6, 1)
QUIET_DAY = date(2024, 3, 1)
GAMMEL_AFDELING_ENDS = date(2025, 7, 1)
NY_AFDELING_STARTS = date(2026, 6, 1)
BASE = "/api/v1/organisation"


def next_month(day: date | None = None) -> date:
    """The first day of the month after `day` (default: today in Copenhagen, as the service sees it)."""
    day = day or copenhagen_today()
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass
class AdminWorld:
    world: World
    units: dict[str, str] = field(default_factory=dict)  # name → uuid


def _unit(client, token: str, name: str, key: str, unit_type: str, parent: str | None, start: date,
          end: date | None = None) -> str:
    body = {"user_key": key, "name": name, "unit_type": unit_type, "parent": parent,
            "valid_from": start.isoformat(), "valid_to": end.isoformat() if end else None}
    r = client.post(f"{BASE}/units", json=body, headers=bearer(token))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["uuid"]


def seed(app) -> AdminWorld:
    world = standard_world(app)
    result = app.test_cli_runner().invoke(args=["klassifikation", "seed"])
    assert result.exit_code == 0, result.output
    out = AdminWorld(world)
    client, token = app.test_client(), world.login("admin751")
    root = _unit(client, token, "Testkommune", "KOM", "kommune", None, FOUNDED)
    out.units["Testkommune"] = root
    for name, key, unit_type, start, end in (
            ("Borgerservice", "BS", "center", FOUNDED, None),
            ("Ydelseskontor", "YK", "kontor", FOUNDED, None),
            ("Gammel afdeling", "GA", "afdeling", FOUNDED, GAMMEL_AFDELING_ENDS),
            ("Ny afdeling", "NA", "afdeling", NY_AFDELING_STARTS, None)):
        out.units[name] = _unit(client, token, name, key, unit_type, root, start, end)
    employee = {"user_id": "anje", "person": {"name": "Anne Jensen"},
                "positions": [{"unit_uuid": out.units["Borgerservice"], "name": "Sagsbehandler",
                               "start": FOUNDED.isoformat()}],
                "valid_from": FOUNDED.isoformat()}
    r = client.put(f"{BASE}/sync/users/{uuid.uuid4()}", json=employee, headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    other = world.login("admin101")
    root101 = _unit(client, other, "Anden kommune", "KOM", "kommune", None, FOUNDED)
    out.units["Hemmelig enhed"] = _unit(client, other, "Hemmelig enhed", "HE", "afdeling", root101, FOUNDED)
    return out


def csrf_token(html: str) -> str:
    """The hidden CSRF token of the first form in a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log in through the admin login form (a Flask test client keeps the session cookie)."""
    page = client.get("/admin/login")
    return client.post("/admin/login", data={"username": username, "password": password,
                                             "csrf_token": csrf_token(page.get_data(as_text=True))})
