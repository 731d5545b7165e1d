"""Writing classes through the API: create, import, update by period, If-Match,
passivate, delete (410), cycles and overlaps refused, ownership."""

import threading
import uuid

import pytest

from classification.model import KLE_EMNEPLAN
from tests.world import bearer

BASE = "/api/v1/klassifikation"


@pytest.fixture
def operator(app, world):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('operator')}"
    return client


def create(client, code, title, parent=None, **extra):
    r = client.post(f"{BASE}/facets/{KLE_EMNEPLAN}/classes",
                    json={"user_key": code, "title": title, "parent": parent, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["uuid"]


def test_create_update_by_period_and_read_back(operator):
    top = create(operator, "99", "Syntetisk top", valid_from="2026-01-01")
    child = create(operator, "99.01", "Syntetisk barn", parent=top, valid_from="2026-01-01")
    etag = operator.get(f"{BASE}/classes/{child}").headers["ETag"]
    r = operator.patch(f"{BASE}/classes/{child}", headers={"If-Match": etag}, json={"changes": [
        {"field": "title", "value": "Nyt navn", "valid_from": "2026-06-01", "valid_to": "2026-07-01"}]})
    assert r.status_code == 200 and r.get_json()["changed"] is True
    assert operator.get(f"{BASE}/classes/{child}?valid_at=2026-06-15").get_json()["title"] == "Nyt navn"
    assert operator.get(f"{BASE}/classes/{child}?valid_at=2026-07-01").get_json()["title"] == "Syntetisk barn"
    # The same change again is a no-op.
    again = operator.patch(f"{BASE}/classes/{child}", json={"changes": [
        {"field": "title", "value": "Nyt navn", "valid_from": "2026-06-01", "valid_to": "2026-07-01"}]})
    assert again.get_json()["changed"] is False
    # The stale ETag is refused and nothing is written.
    stale = operator.patch(f"{BASE}/classes/{child}", headers={"If-Match": etag},
                           json={"changes": [{"field": "title", "value": "Tabt"}]})
    assert stale.status_code == 412 and stale.get_json()["code"] == "precondition_failed"
    assert operator.get(f"{BASE}/classes/{child}?valid_at=2026-12-01").get_json()["title"] == "Syntetisk barn"


def test_parent_cycle_and_overlapping_periods_are_refused(operator):
    a = create(operator, "98", "A")
    b = create(operator, "98.01", "B", parent=a)
    r = operator.patch(f"{BASE}/classes/{a}", json={"changes": [{"field": "parent", "value": b}]})
    assert r.status_code == 422 and r.get_json()["code"] == "parent_cycle"
    r = operator.patch(f"{BASE}/classes/{a}", json={"changes": [
        {"field": "title", "value": "x", "valid_from": "2026-01-01", "valid_to": "2026-03-01"},
        {"field": "title", "value": "y", "valid_from": "2026-02-01"}]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "title"
    r = operator.post(f"{BASE}/facets/{KLE_EMNEPLAN}/classes",
                      json={"user_key": "97", "title": "C", "valid_from": "2026-02-01", "valid_to": "2026-01-01"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "valid_to"


@pytest.mark.parametrize("field, value, rule", [
    ("parent", {"not": "a uuid"}, "Not a valid UUID."),
    ("parent", "98.01", "Not a valid UUID."),
    ("title", "", "Length must be between 1 and 500."),
    ("title", ["a list"], "Not a valid string."),
    ("user_key", "27 35", "Letters, digits"),
    ("published", "Maaske", "Must be one of"),
    ("level", 3, "Not a valid string."),
])
def test_an_update_refuses_a_value_a_create_would_refuse(operator, field, value, rule):
    a = create(operator, "96", "A")
    r = operator.patch(f"{BASE}/classes/{a}", json={"changes": [{"field": field, "value": value}]})
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    [error] = r.get_json()["errors"]
    assert error["field"] == "changes.0.value" and error["detail"].startswith(rule)
    assert operator.get(f"{BASE}/classes/{a}").get_json()["registration_no"] == 1


def test_import_is_idempotent_delete_is_gone(operator):
    class_id = str(uuid.uuid4())
    body = {"user_key": "96", "title": "Importeret", "facet": KLE_EMNEPLAN}
    assert operator.put(f"{BASE}/classes/{class_id}", json=body).get_json()["changed"] is True
    assert operator.put(f"{BASE}/classes/{class_id}", json=body).get_json()["changed"] is False
    assert operator.post(f"{BASE}/classes/{class_id}/passivate").get_json()["lifecycle"] == "Passiveret"
    assert operator.delete(f"{BASE}/classes/{class_id}").get_json()["lifecycle"] == "Slettet"
    r = operator.get(f"{BASE}/classes/{class_id}")
    assert r.status_code == 410 and r.get_json()["code"] == "gone"
    assert operator.delete(f"{BASE}/classes/{class_id}").status_code == 409
    history = operator.get(f"{BASE}/classes/{class_id}/registrations").get_json()
    assert [h["lifecycle"] for h in history] == ["Importeret", "Passiveret", "Slettet"]


def test_two_concurrent_updates_one_wins_the_other_gets_412(app, operator, world):
    class_id = create(operator, "95", "Start")
    etag = operator.get(f"{BASE}/classes/{class_id}").headers["ETag"]
    token = world.login("operator")
    barrier, answers = threading.Barrier(2), {}

    def write(title):
        client = app.test_client()
        barrier.wait()
        answers[title] = client.patch(f"{BASE}/classes/{class_id}", headers={"If-Match": etag, **bearer(token)},
                                      json={"changes": [{"field": "title", "value": title}]}).status_code

    threads = [threading.Thread(target=write, args=(t,)) for t in ("Først", "Sidst")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers.values()) == [200, 412]
    winner = next(t for t, status in answers.items() if status == 200)
    assert operator.get(f"{BASE}/classes/{class_id}").get_json()["title"] == winner
    assert len(operator.get(f"{BASE}/classes/{class_id}/registrations").get_json()) == 2


def test_national_classes_are_for_operators_local_ones_for_their_municipality(app, world):
    world.agreement("a1", "klassifikation", 751, roles=("read", "edit"))
    system = app.test_client()
    system.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.token('a1', 'klassifikation', 751)}"
    local = create(system, "L1", "Lokal klasse i Aarhus")
    other = app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin101')}"
    assert other.patch(f"{BASE}/classes/{local}", json={"changes": []}).status_code == 404
    operator = app.test_client()
    operator.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('operator')}"
    national = create(operator, "94", "National")
    assert system.patch(f"{BASE}/classes/{national}", json={"changes": []}).status_code == 403
    reader = app.test_client()
    reader.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.token('a1', 'registry', 751)}"
    assert reader.patch(f"{BASE}/classes/{local}", json={"changes": []}).status_code == 403


def test_kle_upload_through_the_api(operator, world, app):
    from pathlib import Path

    data = (Path(__file__).parent / "data" / "kle" / "emneplan-xml2-2026-01.xml").read_bytes()
    r = operator.post(f"{BASE}/kle-imports", data=data, content_type="application/xml")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["created"] == 51 and r.get_json()["counts"]["emne"] == 36
    again = operator.post(f"{BASE}/kle-imports", data=data, content_type="application/xml").get_json()
    assert again["created"] == 0 and again["changed"] == 0 and again["unchanged"] == 51
    broken = (Path(__file__).parent / "data" / "kle" / "broken-code-format.xml").read_bytes()
    r = operator.post(f"{BASE}/kle-imports", data=broken, content_type="application/xml")
    assert r.status_code == 422 and r.get_json()["code"] == "invalid_kle_file"
    assert len(r.get_json()["errors"]) >= 2 and all(e["field"].startswith("line ") for e in r.get_json()["errors"])
    r = operator.post(f"{BASE}/kle-imports", data=b"<not-xml", content_type="application/xml")
    assert r.status_code == 422
    admin = app.test_client()
    r = admin.post(f"{BASE}/kle-imports", data=data, content_type="application/xml",
                   headers=bearer(world.login("admin751")))
    assert r.status_code == 403


def test_local_classes_are_invisible_to_other_municipalities_also_in_search(app, world, deliver):
    admin751, admin101 = app.test_client(), app.test_client()
    admin751.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin751')}"
    admin101.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin101')}"
    local = create(admin751, "L2", "Aarhus-lokal hemmelighed")
    assert admin751.get(f"{BASE}/classes/{local}").get_json()["municipality_code"] == 751
    assert admin101.get(f"{BASE}/classes/{local}").status_code == 404
    assert admin101.get(f"{BASE}/facets/{KLE_EMNEPLAN}/classes/L2").status_code == 404
    assert admin101.get(f"{BASE}/classes/{local}/registrations").status_code == 404
    deliver()
    assert [c["code"] for c in admin751.get(f"{BASE}/search?q=hemmelighed").get_json()["items"]] == ["L2"]
    assert admin101.get(f"{BASE}/search?q=hemmelighed").get_json()["items"] == []


def test_full_history_of_a_class(operator):
    class_id = create(operator, "93", "Før", valid_from="2026-01-01")
    operator.patch(f"{BASE}/classes/{class_id}", json={"changes": [
        {"field": "title", "value": "Efter", "valid_from": "2026-06-01"}]})
    facts = [f for f in operator.get(f"{BASE}/classes/{class_id}/facts").get_json() if f["field"] == "title"]
    # The original belief (closed), and the two pieces believed since the update.
    closed = [f for f in facts if f["registered_to"] is not None]
    open_ = sorted((f for f in facts if f["registered_to"] is None), key=lambda f: f["valid_from"])
    assert [f["value"] for f in closed] == ["Før"] and closed[0]["valid_to"] is None
    assert [f["value"] for f in open_] == ["Før", "Efter"]
    assert open_[0]["valid_to"] == open_[1]["valid_from"]


def test_local_classification_with_a_facet_and_classes(app, world):
    admin751, admin101 = app.test_client(), app.test_client()
    admin751.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin751')}"
    admin101.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin101')}"
    r = admin751.post(f"{BASE}/klassifikationer", json={"user_key": "aarhus_typer", "title": "Aarhus' typer"})
    assert r.status_code == 201, r.get_json()
    local = r.get_json()["uuid"]
    facet = admin751.post(f"{BASE}/klassifikationer/{local}/facets",
                          json={"user_key": "projekttype", "title": "Projekttyper"}).get_json()["uuid"]
    r = admin751.post(f"{BASE}/facets/{facet}/classes", json={"user_key": "P1", "title": "Anlægsprojekt"})
    assert r.status_code == 201
    assert [f["uuid"] for f in admin751.get(f"{BASE}/klassifikationer/{local}/facets").get_json()] == [facet]
    assert admin751.get(f"{BASE}/facets/{facet}/classes/P1").get_json()["title"] == "Anlægsprojekt"
    assert local in [k["uuid"] for k in admin751.get(f"{BASE}/klassifikationer").get_json()]
    assert local not in [k["uuid"] for k in admin101.get(f"{BASE}/klassifikationer").get_json()]
    assert admin101.get(f"{BASE}/facets/{facet}").status_code == 404
    assert admin101.post(f"{BASE}/klassifikationer/{local}/facets",
                         json={"user_key": "x", "title": "x"}).status_code == 404
