"""The change feed and pull subscriptions (distribution/): commit order with a late commit, no
gaps, acknowledgement, and only what the subscriber's agreement covers."""

from __future__ import annotations

import pytest

from app.db import get_db
from organisation import service
from tests.indexes_world import index_world, stamp
from tests.test_organisation_search import ALWAYS


def unit(conn, key: str, municipality: int = 751, parent: str | None = None) -> str:
    data = {"user_key": [(key, ALWAYS)], "name": [(key, ALWAYS)], "unit_type": [("afdeling", ALWAYS)]}
    if parent:
        data["parent"] = [(parent, ALWAYS)]
    return service.write(conn, "enhed", "create", None, data, municipality_code=municipality).uuid


@pytest.fixture
def iw(app):
    iw = index_world(app)
    return iw


def subscribe(iw, name: str, municipality: int = 751, topics=("organisation",), object_types=None, **constraints):
    token = iw.system(name, "distribution", roles=("read",), municipality=municipality, **constraints)
    r = iw.call("post", "/api/v1/distribution/subscriptions", token,
                json={"name": "main", "topics": list(topics), "object_types": object_types})
    assert r.status_code == 201, r.get_json()
    return token, r.get_json()["id"]


def events(iw, token, sub, **args):
    r = iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/events", token, query_string=args)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_transaction_that_commits_late_is_delivered_after_the_one_that_committed_first(app, iw):
    token, sub = subscribe(iw, "sub")
    with app.app_context():
        db = get_db()
        conn_a = db.pool.getconn()
        try:
            a = unit(conn_a, "A-late", parent=iw.org.ids["R"])  # transaction A stays open
            with db.transaction() as conn_b:
                b = unit(conn_b, "B-first", parent=iw.org.ids["R"])
            first = events(iw, token, sub)["events"]
            assert [e["object_uuid"] for e in first] == [b]  # B is positioned; A is not committed
            conn_a.commit()
        finally:
            db.pool.putconn(conn_a)
    body = events(iw, token, sub)
    assert [e["object_uuid"] for e in body["events"]] == [b, a]
    positions = [e["position"] for e in body["events"]]
    assert positions == list(range(positions[0], positions[0] + 2))  # no gaps
    assert {e["change"] for e in body["events"]} == {"created"}


def test_acknowledged_events_are_not_delivered_again_and_unacknowledged_ones_are(app, iw):
    token, sub = subscribe(iw, "sub")
    with app.app_context(), get_db().transaction() as conn:
        unit(conn, "X", parent=iw.org.ids["R"])
        unit(conn, "Y", parent=iw.org.ids["R"])
    two = events(iw, token, sub)["events"]
    assert len(two) == 2 and events(iw, token, sub)["events"] == two  # not acknowledged: again
    r = iw.call("post", f"/api/v1/distribution/subscriptions/{sub}/ack", token, json={"position": two[0]["position"]})
    assert r.status_code == 200 and r.get_json()["acked_position"] == two[0]["position"]
    assert events(iw, token, sub)["events"] == two[1:]
    assert events(iw, token, sub, after=two[1]["position"])["events"] == []
    r = iw.call("post", f"/api/v1/distribution/subscriptions/{sub}/ack", token, json={"position": 10**9})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "position"


@pytest.mark.parametrize(("subscriber", "sees"), [
    # (municipality, topics, object types, constraints) -> which of the writes below it receives
    ((751, ("organisation",), None, {}), {"unit751"}),
    ((101, ("organisation",), None, {}), {"unit101"}),
    ((751, ("indexes",), None, {}), {"open", "secret"}),
    ((751, ("indexes",), None, {"sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"}), {"open"}),
    ((751, ("indexes",), None, {"kle": ["17.*"]}), set()),
    ((751, ("organisation", "indexes"), ["sag"], {}), {"open", "secret"}),
    ((101, ("indexes",), None, {}), set()),
])
def test_a_subscriber_receives_only_what_its_agreement_and_subscription_cover(app, iw, subscriber, sees):
    municipality, topics, object_types, constraints = subscriber
    token, sub = subscribe(iw, "s", municipality, topics, object_types, **constraints)
    names = {}
    with app.app_context(), get_db().transaction() as conn:
        names[unit(conn, "U751", parent=iw.org.ids["R"])] = "unit751"
        names[unit(conn, "U101", municipality=101, parent=iw.org.ids["K"])] = "unit101"
    fag = iw.token("fag", "sdi")
    for name, sensitivity in (("open", "IKKE_FORTROLIGE_DATA"), ("secret", "VIP_SAGER")):
        case = iw.case(name, sensitivity=sensitivity, minutes=1)
        assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", fag, json=case).status_code == 200
        names[case["uuid"]] = name
    got = {names.get(e["object_uuid"], e["object_uuid"]) for e in events(iw, token, sub, limit=1000)["events"]}
    assert got == sees


def test_subscriptions_belong_to_their_system_and_municipality(iw):
    token, sub = subscribe(iw, "owner")
    other, _ = subscribe(iw, "stranger")
    assert iw.call("get", f"/api/v1/distribution/subscriptions/{sub}", other).status_code == 404
    assert iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/events", other).status_code == 404
    r = iw.call("post", "/api/v1/distribution/subscriptions", token, json={"name": "main", "topics": ["organisation"]})
    assert r.status_code == 409 and r.get_json()["code"] == "subscription_exists"
    r = iw.call("post", "/api/v1/distribution/subscriptions", token, json={"name": "x", "topics": ["nope"]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "topics.0"
    assert iw.call("delete", f"/api/v1/distribution/subscriptions/{sub}", token).status_code == 204
    assert iw.call("get", "/api/v1/distribution/subscriptions", token).get_json() == []


def test_a_removed_record_and_a_passivated_unit_are_events_too(app, iw):
    token, sub = subscribe(iw, "sub", topics=("indexes", "organisation"))
    fag = iw.token("fag", "sdi")
    case = iw.case("gone")
    iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", fag, json=case)
    iw.call("delete", f"/api/v1/sdi/cases/{case['uuid']}", fag, query_string={"changed_at": stamp(9)})
    changes = [(e["object_type"], e["change"]) for e in events(iw, token, sub)["events"]]
    assert changes == [("sag", "created"), ("sag", "deleted")]



def test_a_subscriptions_own_kle_and_sensitivity_filters_narrow_what_it_receives(app, iw):
    token = iw.system("narrow", "distribution", roles=("read",))
    fag = iw.token("fag", "sdi")
    subs = {}
    for name, filters in (("kle27", {"kle": ["27.*"]}), ("kle17", {"kle": ["17.*"]}),
                          ("open", {"sensitivity": "IKKE_FORTROLIGE_DATA"})):
        r = iw.call("post", "/api/v1/distribution/subscriptions", token,
                    json={"name": name, "topics": ["indexes", "organisation"], **filters})
        assert r.status_code == 201 and r.get_json()["kle"] == filters.get("kle"), r.get_json()
        subs[name] = r.get_json()["id"]
    names = {}
    for name, sensitivity in (("open", "IKKE_FORTROLIGE_DATA"), ("secret", "VIP_SAGER")):
        case = iw.case(name, sensitivity=sensitivity)
        assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", fag, json=case).status_code == 200
        names[case["uuid"]] = name
    with app.app_context(), get_db().transaction() as conn:
        names[unit(conn, "U", parent=iw.org.ids["R"])] = "unit"

    def got(sub):
        return {names.get(e["object_uuid"], "?") for e in events(iw, token, sub)["events"]}

    assert got(subs["kle27"]) == {"open", "secret", "unit"}  # the cases are 27.01.02; units are not narrowed
    assert got(subs["kle17"]) == {"unit"}
    assert got(subs["open"]) == {"open", "unit"}
    r = iw.call("post", "/api/v1/distribution/subscriptions", token,
                json={"name": "bad", "topics": ["indexes"], "kle": ["27.x"], "sensitivity": "HEMMELIG"})
    assert r.status_code == 422 and {e["field"] for e in r.get_json()["errors"]} == {"kle.0", "sensitivity"}
