"""Sortiments: a municipality offers a versioned subset of classes to one system."""

from pathlib import Path

from classification.model import KLE_EMNEPLAN
from tests.world import bearer

BASE = "/api/v1/klassifikation"
DATA = Path(__file__).parent / "data" / "kle"


def test_sortiment_versions_and_visibility(app, world):
    assert app.test_cli_runner().invoke(
        args=["klassifikation", "import-kle", str(DATA / "emneplan-xml2-2026-01.xml")]).exit_code == 0
    world.agreement("a1", "klassifikation", 751)
    world.agreement("b1", "klassifikation", 101)
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin751')}"

    def uuid_of(code):
        return admin.get(f"{BASE}/facets/{KLE_EMNEPLAN}/classes/{code}").get_json()["uuid"]

    first = [uuid_of("27.01.01"), uuid_of("27.01.02")]
    r = admin.post(f"{BASE}/sortiments", json={"name": "Børn og unge", "system_id": world.ids["a1"],
                                                 "classes": first})
    assert r.status_code == 201, r.get_json()
    sortiment = r.get_json()
    assert sortiment["version"] == 1 and sortiment["municipality_code"] == 751

    r = admin.put(f"{BASE}/sortiments/{sortiment['id']}", json={"classes": [*first, uuid_of("27.01.03")]})
    assert r.get_json()["version"] == 2
    assert admin.put(f"{BASE}/sortiments/{sortiment['id']}",
                     json={"classes": [*first, uuid_of("27.01.03")]}).get_json()["version"] == 2  # same set

    system = app.test_client()
    system.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.token('a1', 'klassifikation', 751)}"
    assert [s["id"] for s in system.get(f"{BASE}/sortiments").get_json()] == [sortiment["id"]]
    v1 = system.get(f"{BASE}/sortiments/{sortiment['id']}?version=1").get_json()
    assert sorted(c["user_key"] for c in v1["classes"]) == ["27.01.01", "27.01.02"]
    now = system.get(f"{BASE}/sortiments/{sortiment['id']}").get_json()
    assert now["version"] == 2 and len(now["classes"]) == 3

    other = bearer(world.token("b1", "klassifikation", 101))
    assert app.test_client().get(f"{BASE}/sortiments/{sortiment['id']}", headers=other).status_code == 404
    assert app.test_client().get(f"{BASE}/sortiments", headers=other).get_json() == []

    r = admin.put(f"{BASE}/sortiments/{sortiment['id']}", json={"classes": ["00000000-0000-0000-0000-000000000001"]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "classes"
    r = admin.post(f"{BASE}/sortiments", json={"name": "Børn og unge", "system_id": world.ids["a1"],
                                                 "classes": first})
    assert r.status_code == 409 and r.get_json()["code"] == "sortiment_exists"
