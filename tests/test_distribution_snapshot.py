"""Snapshot export, long-polling and resend-everything of the distribution service
(distribution/snapshot_api.py, distribution/api.py): a snapshot lists every current object the
subscription covers, once, and with `feed_position` nothing is missed; a long-poll answers as
soon as an event commits; a resend delivers the retained events again."""

from __future__ import annotations

import threading
import time

import pytest

from app.db import get_db
from app.paging import encode_cursor
from organisation import service
from tests.indexes_world import index_world, stamp
from tests.test_distribution_feed import events, subscribe, unit


@pytest.fixture
def iw(app):
    return index_world(app)


def snapshot(iw, token, sub, **args) -> list[dict]:
    """Every page of a snapshot; asserts that each page carries the same feed_position."""
    pages, cursor = [], None
    while True:
        query = {**args, **({"cursor": cursor} if cursor else {})}
        r = iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/snapshot", token, query_string=query)
        assert r.status_code == 200, r.get_json()
        pages.append(r.get_json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            assert len({p["feed_position"] for p in pages}) == 1
            return pages


def items(pages) -> list[tuple]:
    return [(i["object_type"], i["object_uuid"], i["municipality_code"]) for p in pages for i in p["items"]]


def put_case(iw, name: str, **over) -> str:
    case = iw.case(name, minutes=1, **over)
    assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", iw.token("fag", "sdi"), json=case).status_code == 200
    return case["uuid"]


def test_a_snapshot_lists_every_current_object_of_the_subscription_once(app, iw):
    token, sub = subscribe(iw, "sub", topics=("organisation",))
    with app.app_context(), get_db().transaction() as conn:
        gone = unit(conn, "Gone", parent=iw.org.ids["R"])
        service.end(conn, "enhed", "delete", gone, municipality_code=751)
        other = unit(conn, "U101", municipality=101, parent=iw.org.ids["K"])
        expected = {(r["t"], str(r["uuid"])) for t in ("organisation", "enhed", "person", "bruger", "funktion",
                                                         "itsystem")
                    for r in conn.execute(f"SELECT %(t)s::text AS t, uuid FROM {t} WHERE municipality_code = 751 "
                                          "AND lifecycle <> 'Slettet'", {"t": t})}
    whole = items(snapshot(iw, token, sub))
    paged_pages = snapshot(iw, token, sub, limit=3)
    paged = items(paged_pages)
    assert len(paged_pages) > 3 and all(len(p["items"]) <= 3 for p in paged_pages)
    assert paged == whole and len(set(paged)) == len(paged)  # each object once, in (type, uuid) order
    assert [(t, u) for t, u, _ in paged] == sorted((t, u) for t, u, _ in paged)
    assert {(t, u) for t, u, _ in whole} == expected
    assert {iw.org.ids["A"], iw.org.ids["R"]} <= {u for _, u, _ in whole}
    assert gone not in {u for _, u, _ in whole} and other not in {u for _, u, _ in whole}
    assert {m for _, _, m in whole} == {751}


def test_a_snapshot_of_the_indexes_follows_the_agreement_and_leaves_out_removed_records(iw):
    open_, secret, removed = put_case(iw, "open"), put_case(iw, "secret", sensitivity="VIP_SAGER"), put_case(iw, "rm")
    assert iw.call("delete", f"/api/v1/sdi/cases/{removed}", iw.token("fag", "sdi"),
                   query_string={"changed_at": stamp(9)}).status_code in (200, 204)
    everything, sub = subscribe(iw, "all", topics=("indexes",))
    limited, limited_sub = subscribe(iw, "limited", topics=("indexes",), sensitivity="FORTROLIGE_PERSONOPLYSNINGER")
    stranger, stranger_sub = subscribe(iw, "stranger", municipality=101, topics=("indexes",))
    assert {u for _, u, _ in items(snapshot(iw, everything, sub))} == {open_, secret}
    assert {u for _, u, _ in items(snapshot(iw, limited, limited_sub))} == {open_}
    assert items(snapshot(iw, stranger, stranger_sub)) == []


def test_a_klassifikation_snapshot_includes_national_classes(iw):
    token, sub = subscribe(iw, "kla", topics=("klassifikation",), object_types=["klassifikation", "facet"])
    got = items(snapshot(iw, token, sub, limit=1000))
    assert got and {t for t, _, _ in got} <= {"klassifikation", "facet"}
    assert None in {m for _, _, m in got}


def test_a_change_during_the_snapshot_is_in_the_feed_after_feed_position(app, iw):
    token, sub = subscribe(iw, "sub")
    path = f"/api/v1/distribution/subscriptions/{sub}/snapshot"
    first = iw.call("get", path, token, query_string={"limit": 2}).get_json()
    with app.app_context(), get_db().transaction() as conn:
        new = unit(conn, "During", parent=iw.org.ids["R"])  # written while the snapshot is being read
    cursor, seen = first["next_cursor"], [i["object_uuid"] for i in first["items"]]
    while cursor:
        page = iw.call("get", path, token, query_string={"limit": 2, "cursor": cursor}).get_json()
        assert page["feed_position"] == first["feed_position"]
        seen += [i["object_uuid"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen))
    after = events(iw, token, sub, after=first["feed_position"])["events"]
    assert new in {e["object_uuid"] for e in after}  # whether or not a page saw it, the feed has it


def test_a_bad_cursor_or_limit_names_the_field(iw):
    token, sub = subscribe(iw, "sub")
    path = f"/api/v1/distribution/subscriptions/{sub}/snapshot"
    for cursor in ("not-a-cursor", encode_cursor([1, "enhed"]), encode_cursor(["x", "enhed", "nope"])):
        r = iw.call("get", path, token, query_string={"cursor": cursor})
        assert r.status_code == 400 and r.get_json()["code"] == "invalid_cursor", cursor
        assert r.get_json()["errors"][0]["field"] == "cursor"
    r = iw.call("get", path, token, query_string={"limit": 0})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "limit"
    other, _ = subscribe(iw, "other")
    assert iw.call("get", path, other).status_code == 404


def test_a_long_poll_answers_as_soon_as_an_event_commits(app, iw):
    token, sub = subscribe(iw, "sub")

    def write_later():
        time.sleep(1)
        with app.app_context(), get_db().transaction() as conn:
            unit(conn, "Later", parent=iw.org.ids["R"])

    writer = threading.Thread(target=write_later)
    started = time.monotonic()
    writer.start()
    try:
        body = events(iw, token, sub, wait=10)
    finally:
        writer.join()
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 5, elapsed
    assert [e["object_type"] for e in body["events"]] == ["enhed"]


def test_an_empty_long_poll_returns_after_the_wait_and_wait_is_bounded(iw):
    token, sub = subscribe(iw, "sub")
    started = time.monotonic()
    body = events(iw, token, sub, wait=2)
    elapsed = time.monotonic() - started
    assert body["events"] == [] and 1.9 < elapsed < 4.5, elapsed
    started = time.monotonic()
    assert events(iw, token, sub, wait=0)["events"] == [] and time.monotonic() - started < 1.5
    r = iw.call("get", f"/api/v1/distribution/subscriptions/{sub}/events", token, query_string={"wait": 26})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "wait"


def test_resend_delivers_every_retained_event_again(app, iw):
    token, sub = subscribe(iw, "sub")
    with app.app_context(), get_db().transaction() as conn:
        a, b = unit(conn, "A1", parent=iw.org.ids["R"]), unit(conn, "B1", parent=iw.org.ids["R"])
    two = events(iw, token, sub)["events"]
    path = f"/api/v1/distribution/subscriptions/{sub}"
    assert iw.call("post", f"{path}/ack", token, json={"position": two[-1]["position"]}).status_code == 200
    assert events(iw, token, sub)["events"] == []
    r = iw.call("post", f"{path}/resend", token)
    assert r.status_code == 200 and r.get_json()["acked_position"] == 0
    again = events(iw, token, sub, limit=1000)["events"]
    assert [e["object_uuid"] for e in again][-2:] == [a, b]
    assert len(again) > 2  # the world's earlier events too, as far as they are retained
    other, _ = subscribe(iw, "other")
    assert iw.call("post", f"{path}/resend", other).status_code == 404


def test_resend_rewinds_push_delivery(app, iw):
    token, sub = subscribe(iw, "sub")
    path = f"/api/v1/distribution/subscriptions/{sub}"
    assert iw.call("put", f"{path}/push", token, json={"url": "http://127.0.0.1:9/hook"}).status_code == 200
    with app.app_context(), get_db().transaction() as conn:
        conn.execute("UPDATE subscription_push SET delivered_position = 5, attempts = 3, "
                     "next_attempt_at = now() + interval '1 hour' WHERE subscription_id = %(i)s", {"i": sub})
    assert iw.call("post", f"{path}/resend", token).status_code == 200
    status = iw.call("get", f"{path}/push", token).get_json()
    assert status["delivered_position"] == 0 and status["attempts"] == 0
