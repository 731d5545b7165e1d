"""Organisation search (GET /api/v1/organisation/search) against the real Elasticsearch:
names with æ/ø/å folding, user keys, KLE prefixes, unit types, addresses, municipality
isolation, person names only with see_name (and access-logged), never a CPR number."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from app.bitemporal.periods import Period, local_midnight
from app.db import get_db
from app.search import get_search
from app.search.indexer import drain
from classification import service as klassifikation
from classification.model import KLE_EMNEPLAN
from organisation import service
from tests.conftest import AppFactory
from tests.world import bearer, standard_world

KLE_FILE = Path(__file__).parent / "data" / "kle" / "emneplan-xml2-2026-01.xml"
ALWAYS = Period(local_midnight(date(2020, 1, 1)), None)
URL = "/api/v1/organisation/search"


class Org:
    """Builds organisations through organisation.service.write, one transaction per object."""

    def __init__(self, app):
        self.app, self.ids = app, {}

    def write(self, kind: str, key: str, municipality: int = 751, op: str = "create", **fields) -> str:
        data = {name: [(v, ALWAYS) for v in value] if isinstance(value, list) else [(value, ALWAYS)]
                for name, value in fields.items()}
        with self.app.app_context(), get_db().transaction() as conn:
            result = service.write(conn, kind, op, self.ids.get(key) if op != "create" else None, data,
                                   municipality_code=municipality)
        self.ids[key] = result.uuid
        return result.uuid

    def unit(self, key: str, name: str, unit_type: str, parent: str | None = None, municipality: int = 751,
             **more) -> str:
        fields = {"user_key": key, "name": name, "unit_type": unit_type, **more}
        if parent:
            fields["parent"] = self.ids[parent]
        return self.write("enhed", key, municipality, **fields)

    def user(self, key: str, name: str, cpr: str, unit: str, municipality: int = 751) -> str:
        person = self.write("person", f"{key}-person", municipality, user_key=key, name=name, cpr=cpr)
        user = self.write("bruger", key, municipality, user_key=key, name=name, person=person,
                          addresses=[{"type": "email", "value": f"{key.lower()}@example.dk"}])
        self.write("funktion", f"{key}-job", municipality, user_key=f"{key}-job", function_type="arbejder_i",
                   name="Pædagog", units=[self.ids[unit]], users=[user])
        return user

    def move(self, key: str, parent: str, period: Period = ALWAYS) -> None:
        with self.app.app_context(), get_db().transaction() as conn:
            service.write(conn, "enhed", "update", self.ids[key], {"parent": [(self.ids[parent], period)]},
                          municipality_code=751)


def build_org(app) -> Org:
    """751: R ─ F (27.01.02, addresses) ─ A;  R ─ B (17.00.01 by class) ─ C.  101: K ─ KB.
    Users: SOEO in A, HAHA in C (751), KBUS in KB (101)."""
    runner = app.test_cli_runner()
    assert runner.invoke(args=["klassifikation", "seed"]).exit_code == 0
    assert runner.invoke(args=["klassifikation", "import-kle", str(KLE_FILE)]).exit_code == 0
    with app.app_context(), get_db().transaction() as conn:
        kle_17 = klassifikation.uuid_of_code(conn, KLE_EMNEPLAN, "17.00.01")
    org = Org(app)
    org.unit("R", "Aarhus Kommune", "kommune")
    org.unit("F", "Børn og Unge", "forvaltning", "R", tasks=[{"code": "27.01.02", "aspect": "ansvarlig"}],
             addresses=[{"type": "email", "value": "boern@aarhus.example"},
                        {"type": "postadresse", "value": "Rådhuspladsen 2, 8000 Aarhus C"}])
    org.unit("A", "Skoleafdelingen", "afdeling", "F")
    org.unit("B", "Sundhed og Omsorg", "forvaltning", "R", tasks=[{"klasse": kle_17, "aspect": "indsigt"}])
    org.unit("C", "Plejecenter Åby", "institution", "B")
    org.unit("K", "Københavns Kommune", "kommune", municipality=101)
    org.unit("KB", "Børn og Unge København", "forvaltning", "K", municipality=101)
    org.user("SOEO", "Søren Østergård", "0101801234", "A")
    org.user("HAHA", "Hanne Hansen", "0202802345", "C")
    org.user("KBUS", "Karen Bus", "0303803456", "KB", municipality=101)
    return org


def deliver_now(app) -> int:
    with app.app_context():
        search = get_search()
        search.ensure_indexes()
        return drain(get_db(), search, refresh=True)


def raw_doc(app, kind: str, uuid: str) -> dict:
    with app.app_context():
        search = get_search()
        return search.client.get(index=search.alias(kind), id=uuid).body["_source"]


@pytest.fixture(scope="module")
def indexed(admin_conn, service_urls, template_db):
    """One app with the organisation above, indexed; its tests only read."""
    factory = AppFactory(admin_conn, service_urls, template_db)
    app = factory()
    org = build_org(app)
    deliver_now(app)
    world = standard_world(app)
    world.system("named", "Vendor A")
    world.system("nameless", "Vendor B")
    world.agreement("named", "organisation", 751, constraints={"see_name": True})
    world.agreement("nameless", "organisation", 751)
    world.agreement("b1", "organisation", 101, constraints={"see_name": True})
    yield app, org, world
    factory.cleanup()


def get(app, token: str, **query):
    return app.test_client().get(URL, query_string=query, headers=bearer(token))


def keys(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return sorted(item["user_key"] for item in response.get_json()["items"])


def test_units_by_name_with_danish_folding(indexed):
    app, _org, world = indexed
    token = world.token("nameless", "organisation", 751)
    assert keys(get(app, token, q="Åby")) == ["C"]
    assert keys(get(app, token, q="aaby")) == ["C"]
    assert keys(get(app, token, q="boern")) == ["F"]
    assert keys(get(app, token, q="Børn og")) == ["F"]
    assert keys(get(app, token, q="plejecen")) == ["C"]  # prefix of the last word


def test_unit_hits_carry_type_and_parent(indexed):
    app, org, world = indexed
    [hit] = get(app, world.token("nameless", "organisation", 751), q="Skoleafdelingen").get_json()["items"]
    assert hit == {"uuid": org.ids["A"], "user_key": "A", "name": "Skoleafdelingen", "unit_type": "afdeling",
                   "parent": org.ids["F"]}


def test_by_user_key_address_unit_type_and_kle_prefix(indexed):
    app, _org, world = indexed
    token = world.token("nameless", "organisation", 751)
    assert keys(get(app, token, q="f")) == ["F"]  # the user key, any case
    assert keys(get(app, token, q="raadhuspladsen")) == ["F"]
    assert keys(get(app, token, q="Rådhuspladsen 2")) == ["F"]
    assert keys(get(app, token, unit_type="forvaltning")) == ["B", "F"]
    assert keys(get(app, token, kle="27")) == ["F"]
    assert keys(get(app, token, kle="27.01")) == ["F"]
    assert keys(get(app, token, kle="27.01.*")) == ["F"]
    assert keys(get(app, token, kle="27.01.02")) == ["F"]
    assert keys(get(app, token, kle="27.02")) == []
    assert keys(get(app, token, kle="*")) == ["B", "F"]
    assert keys(get(app, token, kle="17.00")) == ["B"]  # a task given by its class only
    assert keys(get(app, token, q="27.01.02")) == ["F"]
    assert keys(get(app, token, under=indexed[1].ids["B"])) == ["B", "C"]


def test_valid_on_limits_to_what_exists_that_day(indexed):
    app, _org, world = indexed
    token = world.token("nameless", "organisation", 751)
    assert keys(get(app, token, valid_on="2019-12-31")) == []
    assert keys(get(app, token, valid_on="2020-01-01")) == ["A", "B", "C", "F", "R"]


def test_a_municipality_never_sees_another_municipalitys_units(indexed):
    app, _org, world = indexed
    token101 = world.token("b1", "organisation", 101)
    assert keys(get(app, token101, q="Børn og Unge")) == ["KB"]
    assert keys(get(app, token101)) == ["K", "KB"]
    assert keys(get(app, token101, kind="user")) == ["KBUS"]
    other = get(app, token101, q="Børn", municipality=751)
    assert other.status_code == 403 and other.get_json()["errors"][0]["field"] == "municipality"
    admin = world.login("admin101")
    assert keys(get(app, admin, q="Børn og Unge")) == ["KB"]


def test_operators_name_the_municipality(indexed):
    app, _org, world = indexed
    operator = world.login("operator")
    missing = get(app, operator, q="Børn")
    assert missing.status_code == 422 and missing.get_json()["errors"][0]["field"] == "municipality"
    assert keys(get(app, operator, q="Børn og Unge", municipality=751)) == ["F"]
    assert keys(get(app, operator, q="Børn og Unge", municipality=101)) == ["KB"]


def test_user_names_only_with_see_name_and_access_logged(indexed):
    app, org, world = indexed
    named = get(app, world.token("named", "organisation", 751), kind="user", q="Søren")
    assert named.get_json()["items"] == [{"uuid": org.ids["SOEO"], "user_key": "SOEO", "name": "Søren Østergård",
                                          "person": org.ids["SOEO-person"], "omitted": []}]
    assert keys(get(app, world.token("named", "organisation", 751), kind="user", q="oestergaard")) == ["SOEO"]
    [entry] = world.sql("SELECT operation, persons, system_id::text FROM access_log WHERE system_id = %(s)s "
                        "AND operation = 'organisation.search' ORDER BY id LIMIT 1", {"s": world.ids["named"]})
    assert entry["persons"] == [f"urn:uuid:{org.ids['SOEO-person']}"]
    assert entry["system_id"] == world.ids["named"]

    before = world.sql("SELECT count(*) AS n FROM access_log")[0]["n"]
    nameless = world.token("nameless", "organisation", 751)
    hidden = get(app, nameless, kind="user")
    assert hidden.get_json()["items"] == [
        {"uuid": org.ids[k], "user_key": k, "name": None, "person": org.ids[f"{k}-person"], "omitted": ["name"]}
        for k in ("HAHA", "SOEO")]
    assert "Hansen" not in hidden.get_data(as_text=True)
    # Without see_name a name does not even match (that would tell who is there); the key does.
    assert keys(get(app, nameless, kind="user", q="Søren")) == []
    assert keys(get(app, nameless, kind="user", q="soe")) == ["SOEO"]
    assert world.sql("SELECT count(*) AS n FROM access_log")[0]["n"] == before
    # Municipality admins see names (and are logged).
    assert get(app, world.login("admin751"), kind="user", q="Hanne").get_json()["items"][0]["name"] == "Hanne Hansen"


def test_the_cpr_number_is_never_indexed(indexed):
    app, org, _world = indexed
    doc = raw_doc(app, "bruger", org.ids["SOEO"])
    assert "0101801234" not in json.dumps(doc) and "cpr" not in doc
    assert doc["name"] == "Søren Østergård" and doc["person"] == org.ids["SOEO-person"]
    assert doc["units"] == [org.ids["A"]]
    assert doc["unit_path"] == [org.ids["R"], org.ids["F"], org.ids["A"]]


def test_unit_documents_carry_paths_kle_prefixes_and_validity(indexed):
    app, org, _world = indexed
    doc = raw_doc(app, "enhed", org.ids["F"])
    assert doc["unit_path"] == [org.ids["R"], org.ids["F"]] and doc["unit"] == org.ids["F"]
    assert doc["kle"] == ["27", "27.01", "27.01.02"]
    assert doc["valid"] == [{"gte": ALWAYS.lower.isoformat()}]
    assert doc["name_folded"] == "boern og unge" and doc["municipality_code"] == 751


def test_cursor_paging_walks_every_hit_once(indexed):
    app, _org, world = indexed
    token = world.token("nameless", "organisation", 751)
    seen, cursor = [], None
    while True:
        page = get(app, token, limit=2, **({"cursor": cursor} if cursor else {})).get_json()
        assert page["total"] == 5
        seen += [item["user_key"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["A", "B", "C", "F", "R"] and len(seen) == 5


def test_bad_arguments_are_4xx_naming_the_field(indexed):
    app, _org, world = indexed
    token = world.token("nameless", "organisation", 751)
    for query, field in [({"kind": "user", "kle": "27"}, "kle"), ({"kind": "user", "unit_type": "afdeling"},
                                                                  "unit_type"),
                         ({"kle": "27.x"}, "kle"), ({"kind": "person"}, "kind"), ({"limit": 0}, "limit"),
                         ({"cursor": "bm9wZQ"}, "cursor"), ({"cursor": "WzEsMiwzXQ"}, "cursor")]:
        r = get(app, token, **query)
        assert 400 <= r.status_code < 500, (query, r.status_code)
        assert r.content_type == "application/problem+json"
        assert field in json.dumps(r.get_json()), (query, r.get_json())


def test_the_route_needs_the_organisation_read_role(indexed):
    app, _org, world = indexed
    assert get(app, world.token("a1", "registry", 751)).status_code == 403
    assert app.test_client().get(URL).status_code == 401
    assert get(app, world.login("vendora")).status_code == 403


def test_a_renamed_person_renames_the_indexed_user(app, deliver):
    org = build_org(app)
    deliver()
    org.write("person", "SOEO-person", op="update", name="Søren Ø. Madsen")
    deliver()
    assert raw_doc(app, "bruger", org.ids["SOEO"])["name"] == "Søren Ø. Madsen"


def test_a_deleted_unit_leaves_the_index(app, deliver):
    org = build_org(app)
    deliver()
    with app.app_context(), get_db().transaction() as conn:
        service.end(conn, "enhed", "delete", org.ids["A"], municipality_code=751)
    deliver()
    with app.app_context():
        search = get_search()
        assert not search.client.exists(index=search.alias("enhed"), id=org.ids["A"])


def test_a_unit_of_the_future_is_found_on_its_dates_with_its_path_then(app, deliver):
    org = build_org(app)
    later = Period(local_midnight(date(2030, 1, 1)), local_midnight(date(2031, 1, 1)))
    data = {"user_key": [("FUT", later)], "name": [("Fremtidens Råd", later)], "unit_type": [("center", later)],
            "parent": [(org.ids["B"], later)]}
    with app.app_context(), get_db().transaction() as conn:
        fut = service.write(conn, "enhed", "create", None, data, municipality_code=751).uuid
    deliver()
    token = standard_world(app).login("admin751")
    assert keys(get(app, token, q="fremtidens")) == []
    assert keys(get(app, token, q="fremtidens", valid_on="2030-06-01")) == ["FUT"]
    assert keys(get(app, token, q="fremtidens", valid_on="2031-01-01")) == []
    doc = raw_doc(app, "enhed", fut)
    assert doc["unit_path"] == [org.ids["R"], org.ids["B"], fut]
    assert doc["valid"] == [{"gte": later.lower.isoformat(), "lt": later.upper.isoformat()}]
