"""Business events (distribution/messages.py, messages_api.py): publishing is idempotent and
validated, and a subscriber receives, by pull and by GET /messages/<uuid>, exactly the messages
its municipality, the recipients list, its agreement's constraints and the validity allow."""

from __future__ import annotations

import pytest

from app.db import get_db
from distribution import feed
from tests.indexes_world import index_world, new_uuid
from tests.test_distribution_feed import events, subscribe

MESSAGES_PATH = "/api/v1/distribution/messages"


@pytest.fixture
def iw(app):
    iw = index_world(app)
    iw.system("pub751", "distribution", roles=("edit",), municipality=751)
    iw.system("pub101", "distribution", roles=("edit",), municipality=101)
    return iw


def message(name: str, **over) -> dict:
    body = {"uuid": new_uuid(f"besked-{name}"), "type": "urn:oio:besked:sagsbehandling:afgoerelse",
            "objects": [{"type": "urn:oio:cpr-nr", "uuid": new_uuid(f"person-{name}")}], "kle": "27.01.02",
            "sensitivity": "IKKE_FORTROLIGE_DATA", "payload": {"name": name, "text": "Afgørelse truffet"}}
    return {**body, **over}


def publish(iw, sender: str, body: dict, municipality: int = 751, status: int = 201):
    r = iw.call("post", MESSAGES_PATH, iw.token(sender, "distribution", municipality), json=body)
    assert r.status_code == status, r.get_json()
    return r.get_json()


# Subscribers: name -> (municipality, agreement constraints; None for the system `fag`'s id).
SUBSCRIBERS = {
    "all751": (751, {}),
    "all101": (101, {}),
    "low751": (751, {"sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"}),
    "kle751": (751, {"kle": ["27.*"]}),
    "unit751": (751, {"org_units": "A"}),  # a message has no unit: nothing
    "sender751": (751, {"it_systems": "pub751"}),  # only messages sent by pub751
    "othersender751": (751, {"it_systems": "fag"}),
}
# Messages: name -> (sender, municipality, envelope overrides; "recipients" names subscribers).
MESSAGES = {
    "open": ("pub751", 751, {}),
    "vip": ("pub751", 751, {"sensitivity": "VIP_SAGER"}),
    "other-kle": ("pub751", 751, {"kle": "17.03"}),
    "no-kle": ("pub751", 751, {"kle": None}),
    "to-low": ("pub751", 751, {"recipients": ["low751"]}),
    "to-all101": ("pub751", 751, {"recipients": ["all101"]}),  # a 751 message: 101's subscriber gets nothing
    "m101": ("pub101", 101, {}),
    "expired": ("pub751", 751, {"valid_to": "2999-01-01T00:00:00Z"}),  # made to pass below
}
RECEIVES = {
    "all751": {"open", "vip", "other-kle", "no-kle"},
    "all101": {"m101"},
    "low751": {"open", "other-kle", "no-kle", "to-low"},
    "kle751": {"open", "vip"},
    "unit751": set(),
    "sender751": {"open", "vip", "other-kle", "no-kle"},
    "othersender751": set(),
}


def test_a_subscriber_receives_exactly_the_messages_its_agreement_and_the_recipients_allow(app, iw):
    subs = {}
    for name, (municipality, constraints) in SUBSCRIBERS.items():
        resolved = {k: ([{"uuid": iw.ids[v]}] if k == "org_units" else [iw.ids[v]] if k == "it_systems" else v)
                    for k, v in constraints.items()}
        subs[name] = subscribe(iw, name, municipality, ("events",), **resolved)
    names = {}
    for name, (sender, municipality, over) in MESSAGES.items():
        if "recipients" in over:
            over = {**over, "recipients": [iw.ids[r] for r in over["recipients"]]}
        body = message(name, **over)
        published = publish(iw, sender, body, municipality)
        assert published["status"] == "accepted" and published["sender_system"] == iw.ids[sender]
        names[body["uuid"]] = name
    with app.app_context(), get_db().transaction() as conn:  # time passes
        conn.execute("UPDATE business_message SET valid_to = now() - interval '1 second' WHERE uuid = %(u)s",
                     {"u": message("expired")["uuid"]})

    for name, (token, sub) in subs.items():
        got = events(iw, token, sub, limit=1000)["events"]
        assert {names[e["object_uuid"]] for e in got} == RECEIVES[name], name
        assert {(e["object_type"], e["change"]) for e in got} <= {("besked", "created")}
        for uuid, message_name in names.items():
            r = iw.call("get", f"{MESSAGES_PATH}/{uuid}", token)
            if message_name in RECEIVES[name]:
                assert r.status_code == 200, (name, message_name)
                assert r.get_json()["payload"] == {"name": message_name, "text": "Afgørelse truffet"}
            else:
                assert r.status_code == 404, (name, message_name, r.get_json())


def test_the_whole_envelope_is_returned_and_recipients_are_checked_without_a_system_too(app, iw):
    token, _sub = subscribe(iw, "reader", topics=("events", "organisation"))
    body = message("full", recipients=[iw.ids["reader"]], valid_from="2026-01-01T00:00:00+01:00",
                   valid_to="2999-01-01T00:00:00+00:00", payload={"nested": {"list": [1, 2.5, None, "æ"]}})
    publish(iw, "pub751", body)
    got = iw.call("get", f"{MESSAGES_PATH}/{body['uuid']}", token).get_json()
    assert {k: got[k] for k in ("uuid", "type", "objects", "kle", "sensitivity", "payload")} == \
        {k: body[k] for k in ("uuid", "type", "objects", "kle", "sensitivity", "payload")}
    assert got["recipients"] == [iw.ids["reader"]] and got["municipality_code"] == 751
    assert got["sender_system"] == iw.ids["pub751"] and got["valid_from"].startswith("2025-12-31T23:00:00")
    with app.app_context(), get_db().transaction() as conn:
        feed.sequence(conn)
        read = [e["object_uuid"] for e in feed.read(conn, 751, ["besked"], [[{}]], after=0, limit=100)]
        assert body["uuid"] not in read  # no subscriber system: a message for named recipients is not shown
        read = feed.read(conn, 751, ["besked"], [[{}]], after=0, limit=100, system_id=iw.ids["reader"])
        assert body["uuid"] in [e["object_uuid"] for e in read]


def test_publishing_is_idempotent_by_uuid(app, iw):
    token, sub = subscribe(iw, "sub", topics=("events",))
    body = message("once")
    assert publish(iw, "pub751", body)["status"] == "accepted"
    # The same content again (the payload's keys in another order): unchanged.
    again = publish(iw, "pub751", {**body, "payload": {"text": "Afgørelse truffet", "name": "once"}}, status=200)
    assert again["status"] == "unchanged" and again["uuid"] == body["uuid"]
    r = iw.call("post", MESSAGES_PATH, iw.token("pub751", "distribution", 751), json={**body, "payload": {"x": 1}})
    assert r.status_code == 409 and r.get_json()["code"] == "message_conflict"
    iw.system("pub751b", "distribution", roles=("edit",))
    r = iw.call("post", MESSAGES_PATH, iw.token("pub751b", "distribution", 751), json=body)
    assert r.status_code == 409  # another sender cannot take the UUID either
    assert [e["object_uuid"] for e in events(iw, token, sub)["events"]] == [body["uuid"]]  # one event

    listed = message("listed", recipients=[iw.ids["sub"], iw.ids["pub751"]])
    publish(iw, "pub751", listed)
    publish(iw, "pub751", {**listed, "recipients": list(reversed(listed["recipients"]))}, status=200)


INVALID = [  # (envelope overrides, the field the 422 names)
    ({"sensitivity": "HEMMELIG"}, "sensitivity"),
    ({"payload": {"blob": "x" * (64 * 1024)}}, "payload"),
    ({"payload": [1, 2]}, "payload"),
    ({"recipients": ["not-a-uuid"]}, "recipients.0"),
    ({"objects": [{"type": "urn:oio:cpr-nr"}]}, "objects.0.uuid"),
    ({"kle": "27.*"}, "kle"),
    ({"type": ""}, "type"),
    ({"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"}, "valid_to"),
    ({"valid_to": "2026-01-01T00:00:00"}, "valid_to"),  # no time zone
    ({"uuid": "nope"}, "uuid"),
]


def test_an_invalid_message_is_refused_naming_the_field(iw):
    token = iw.token("pub751", "distribution", 751)
    for over, field in INVALID:
        r = iw.call("post", MESSAGES_PATH, token, json=message("bad", **over))
        assert r.status_code == 422, (over, r.get_json())
        assert field in [e["field"] for e in r.get_json()["errors"]], (over, r.get_json())
    fits = {"blob": "x" * (64 * 1024 - len('{"blob":""}'))}  # exactly 64 KiB serialised
    assert publish(iw, "pub751", message("big", payload=fits))["status"] == "accepted"


def test_publishing_needs_the_edit_role_and_reading_the_read_role(iw):
    token, _sub = subscribe(iw, "reader")  # read only
    r = iw.call("post", MESSAGES_PATH, token, json=message("x"))
    assert r.status_code == 403
    body = message("y")
    publish(iw, "pub751", body)
    assert iw.call("get", f"{MESSAGES_PATH}/{body['uuid']}", iw.token("pub751", "distribution", 751)).status_code \
        == 403
    assert iw.call("get", f"{MESSAGES_PATH}/{body['uuid']}", token).status_code == 200
