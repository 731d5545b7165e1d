"""The Organisation sync feed (docs/organisation.md): upserts, no-ops, reconciliation, positions
over time, bulk JSON lines through the API and the CLI (resumable), and field-naming problems."""

from __future__ import annotations

import json
import uuid as uuidlib
from datetime import date, timedelta

import pytest

from app.bitemporal.periods import local_midnight
from app.db import get_db
from organisation import sync
from organisation.model import enheder, funktioner
from tests.world import bearer

SYNC = "/api/v1/organisation/sync"
ROOT, CENTER, TEAM_A, TEAM_B = (str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"unit-{n}")) for n in range(4))
ANNE, BO = (str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"user-{n}")) for n in range(2))


def unit(short_key, name, parent=None, type_="afdeling", **extra):
    return {"short_key": short_key, "name": name, "parent_uuid": parent, "type": type_, **extra}


def user(user_id, name, positions=(), **extra):
    return {"user_id": user_id, "person": {"name": name, "cpr": None}, "positions": list(positions), **extra}


def position(unit_uuid, start, stop=None, name="Sagsbehandler"):
    return {"unit_uuid": unit_uuid, "name": name, "start": start.isoformat(),
            "stop": stop.isoformat() if stop else None}


@pytest.fixture
def feed(app, world):
    """A client with an `organisation` edit token for 751, after the classification seed."""
    assert app.test_cli_runner().invoke(args=["klassifikation", "seed"]).exit_code == 0
    world.agreement("a1", "organisation", 751, roles=("read", "edit"))
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {world.token('a1', 'organisation', 751)}"
    return client


def put(client, kind, uuid, body, status=200):
    r = client.put(f"{SYNC}/{kind}/{uuid}", json=body)
    assert r.status_code == status, r.get_json()
    return r.get_json()


def tree(client):
    put(client, "units", ROOT, unit("K751", "Aarhus Kommune", type_="kommune"))
    put(client, "units", CENTER, unit("JC", "Jobcenter", ROOT, "center", email="jc@aarhus.dk"))
    put(client, "units", TEAM_A, unit("JC-A", "Team A", CENTER, "team"))
    put(client, "units", TEAM_B, unit("JC-B", "Team B", CENTER, "team"))


def registrations(world) -> int:
    return sum(world.sql(f"SELECT count(*) AS n FROM {kind}_registration")[0]["n"]
               for kind in ("enhed", "bruger", "person", "funktion"))


def read_unit(app, uuid, day=None):
    with app.app_context(), get_db().transaction() as conn:
        return enheder.read(conn, uuid, valid_at=local_midnight(day) if day else None)


def employees(app, unit_uuid, day):
    """Users with an employment (arbejder_i) in the unit on that day, read from the store."""
    with app.app_context(), get_db().transaction() as conn:
        ids = [r["uuid"] for r in conn.execute(
            "SELECT DISTINCT uuid::text AS uuid FROM funktion_fact WHERE field = 'units' "
            "AND value #>> '{}' = %(u)s AND upper_inf(registration)", {"u": unit_uuid})]
        found = funktioner.read_many(conn, ids, valid_at=local_midnight(day))
    return sorted(u for f in found if f["function_type"] == "arbejder_i" for u in f["users"])


def test_upsert_unit_and_user_and_the_same_records_again_change_nothing(app, world, feed, today):
    tree(feed)
    anne = user("anne1", "Anne Jensen", [position(TEAM_A, today - timedelta(days=400))], email="aj@aarhus.dk")
    answer = put(feed, "users", ANNE, anne)
    assert answer["changed"] is True
    assert {o["kind"] for o in answer["objects"]} == {"user", "person", "function"}
    managed = unit("JC", "Jobcenter", ROOT, "center", email="jc@aarhus.dk", manager_uuid=ANNE,
                   paying_unit_uuid=ROOT)
    answer = put(feed, "units", CENTER, {**managed, "uuid": str(uuidlib.uuid4())})  # the path's UUID wins
    assert answer["uuid"] == CENTER
    assert [(o["kind"], o["changed"]) for o in answer["objects"]] == [
        ("unit", False), ("function", True), ("function", True)]
    center = read_unit(app, CENTER)
    assert (center["user_key"], center["parent"], center["unit_type"]) == ("JC", ROOT, "center")
    assert center["addresses"] == [{"type": "email", "value": "jc@aarhus.dk"}]
    assert employees(app, TEAM_A, today) == [ANNE]

    before = registrations(world)
    for kind, uuid, body in (("units", ROOT, unit("K751", "Aarhus Kommune", type_="kommune")),
                             ("units", CENTER, managed), ("users", ANNE, anne)):
        again = put(feed, kind, uuid, body)
        assert again["changed"] is False and not any(o["changed"] for o in again["objects"])
    assert registrations(world) == before

    # A change registers only what changed; a null clears its field from valid_from.
    answer = put(feed, "units", CENTER, {**managed, "email": None, "name": "Jobcenter Aarhus"})
    assert [o["changed"] for o in answer["objects"]] == [True, False, False]
    assert registrations(world) == before + 1
    center = read_unit(app, CENTER)
    assert (center["name"], center["addresses"]) == ("Jobcenter Aarhus", [])


def test_a_future_valid_from_leaves_today_untouched(app, feed, today):
    tree(feed)
    later = today + timedelta(days=30)
    put(feed, "units", TEAM_A, unit("JC-A", "Team Alfa", CENTER, "team", phone="12345678",
                                    valid_from=later.isoformat()))
    now, then = read_unit(app, TEAM_A), read_unit(app, TEAM_A, later)
    assert (now["name"], now["addresses"]) == ("Team A", [])
    assert (then["name"], then["addresses"]) == ("Team Alfa", [{"type": "telefon", "value": "12345678"}])


def test_a_position_ends_at_its_stop_date_and_a_left_out_position_ends_at_valid_from(app, feed, today):
    tree(feed)
    stop = today + timedelta(days=10)
    put(feed, "users", ANNE, user("anne1", "Anne Jensen", [position(TEAM_A, today - timedelta(days=30), stop),
                                                           position(TEAM_B, today - timedelta(days=30))]))
    assert employees(app, TEAM_A, stop - timedelta(days=1)) == [ANNE]
    assert employees(app, TEAM_A, stop) == []
    assert employees(app, TEAM_A, today - timedelta(days=31)) == []

    # Team B's position is left out from next week on: it ends there; its past stays.
    next_week = today + timedelta(days=7)
    answer = put(feed, "users", ANNE, user("anne1", "Anne Jensen", [
        position(TEAM_A, today - timedelta(days=30), stop)], valid_from=next_week.isoformat()))
    assert answer["changed"] is True
    assert employees(app, TEAM_B, next_week - timedelta(days=1)) == [ANNE]
    assert employees(app, TEAM_B, next_week) == []


def test_problems_name_the_record_field(feed, today):
    tree(feed)
    cases = [
        (unit("X", "X", CENTER, "galaxy"), "type"),
        ({**unit("X", "X", CENTER), "valid_from": "2026-13-01"}, "valid_from"),
        (unit("X", "X", str(uuidlib.uuid4())), "parent_uuid"),
        (unit("X", "X", CENTER, kle=[{"code": "99.99", "aspect": "ansvarlig"}]), "kle"),
        (unit("X", "X", CENTER, manager_uuid=str(uuidlib.uuid4())), "manager_uuid"),
        ({**unit("X", "X", CENTER), "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = feed.put(f"{SYNC}/units/{uuidlib.uuid4()}", json=body)
        assert r.status_code == 422, (field, r.get_json())
        assert r.mimetype == "application/problem+json"
        assert field in [e["field"] for e in r.get_json()["errors"]], (field, r.get_json())
    r = feed.put(f"{SYNC}/users/{BO}", json=user("bo", "Bo", [position(str(uuidlib.uuid4()), today)]))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "positions.0.unit_uuid"
    r = feed.put(f"{SYNC}/users/{BO}", json=user("bo", "Bo", [position(TEAM_A, today, today)]))
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "positions.0.stop"


def test_reconcile_dry_run_reports_exactly_what_the_real_run_passivates(app, world, feed, today):
    tree(feed)
    put(feed, "users", ANNE, user("anne1", "Anne", [position(TEAM_A, today - timedelta(days=5))]))
    put(feed, "users", BO, user("bo1", "Bo"))
    body = {"kind": "unit", "uuids": [ROOT], "dry_run": True}
    before = registrations(world)
    dry = feed.post(f"{SYNC}/reconcile", json=body)
    assert dry.status_code == 200, dry.get_json()
    planned = [p["uuid"] for p in dry.get_json()["passivated"]]
    assert set(planned) == {CENTER, TEAM_A, TEAM_B} and planned[-1] == CENTER  # children first
    assert registrations(world) == before
    assert read_unit(app, CENTER)["lifecycle"] != "Passiveret"

    real = feed.post(f"{SYNC}/reconcile", json={**body, "dry_run": False})
    assert real.status_code == 200 and real.get_json()["passivated"] == dry.get_json()["passivated"]
    lifecycles = {r["uuid"]: r["lifecycle"] for r in world.sql("SELECT uuid::text AS uuid, lifecycle FROM enhed")}
    assert lifecycles == {ROOT: "Importeret", CENTER: "Passiveret", TEAM_A: "Passiveret", TEAM_B: "Passiveret"}
    again = feed.post(f"{SYNC}/reconcile", json={**body, "dry_run": False}).get_json()
    assert again["passivated"] == []

    users = feed.post(f"{SYNC}/reconcile", json={"kind": "user", "uuids": [ANNE], "dry_run": True}).get_json()
    assert [p["uuid"] for p in users["passivated"]] == [BO] and users["passivated"][0]["user_key"] == "bo1"


def test_reconcile_refuses_a_listed_unit_whose_parent_is_not_listed(world, feed):
    tree(feed)
    before = registrations(world)
    r = feed.post(f"{SYNC}/reconcile", json={"kind": "unit", "uuids": [ROOT, TEAM_A], "dry_run": False})
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "uuids"
    assert registrations(world) == before


def test_passivate_and_delete(app, world, feed, today):
    tree(feed)
    put(feed, "users", ANNE, user("anne1", "Anne", [position(TEAM_A, today - timedelta(days=5))]))
    r = feed.post(f"{SYNC}/units/{CENTER}/passivate")
    assert r.status_code == 409 and r.get_json()["code"] == "unit_has_children"
    r = feed.post(f"{SYNC}/users/{ANNE}/passivate")
    assert r.status_code == 200 and [o["kind"] for o in r.get_json()["objects"]] == ["user", "function"]
    assert employees(app, TEAM_A, today - timedelta(days=1)) == [ANNE]
    assert employees(app, TEAM_A, today) == []
    assert feed.post(f"{SYNC}/users/{ANNE}/passivate").get_json()["changed"] is False
    assert feed.delete(f"{SYNC}/units/{TEAM_B}").status_code == 200
    assert feed.delete(f"{SYNC}/units/{TEAM_B}").get_json()["changed"] is False
    assert feed.post(f"{SYNC}/units/{uuidlib.uuid4()}/passivate").status_code == 404
    # Sending the record again brings a passivated user back.
    assert put(feed, "users", ANNE, user("anne1", "Anne"))["changed"] is True
    assert world.sql("SELECT lifecycle FROM bruger WHERE uuid = %(u)s", {"u": ANNE})[0]["lifecycle"] == "Importeret"


def test_operators_name_the_municipality_and_others_cannot_write_elsewhere(app, world, feed):
    operator = bearer(world.login("operator"))
    body = unit("K751", "Aarhus Kommune", type_="kommune")
    r = app.test_client().put(f"{SYNC}/units/{ROOT}", json=body, headers=operator)
    assert r.status_code == 400 and r.get_json()["errors"][0]["field"] == "municipality"
    r = app.test_client().put(f"{SYNC}/units/{ROOT}?municipality=751", json=body, headers=operator)
    assert r.status_code == 200, r.get_json()
    assert feed.put(f"{SYNC}/units/{ROOT}?municipality=101", json=body).status_code == 404
    admin101 = bearer(world.login("admin101"))
    r = app.test_client().put(f"{SYNC}/units/{ROOT}", json=body, headers=admin101)
    assert r.status_code == 409 and r.get_json()["errors"][0]["field"] == "uuid"  # 751's UUID
    world.agreement("b1", "organisation", 101, roles=("read",))
    r = app.test_client().put(f"{SYNC}/units/{ROOT}", json=body, headers=bearer(world.token("b1", "organisation", 101)))
    assert r.status_code == 403


def jsonl(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def test_bulk_answers_per_record_and_keeps_the_good_ones(app, world, feed, today):
    body = jsonl(
        {"kind": "user", "uuid": ANNE, **user("anne1", "Anne", [position(TEAM_A, today - timedelta(days=3))])},
        {"kind": "unit", "uuid": TEAM_A, **unit("JC-A", "Team A", CENTER, "team", manager_uuid=ANNE)},
        {"kind": "unit", "uuid": CENTER, **unit("JC", "Jobcenter", ROOT, "center")},
        {"kind": "unit", "uuid": TEAM_B, **unit("JC-B", "Team B", CENTER, "no-such-type")},
        "{not json",
        "",
        {"kind": "unit", "uuid": ROOT, **unit("K751", "Aarhus Kommune", type_="kommune")},
        {"kind": "user", "uuid": BO, **user("bo1", "Bo", [position(TEAM_B, today)])},
    )
    r = feed.post(f"{SYNC}/bulk", data=body, content_type="application/x-ndjson")
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert (answer["accepted"], answer["unchanged"], answer["rejected"]) == (4, 0, 3)
    by_line = {a["line"]: a for a in answer["records"]}
    assert sorted(by_line) == [1, 2, 3, 4, 5, 7, 8]
    assert by_line[4] == {"line": 4, "uuid": TEAM_B, "status": "rejected",
                          "errors": [{"field": "type", "detail": by_line[4]["errors"][0]["detail"]}]}
    assert by_line[5]["errors"][0]["field"] == "(line)"
    assert by_line[8]["errors"][0]["field"] == "positions.0.unit_uuid"
    assert employees(app, TEAM_A, today) == [ANNE]
    assert read_unit(app, TEAM_A)["parent"] == CENTER
    with app.app_context(), get_db().transaction() as conn:
        manager = funktioner.read(conn, sync.manager_function_uuid(TEAM_A))
    assert (manager["function_type"], manager["users"]) == ("leder", [ANNE])

    before = registrations(world)
    again = feed.post(f"{SYNC}/bulk", data=body, content_type="application/jsonl").get_json()
    assert (again["accepted"], again["unchanged"], again["rejected"]) == (0, 4, 3)
    assert registrations(world) == before
    assert feed.post(f"{SYNC}/bulk", data=body, content_type="application/json").status_code == 415


def test_a_bulk_line_with_text_the_database_cannot_store_is_rejected_alone(feed):
    body = jsonl({"kind": "unit", "uuid": ROOT, **unit("K751", "Aarhus Kommune", type_="kommune")},
                 {"kind": "unit", "uuid": CENTER, **unit("JC", "Job\u0000center", ROOT, "center")},
                 {"kind": "user", "uuid": BO, **user("bo1", "Bo")}).replace('"Bo"', '"Bo \\udc00"')
    answer = feed.post(f"{SYNC}/bulk", data=body, content_type="application/x-ndjson").get_json()
    assert [(a["status"], [e["field"] for e in a.get("errors", [])]) for a in answer["records"]] == [
        ("accepted", []), ("rejected", ["name"]), ("rejected", ["person.name"])]


def test_bulk_applies_several_records_of_one_object_in_order(app, feed, today):
    tree(feed)
    month = today + timedelta(days=30)
    body = jsonl(
        {"kind": "user", "uuid": ANNE, **user("anne1", "Anne", [position(TEAM_A, today - timedelta(days=9)),
                                                               position(TEAM_B, today - timedelta(days=9))])},
        {"kind": "unit", "uuid": TEAM_B, **unit("JC-B", "Team Beta", CENTER, "team", valid_from=month.isoformat())},
        {"kind": "user", "uuid": ANNE, **user("anne1", "Anne", [position(TEAM_A, today - timedelta(days=9))],
                                              valid_from=month.isoformat())},
        {"kind": "unit", "uuid": TEAM_B, **unit("JC-B", "Team B2", CENTER, "team")},
    )
    answer = feed.post(f"{SYNC}/bulk", data=body, content_type="application/x-ndjson").get_json()
    assert [a["status"] for a in answer["records"]] == ["accepted"] * 4
    assert (read_unit(app, TEAM_B)["name"], read_unit(app, TEAM_B, month)["name"]) == ("Team B2", "Team B2")
    assert employees(app, TEAM_B, month - timedelta(days=1)) == [ANNE]
    assert employees(app, TEAM_B, month) == []


def test_bulk_writes_a_units_history_once_and_the_same_history_again_changes_nothing(app, world, feed, today):
    tree(feed)
    put(feed, "units", TEAM_A, unit("JC-A", "Team A", CENTER, "team", email="a@aarhus.dk"))
    d1, d2, d3 = (today + timedelta(days=n) for n in (10, 20, 30))
    history = [unit("JC-A", "One", CENTER, "team", email="one@aarhus.dk", valid_from=d1.isoformat()),
               unit("JC-A", "Two", CENTER, "team", valid_from=d2.isoformat()),
               unit("JC-A", "Three", ROOT, "team", email="three@aarhus.dk", valid_from=d3.isoformat())]
    body = jsonl(*({"kind": "unit", "uuid": TEAM_A, **r} for r in history))
    before = world.sql("SELECT count(*) AS n FROM enhed_registration WHERE uuid = %(u)s", {"u": TEAM_A})[0]["n"]
    first = feed.post(f"{SYNC}/bulk", data=body, content_type="application/x-ndjson").get_json()
    assert [r["status"] for r in first["records"]] == ["accepted"] * 3
    after = world.sql("SELECT count(*) AS n FROM enhed_registration WHERE uuid = %(u)s", {"u": TEAM_A})[0]["n"]
    assert after == before + 1  # one registration for the whole history
    seen = [(u["name"], u["parent"], [a["value"] for a in u["addresses"]])
            for u in (read_unit(app, TEAM_A, day) for day in (today, d1, d2, d3))]
    assert seen == [("Team A", CENTER, ["a@aarhus.dk"]), ("One", CENTER, ["one@aarhus.dk"]),
                    ("Two", CENTER, []), ("Three", ROOT, ["three@aarhus.dk"])]
    total = registrations(world)
    again = feed.post(f"{SYNC}/bulk", data=body, content_type="application/x-ndjson").get_json()
    assert [r["status"] for r in again["records"]] == ["unchanged"] * 3
    assert registrations(world) == total


def test_cli_import_resumes_a_named_job_after_the_last_committed_batch(app, world, feed, tmp_path, monkeypatch):
    units = [{"kind": "unit", "uuid": ROOT, **unit("K751", "Aarhus Kommune", type_="kommune")}]
    units += [{"kind": "unit", "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"u{i}")),
               **unit(f"U{i}", f"Unit {i}", ROOT)} for i in range(3)]
    users = [{"kind": "user", "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"p{i}")),
              **user(f"user{i}", f"User {i}", [position(units[1 + i % 3]["uuid"], date(2025, 1, 1))])}
             for i in range(8)]
    path = tmp_path / "organisation.jsonl"
    path.write_text(jsonl(*reversed(units), *users), encoding="utf-8")
    runner = app.test_cli_runner()
    args = ["organisation", "import-jsonl", str(path), "--municipality", "751", "--job", "nightly", "--batch", "5"]

    calls, broken = [], {"yet": False}
    real = sync.Feed.upsert_user

    def failing(self, uuid, record):  # the first run breaks at its fourth user
        calls.append(uuid)
        if len(calls) == 4 and not broken["yet"]:
            broken["yet"] = True
            raise RuntimeError("the connection broke")
        return real(self, uuid, record)

    monkeypatch.setattr(sync.Feed, "upsert_user", failing)
    first = runner.invoke(args=args)
    assert isinstance(first.exception, RuntimeError)
    [job] = world.sql("SELECT position, total FROM organisation_sync_job WHERE name = 'nightly'")
    assert (job["position"], job["total"]) == (5, 4 + 8 + 4)  # units, users, the units' links

    calls.clear()
    second = runner.invoke(args=args)
    assert second.exit_code == 0, second.output
    assert "resumed after step 5 of 16" in second.stderr
    assert "steps/s" in second.stderr
    assert len(calls) == 7  # only the users after the committed batch
    assert world.sql("SELECT count(*) AS n FROM bruger")[0]["n"] == 8
    assert world.sql("SELECT count(*) AS n FROM enhed")[0]["n"] == 4

    third = runner.invoke(args=args)
    assert third.exit_code == 0 and "resumed after step 16 of 16" in third.stderr

    path.write_text(jsonl(*units, {"kind": "user", "uuid": ANNE, "user_id": "x"}), encoding="utf-8")
    fourth = runner.invoke(args=args)
    assert fourth.exit_code == 1  # another input under the same name starts again; one record is rejected
    [rejected] = [json.loads(line) for line in fourth.stdout.splitlines()]
    assert rejected["uuid"] == ANNE and rejected["errors"][0]["field"] == "person"


def test_the_bulk_fast_loader_gives_what_the_schema_gives_or_leaves_it_to_the_schema():
    from marshmallow import ValidationError

    from organisation.sync_records import SCHEMAS, load_record

    good = [("unit", {"uuid": ROOT, **unit("K", "Kommune", type_="kommune", ean="5798005770305",
                                           kle=[{"code": "27.35", "aspect": "ansvarlig"}], valid_from="2026-01-01")}),
            ("user", {"uuid": ANNE, **user("a", "Anne", [position(TEAM_A, date(2026, 1, 1), date(2026, 2, 1))])}),
            ("unit", {"uuid": ROOT.upper(), **unit("K", "Kommune")})]  # not canonical: the schema's way
    for kind, record in good:
        assert load_record(kind, json.loads(json.dumps(record))) == SCHEMAS[kind].load(record)
    bad = [("unit", {**unit("K", "K"), "ean": "12"}), ("unit", {**unit("K", "K"), "valid_from": "2026-02-30"}),
           ("unit", {**unit("K", "K"), "kle": [{"code": "27.35", "aspect": "nope"}]}),
           ("user", user("a", "A", [position(TEAM_A, date(2026, 1, 2), date(2026, 1, 1))])),
           ("user", {**user("a", "A"), "person": {"name": "A", "cpr": "12"}})]
    for kind, record in bad:
        with pytest.raises(ValidationError) as fast:
            load_record(kind, record)
        with pytest.raises(ValidationError) as slow:
            SCHEMAS[kind].load(record)
        assert fast.value.messages == slow.value.messages


def test_cli_import_rewrites_a_batch_with_a_rejected_record_keeping_the_good_ones(app, world, feed, tmp_path):
    """A batch is first written without savepoints; a rejection rolls it back and writes it again
    with one savepoint per record: the answer and the data are as if it had been so all along."""
    good = [{"kind": "unit", "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"g{i}")),
             **unit(f"G{i}", f"Good {i}", ROOT)} for i in range(3)]
    bad = {"kind": "unit", "uuid": TEAM_B, **unit("JC-B", "Team B", ROOT, "no-such-type")}
    path = tmp_path / "organisation.jsonl"
    path.write_text(jsonl({"kind": "unit", "uuid": ROOT, **unit("K751", "Aarhus Kommune", type_="kommune")},
                          good[0], bad, *good[1:]), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["organisation", "import-jsonl", str(path), "--municipality", "751"])
    assert result.exit_code == 1
    [rejected] = [json.loads(line) for line in result.stdout.splitlines()]
    assert rejected["uuid"] == TEAM_B and rejected["line"] == 3 and rejected["errors"][0]["field"] == "type"
    assert sorted(r["uuid"] for r in world.sql("SELECT uuid::text FROM enhed")) == \
        sorted([ROOT, *(g["uuid"] for g in good)])
    assert world.sql("SELECT max(no) AS n FROM enhed_registration")[0]["n"] == 1  # each written once
