"""The Klassifikation read API: by code, as of dates in both times, a whole facet, history."""

from pathlib import Path

import pytest

from app.paging import encode_cursor
from classification.model import KLE_EMNEPLAN
from tests.world import bearer

DATA = Path(__file__).parent / "data" / "kle"


@pytest.fixture
def kle(app, world):
    world.agreement("a1", "klassifikation", 751)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["klassifikation", "import-kle", str(DATA / "emneplan-xml2-2026-01.xml")]).exit_code == 0
    first = app.test_client().get(f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes/17.01.02",
                                  headers=bearer(world.token("a1", "klassifikation", 751)))
    assert runner.invoke(args=["klassifikation", "import-kle", str(DATA / "emneplan-xml2-2026-04.xml")]).exit_code == 0
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.token('a1', 'klassifikation', 751)}"
    return client, first.get_json()


def by_code(client, code, **query):
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return client.get(f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes/{code}" + (f"?{q}" if q else ""))


def test_class_by_code_now_and_as_of_both_times(kle):
    client, before = kle
    now = by_code(client, "17.01.02")
    assert now.status_code == 200 and now.headers["ETag"] == f'"{now.get_json()["registration_no"]}"'
    assert now.get_json()["title"] != before["title"]  # the newer edition renamed it
    assert by_code(client, "17.01.02", valid_at="2026-03-31").get_json()["title"] == before["title"]
    registrations = client.get(f"/api/v1/klassifikation/classes/{now.get_json()['uuid']}/registrations").get_json()
    assert [r["lifecycle"] for r in registrations] == ["Importeret", "Rettet"]
    as_registered = by_code(client, "17.01.02", valid_at="2026-05-01",
                            registered_at=registrations[0]["registered_from"].replace("+00:00", "Z"))
    assert as_registered.get_json()["title"] == before["title"]


def test_retired_class_is_not_found_after_its_date(kle):
    client, _ = kle
    assert by_code(client, "17.02.01", valid_at="2026-03-31").status_code == 200
    r = by_code(client, "17.02.01", valid_at="2026-04-01")
    assert r.status_code == 404 and r.get_json()["code"] == "not_found"


def test_children_ancestors_and_the_whole_facet_paged(kle):
    client, _ = kle
    group = by_code(client, "27.01").get_json()
    kids = client.get(f"/api/v1/klassifikation/classes/{group['uuid']}/children").get_json()
    assert [k["user_key"] for k in kids] == ["27.01.01", "27.01.02", "27.01.03"]
    up = client.get(f"/api/v1/klassifikation/classes/{kids[0]['uuid']}/ancestors").get_json()
    assert [a["user_key"] for a in up] == ["27.01", "27"]
    top = by_code(client, "27").get_json()
    below = client.get(f"/api/v1/klassifikation/classes/{top['uuid']}/subtree?valid_at=2026-05-01").get_json()
    codes_below = [c["user_key"] for c in below]
    assert "27.01" in codes_below and "27.01.03" in codes_below and "27" not in codes_below
    assert all(c.startswith("27.") for c in codes_below) and "27.02.03" not in codes_below  # retired
    codes, cursor = [], None
    while True:
        url = f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes?limit=20&valid_at=2026-05-01"
        page = client.get(url + (f"&cursor={cursor}" if cursor else "")).get_json()
        codes += [c["user_key"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert codes == sorted(codes) and len(codes) == len(set(codes)) == page["total"]
    assert "32.05.04" in codes and "17.02.01" not in codes and "27.02.03" not in codes
    for key in ([{"a": 1}], [5], ["a\u0000"], ["\ud800"]):  # cursors this service never issued
        r = client.get(f"{url}&cursor={encode_cursor(key)}")
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor", key


def test_bad_dates_and_codes_are_problems(kle):
    client, _ = kle
    r = by_code(client, "27.01", valid_at="2026-13-01")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "valid_at"
    assert by_code(client, "27.01", valid_at="2026-01-01T00:00:00").status_code == 422  # no time zone
    assert by_code(client, "27;01").status_code == 400
    assert client.get("/api/v1/klassifikation/classes/00000000-0000-0000-0000-000000000000").status_code == 404


def test_a_token_for_another_service_is_refused(app, kle, world):
    r = app.test_client().get(f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes/27",
                              headers=bearer(world.token("a1", "registry", 751)))
    assert r.status_code == 403


def search(client, **query):
    from urllib.parse import urlencode

    return client.get("/api/v1/klassifikation/search?" + urlencode(query))


def test_search_by_text_code_prefix_and_validity(app, kle, deliver):
    client, _ = kle
    deliver()
    first = by_code(client, "27.01.01").get_json()
    by_title = search(client, q=first["title"]).get_json()
    assert by_title["items"][0]["code"] == "27.01.01"
    prefix = search(client, code="27.01", limit=50).get_json()
    assert {c["code"] for c in prefix["items"]} == {"27.01", "27.01.01", "27.01.02", "27.01.03"}
    # 17.02.01 was retired on 2026-04-01: found on the day before, not after.
    assert [c["code"] for c in search(client, code="17.02.01", valid_on="2026-03-31").get_json()["items"]] == \
        ["17.02.01"]
    assert search(client, code="17.02.01", valid_on="2026-04-01").get_json()["items"] == []
    assert search(client, code="32.05.04", valid_on="2025-01-01").get_json()["items"] == []  # not yet created
    r = search(client, code="27 01")
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "code"
