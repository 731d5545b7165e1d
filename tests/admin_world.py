"""Data and helpers for the admin web's tests (tests/test_admin_*.py).

`seed(app)` makes the standard access-control world (tests/world.py: an
operator, the admins of 751 and 101, vendor admins), seeds the national type
lists, and builds small organisations through the Organisation API as the
municipalities' admins, with dates relative to today so the tests hold on any
day:

    751  Testkommune (kommune), from 6 years ago
         ├─ Borgerservice (center), from 6 years ago, with one employee
         ├─ Ydelseskontor (kontor), from 6 years ago
         ├─ Gammel afdeling (afdeling), 6 years ago until 1 year ago
         └─ Ny afdeling (afdeling), from half a year ago
    101  Anden kommune (kommune) └─ Hemmelig enhed (afdeling)

`PAST` is a day on which Gammel afdeling existed and Ny afdeling did not.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from app.bitemporal.periods import copenhagen_today
from tests.world import PASSWORD, World, bearer, standard_world

TODAY = copenhagen_today()
SIX_YEARS_AGO = TODAY - timedelta(days=6 * 365)
PAST = TODAY - timedelta(days=3 * 365)
BASE = "/api/v1/organisation"


def next_month(day: date = TODAY) -> date:
    """The first day of the month after `day`."""
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
    root = _unit(client, token, "Testkommune", "KOM", "kommune", None, SIX_YEARS_AGO)
    out.units["Testkommune"] = root
    for name, key, unit_type, start, end in (
            ("Borgerservice", "BS", "center", SIX_YEARS_AGO, None),
            ("Ydelseskontor", "YK", "kontor", SIX_YEARS_AGO, None),
            ("Gammel afdeling", "GA", "afdeling", SIX_YEARS_AGO, TODAY - timedelta(days=365)),
            ("Ny afdeling", "NA", "afdeling", TODAY - timedelta(days=182), None)):
        out.units[name] = _unit(client, token, name, key, unit_type, root, start, end)
    employee = {"user_id": "anje", "person": {"name": "Anne Jensen"},
                "positions": [{"unit_uuid": out.units["Borgerservice"], "name": "Sagsbehandler",
                               "start": SIX_YEARS_AGO.isoformat()}],
                "valid_from": SIX_YEARS_AGO.isoformat()}
    r = client.put(f"{BASE}/sync/users/{uuid.uuid4()}", json=employee, headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    other = world.login("admin101")
    root101 = _unit(client, other, "Anden kommune", "KOM", "kommune", None, SIX_YEARS_AGO)
    out.units["Hemmelig enhed"] = _unit(client, other, "Hemmelig enhed", "HE", "afdeling", root101, SIX_YEARS_AGO)
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
