"""Full payloads (distribution/payloads.py) and batched push: events carry the object's current
state as the subscriber's agreement allows it (CPR numbers and names only with see_cpr /
see_name), every person shown is access-logged, a deletion carries no data, and a push with
`batch_size` sends several events per signed request."""

from __future__ import annotations

from app.db import get_db
from organisation import service
from tests import test_distribution_push as push_tests
from tests.indexes_world import CPR_A
from tests.test_distribution_feed import events, unit
from tests.test_distribution_push import enable, run
from tests.test_organisation_search import ALWAYS

CPR = "0101801234"


# The push tests' fixtures: the index world and a real local HTTP receiver.
iw, receiver = push_tests.iw, push_tests.receiver


def subscribe(iw, name: str, topics=("organisation",), payload="full", **constraints):
    token = iw.system(name, "distribution", roles=("read",), **constraints)
    r = iw.call("post", "/api/v1/distribution/subscriptions", token,
                json={"name": "main", "topics": list(topics), "payload": payload})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["payload"] == payload
    return token, r.get_json()["id"]


def person(conn, name: str, cpr: str) -> str:
    data = {"user_key": [(f"P-{cpr[-4:]}", ALWAYS)], "name": [(name, ALWAYS)], "cpr": [(cpr, ALWAYS)]}
    return service.write(conn, "person", "create", None, data, municipality_code=751).uuid


def logged(iw, system: str) -> list[list[str]]:
    return [r["persons"] for r in iw.w.sql(
        "SELECT persons FROM access_log WHERE operation = 'distribution.events' AND system_id = %(s)s ORDER BY id",
        {"s": iw.ids[system]})]


def test_full_events_show_personal_data_only_as_the_agreement_allows_and_log_it(app, iw):
    seer, seer_sub = subscribe(iw, "seer", see_cpr=True, see_name=True)
    blind, blind_sub = subscribe(iw, "blind")
    thin, thin_sub = subscribe(iw, "thin", payload="thin", see_cpr=True, see_name=True)
    with app.app_context(), get_db().transaction() as conn:
        u = unit(conn, "Fuld", parent=iw.org.ids["R"])
        p = person(conn, "Jens Hansen", CPR)

    seen = {e["object_uuid"]: e for e in events(iw, seer, seer_sub)["events"]}
    assert seen[u]["data"]["name"] == "Fuld" and seen[u]["data"]["uuid"] == u
    assert (seen[p]["data"]["name"], seen[p]["data"]["cpr"], seen[p]["data"]["omitted"]) == ("Jens Hansen", CPR, [])
    hidden = {e["object_uuid"]: e for e in events(iw, blind, blind_sub)["events"]}
    assert hidden[u]["data"]["name"] == "Fuld"
    assert (hidden[p]["data"]["name"], hidden[p]["data"]["cpr"]) == (None, None)
    assert hidden[p]["data"]["omitted"] == ["cpr", "name"]
    assert CPR not in str(hidden) and "Jens Hansen" not in str(hidden)
    assert all("data" not in e for e in events(iw, thin, thin_sub)["events"])

    assert logged(iw, "seer") == [[f"urn:oio:cpr-nr:{CPR}"]]
    assert logged(iw, "blind") == [] and logged(iw, "thin") == []


def test_a_deleted_object_has_no_data_and_the_snapshot_carries_data_too(app, iw):
    token, sub = subscribe(iw, "sub", see_cpr=True, see_name=True)
    with app.app_context(), get_db().transaction() as conn:
        u = unit(conn, "Kortvarig", parent=iw.org.ids["R"])
    with app.app_context(), get_db().transaction() as conn:
        service.end(conn, "enhed", "delete", u, municipality_code=751)
    mine = [e for e in events(iw, token, sub)["events"] if e["object_uuid"] == u]
    assert [e["change"] for e in mine] == ["created", "deleted"]
    assert [e["data"] for e in mine] == [None, None]  # gone by the time it is read: no stale state

    r = iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/snapshot", token, query_string={"limit": 1000})
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    assert items and all("data" in i for i in items)
    unit_a = next(i for i in items if i["object_uuid"] == iw.org.ids["A"])
    assert unit_a["data"]["uuid"] == iw.org.ids["A"] and unit_a["data"]["name"]


def test_full_index_records_follow_the_party_rules_and_every_citizen_is_logged(app, iw):
    token, sub = subscribe(iw, "sdi-reader", topics=("indexes",), see_name=True)
    fag = iw.token("fag", "sdi")
    case = iw.case("fuld")
    assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", fag, json=case).status_code == 200
    [event] = events(iw, token, sub)["events"]
    record = event["data"]["record"]
    assert record["title"] == "Sag fuld" and event["data"]["kind"] == "sag"
    assert record["parties"] == [{"urn": None, "role": "primaer", "name": "Søren Østergård", "omitted": ["urn"]}]
    assert logged(iw, "sdi-reader") == [[f"urn:oio:cpr-nr:{CPR_A}"]]


def test_a_batched_full_push_sends_several_events_per_signed_request_in_order(app, iw, receiver):
    token, sub = subscribe(iw, "pusher", see_name=True, see_cpr=True)
    settings = enable(iw, token, sub, receiver, batch_size=3)
    assert settings["batch_size"] == 3
    with app.app_context():
        made = []
        for key in ("B1", "B2", "B3", "B4"):
            with get_db().transaction() as conn:
                made.append(unit(conn, key, parent=iw.org.ids["R"]))
        with get_db().transaction() as conn:
            made.append(person(conn, "Karen Jensen", "0202802345"))
    run(app, lambda: len(receiver.processed) == 5)
    assert [e["object_uuid"] for e in receiver.processed] == made
    positions = [e["position"] for e in receiver.processed]
    assert receiver.requests == [f"{sub}:{positions[0]}-{positions[2]}", f"{sub}:{positions[3]}-{positions[4]}"]
    assert [e["data"]["name"] for e in receiver.processed] == ["B1", "B2", "B3", "B4", "Karen Jensen"]
    assert receiver.processed[-1]["data"]["cpr"] == "0202802345" and not receiver.bad
    assert logged(iw, "pusher") == [["urn:oio:cpr-nr:0202802345"]]


def test_bad_payload_and_batch_settings_are_refused(iw, receiver):
    token = iw.system("bad", "distribution", roles=("read",))
    r = iw.call("post", "/api/v1/distribution/subscriptions", token,
                json={"name": "x", "topics": ["organisation"], "payload": "fat"})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "payload"
    r = iw.call("post", "/api/v1/distribution/subscriptions", token, json={"name": "x", "topics": ["organisation"]})
    sub = r.get_json()["id"]
    r = iw.call("put", f"/api/v1/distribution/subscriptions/{sub}/push", token,
                json={"url": receiver.url, "batch_size": 0})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "batch_size"


def test_a_sortiment_subscription_receives_only_the_sortiment_and_its_classes(app, world):
    from classification.model import KLE_EMNEPLAN
    from tests.test_sortiments import DATA
    from tests.world import bearer

    def kle(name):
        assert app.test_cli_runner().invoke(args=["klassifikation", "import-kle", str(DATA / name)]).exit_code == 0

    kle("emneplan-xml2-2026-01.xml")
    admin, system = app.test_client(), app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.login('admin751')}"
    world.agreement("a1", "distribution", 751)
    world.agreement("b1", "distribution", 751)
    system.environ_base["HTTP_AUTHORIZATION"] = bearer(world.token("a1", "distribution", 751))["Authorization"]
    code = {c: admin.get(f"/api/v1/klassifikation/facets/{KLE_EMNEPLAN}/classes/{c}").get_json()["uuid"]
            for c in ("17.01.02", "27.01.03", "17.01.01")}
    r = admin.post("/api/v1/klassifikation/sortiments", json={"name": "Veje", "system_id": world.ids["a1"],
                                                              "classes": [code["17.01.02"]]})
    sortiment = r.get_json()["id"]

    def subscribe(name, **extra):
        r = system.post("/api/v1/distribution/subscriptions",
                        json={"name": name, "topics": ["klassifikation"], **extra})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    only, everything = subscribe("veje", sortiment=sortiment), subscribe("alt")
    kle("emneplan-xml2-2026-04.xml")  # changes 17.01.02 (title), 27.01.03 (guidance) and more
    r = admin.put(f"/api/v1/klassifikation/sortiments/{sortiment}", json={"classes": [code["17.01.02"],
                                                                                       code["17.01.01"]]})
    assert r.get_json()["version"] == 2

    def got(sub):
        r = system.get(f"/api/v1/distribution/subscriptions/{sub}/events", query_string={"limit": 1000})
        return {(e["object_type"], e["object_uuid"]) for e in r.get_json()["events"]}

    assert got(only) == {("klasse", code["17.01.02"]), ("sortiment", sortiment)}
    assert {("klasse", code["27.01.03"]), ("klasse", code["17.01.02"]), ("sortiment", sortiment)} <= got(everything)
    r = system.get(f"/api/v1/distribution/subscriptions/{only}/snapshot")
    assert {(i["object_type"], i["object_uuid"]) for i in r.get_json()["items"]} == {
        ("klasse", code["17.01.02"]), ("klasse", code["17.01.01"]), ("sortiment", sortiment)}

    b1 = app.test_client()
    b1.environ_base["HTTP_AUTHORIZATION"] = bearer(world.token("b1", "distribution", 751))["Authorization"]
    r = b1.post("/api/v1/distribution/subscriptions",
                json={"name": "x", "topics": ["klassifikation"], "sortiment": sortiment})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "sortiment"  # offered to a1 only
    r = system.post("/api/v1/distribution/subscriptions",
                    json={"name": "y", "topics": ["organisation"], "sortiment": sortiment})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "sortiment"


def test_a_failed_batch_becomes_dead_letters_redriven_in_the_batch_format(app, iw, receiver):
    token, sub = subscribe(iw, "batcher", payload="thin")
    enable(iw, token, sub, receiver, batch_size=2, max_attempts=1)
    receiver.default = "500"
    with app.app_context():
        made = []
        for key in ("D1", "D2"):
            with get_db().transaction() as conn:
                made.append(unit(conn, key, parent=iw.org.ids["R"]))
    letters_path = f"/api/v1/distribution/subscriptions/{sub}/dead-letters"
    run(app, lambda: len(iw.call("get", letters_path, token).get_json()) == 2)
    letters = iw.call("get", letters_path, token).get_json()
    assert [x["event"]["object_uuid"] for x in letters] == made and receiver.processed == []
    receiver.default = "ok"
    r = iw.call("post", f"{letters_path}/{letters[1]['id']}/redrive", token)
    assert r.status_code == 200 and r.get_json()["redriven_at"]
    position = letters[1]["position"]
    assert receiver.requests == [f"{sub}:{position}-{position}"] and not receiver.bad  # a batch of one, signed
    assert [e["object_uuid"] for e in receiver.processed] == [made[1]]
