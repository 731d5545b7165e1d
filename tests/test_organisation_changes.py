"""GET /api/v1/organisation/changes?date=: what takes effect or ceases on a day, planned or past,
per object and field; users' names follow the personal-data rule; only the caller's municipality."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.admin_world import FOUNDED, GAMMEL_AFDELING_ENDS, QUIET_DAY, next_month, seed

BASE = "/api/v1/organisation"


@pytest.fixture
def site(app):
    return seed(app)


@pytest.fixture
def admin(app, site):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {site.world.login('admin751')}"
    return client


def changes(client, day, **query) -> dict:
    r = client.get(f"{BASE}/changes", query_string={"date": day.isoformat(), **query})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def by_uuid(answer: dict) -> dict[str, dict]:
    return {item["uuid"]: item for item in answer["items"]}


def test_a_planned_rename_and_move_show_on_their_day_only(admin, site):
    unit, day = site.units["Ydelseskontor"], next_month()
    r = admin.patch(f"{BASE}/units/{unit}", json={"name": "Ydelser", "parent": site.units["Borgerservice"],
                                                  "valid_from": day.isoformat()})
    assert r.status_code == 200, r.get_json()
    found = by_uuid(changes(admin, day))[unit]
    assert found["kind"] == "unit" and found["change"] == "changed"
    assert found["summary"]["name"] == "Ydelser"
    assert found["fields"] == {
        "name": {"ended": ["Ydelseskontor"], "started": ["Ydelser"]},
        "parent": {"ended": [site.units["Testkommune"]], "started": [site.units["Borgerservice"]]},
    }
    assert unit not in by_uuid(changes(admin, day - timedelta(days=1)))
    assert unit not in by_uuid(changes(admin, day + timedelta(days=1)))


def test_units_created_and_ended_and_employments_starting(admin, site):
    created = by_uuid(changes(admin, FOUNDED))
    assert created[site.units["Borgerservice"]]["change"] == "created"
    [employment] = [i for i in created.values() if i["kind"] == "function"]
    assert employment["change"] == "created" and employment["summary"]["function_type"] == "arbejder_i"
    assert [u["name"] for u in employment["units"]] == ["Borgerservice"]
    assert [(u["user_key"], u["name"]) for u in employment["users"]] == [("anje", "Anne Jensen")]
    [user] = [i for i in created.values() if i["kind"] == "user"]
    assert user["summary"]["name"] == "Anne Jensen" and user["change"] == "created"
    ended = by_uuid(changes(admin, GAMMEL_AFDELING_ENDS))
    assert ended[site.units["Gammel afdeling"]]["change"] == "ended"
    assert ended[site.units["Gammel afdeling"]]["fields"]["name"] == {"ended": ["Gammel afdeling"], "started": []}


def test_a_back_dated_correction_shows_on_its_past_day(admin, site, today):
    """A fact registered after its day (a correction) is found too: not only planned changes."""
    day = today - timedelta(days=30)
    unit = site.units["Borgerservice"]
    r = admin.patch(f"{BASE}/units/{unit}", json={"name": "Borgerservice Aarhus", "valid_from": day.isoformat()})
    assert r.status_code == 200, r.get_json()
    assert by_uuid(changes(admin, day))[unit]["fields"]["name"] == {"ended": ["Borgerservice"],
                                                                    "started": ["Borgerservice Aarhus"]}


def test_only_the_callers_municipality_and_names_follow_the_personal_data_rule(app, site):
    world = site.world
    world.agreement("a1", "organisation", 751, roles=("read",))
    system = app.test_client()
    system.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.token('a1', 'organisation', 751)}"
    answer = changes(system, FOUNDED)
    kinds = {i["kind"] for i in answer["items"]}
    assert kinds == {"unit", "user", "function"}
    assert site.units["Hemmelig enhed"] not in by_uuid(answer)  # 101's unit, created the same day
    [user] = [i for i in answer["items"] if i["kind"] == "user"]
    assert user["summary"]["name"] is None and user["summary"]["omitted"] == ["name"]
    assert user["fields"]["name"] == {"ended": [], "started": [None], "omitted": True}
    [employment] = [i for i in answer["items"] if i["kind"] == "function"]
    assert employment["users"][0]["name"] is None
    # The admin of 101 sees 101's unit, not 751's.
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin101')}"
    found = by_uuid(changes(other, FOUNDED))
    assert site.units["Hemmelig enhed"] in found and site.units["Borgerservice"] not in found
    # An operator names the municipality; a municipality admin may not name another one.
    operator = app.test_client()
    operator.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('operator')}"
    assert site.units["Borgerservice"] in by_uuid(changes(operator, FOUNDED, municipality=751))
    r = other.get(f"{BASE}/changes", query_string={"date": FOUNDED.isoformat(), "municipality": 751})
    assert r.status_code == 403


def test_names_shown_to_an_admin_are_access_logged(app, admin, site):
    changes(admin, FOUNDED)
    r = admin.get("/api/v1/access-log", query_string={"limit": 500})
    assert r.status_code == 200, r.get_json()
    [entry] = [e for e in r.get_json()["items"] if e["operation"] == "organisation.changes"]
    assert entry["platform_user_id"] == site.world.ids["admin751"] and len(entry["persons"]) == 1


def test_limit_and_truncated_and_a_bad_date(admin, site):
    answer = changes(admin, FOUNDED, limit=2)
    assert len(answer["items"]) == 2 and answer["truncated"] is True
    assert changes(admin, FOUNDED)["truncated"] is False
    assert changes(admin, date.max)["items"] == []  # 9999-12-31: no next day, still an answer
    r = admin.get(f"{BASE}/changes", query_string={"date": "i morgen"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "date"
    assert admin.get(f"{BASE}/changes").status_code == 422
    # Nothing on a quiet day.
    assert changes(admin, QUIET_DAY)["items"] == []
