"""The access log: reads of personal data are logged in the answer's transaction,
the municipality reads its own entries, the table refuses updates and deletes,
and the verify command finds a row changed behind the database's back."""

import threading
from datetime import UTC, datetime
from urllib.parse import quote

import psycopg
import pytest

from app.db import get_db
from app.errors import Problem
from authz import access_log
from authz.policy import authenticated
from tests.world import bearer, standard_world

CPR = "urn:oio:cpr-nr:0101011234"
OTHER = "urn:oio:cpr-nr:0202024321"


@pytest.fixture
def w(app):
    """The standard world, on an app with two test-only routes that return personal data."""

    @app.route("/test/persons/<cpr>")
    @authenticated
    def read_person(cpr):
        access_log.record("test.person.read", [f"urn:oio:cpr-nr:{cpr}"])
        return {"cpr": cpr, "name": "Test Person"}

    @app.route("/test/persons/<cpr>/fails")
    @authenticated
    def read_person_then_fail(cpr):
        access_log.record("test.person.read", [f"urn:oio:cpr-nr:{cpr}"])
        raise Problem(409, "conflict", "The answer fails after the entry was written.")

    return standard_world(app)


def read_person(w, token, cpr="0101011234", suffix=""):
    r = w.app.test_client().get(f"/test/persons/{cpr}{suffix}", headers=bearer(token))
    return r


def log_of(w, user, query=""):
    r = w.app.test_client().get(f"/api/v1/access-log{query}", headers=bearer(w.login(user)))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def verify_cli(w, *args):
    return w.app.test_cli_runner().invoke(args=["authz", "verify-access-log", *args])


def test_reading_a_persons_data_creates_an_entry_the_municipality_reads(w):
    token = w.token("a1", "registry", 751)
    r = read_person(w, token)
    assert r.status_code == 200
    body = log_of(w, "admin751", f"?person={CPR}")
    assert body["total"] == 1 and body["next_cursor"] is None
    [entry] = body["items"]
    assert entry["persons"] == [CPR] and entry["operation"] == "test.person.read"
    assert entry["system_id"] == w.ids["a1"] and entry["vendor_id"] == w.ids["Vendor A"]
    assert entry["municipality_code"] == 751 and entry["agreement_id"]
    assert entry["request_id"] == r.headers["X-Request-ID"]
    assert entry["platform_user_id"] is None and entry["user_uuid"] is None
    # Another municipality sees nothing of it, and may not ask for it.
    assert log_of(w, "admin101", f"?person={CPR}")["total"] == 0
    r = w.app.test_client().get("/api/v1/access-log?municipality_code=751", headers=bearer(w.login("admin101")))
    assert r.status_code == 403
    # Operators see everything; vendor admins and systems may not read the log at all.
    assert log_of(w, "operator", f"?person={CPR}")["total"] >= 1
    assert w.app.test_client().get("/api/v1/access-log", headers=bearer(w.login("vendora"))).status_code == 403
    assert w.app.test_client().get("/api/v1/access-log", headers=bearer(token)).status_code == 403


def test_reading_the_log_is_logged_too(w):
    read_person(w, w.token("a1", "registry", 751))
    log_of(w, "admin751", f"?person={CPR}")
    reads = log_of(w, "operator", "?municipality_code=751")["items"]
    assert [e["operation"] for e in reads] == ["access_log.read", "test.person.read"]
    assert reads[0]["platform_user_id"] == w.ids["admin751"] and reads[0]["persons"] == [CPR]


def test_an_answer_that_fails_leaves_no_entry(w):
    r = read_person(w, w.token("a1", "registry", 751), suffix="/fails")
    assert r.status_code == 409
    assert log_of(w, "operator", f"?person={CPR}")["total"] == 0


def test_filters_by_person_system_and_half_open_period(w):
    w.agreement("b1", "registry", 751)
    a1, b1 = w.token("a1", "registry", 751), w.token("b1", "registry", 751)
    read_person(w, a1)
    read_person(w, b1)
    read_person(w, a1, cpr="0202024321")
    assert [e["persons"] for e in log_of(w, "admin751", f"?system_id={w.ids['a1']}")["items"]] == [[OTHER], [CPR]]
    assert log_of(w, "admin751", f"?person={CPR}&system_id={w.ids['b1']}")["total"] == 1
    entries = log_of(w, "admin751", f"?system_id={w.ids['a1']}")["items"]
    newest, oldest = entries[0]["at"], entries[1]["at"]
    only_oldest = log_of(w, "admin751", f"?system_id={w.ids['a1']}&from={quote(oldest)}&to={quote(newest)}")
    assert [e["persons"] for e in only_oldest["items"]] == [[CPR]]  # `to` is exclusive, `from` inclusive
    r = w.app.test_client().get(f"/api/v1/access-log?from={quote(newest)}&to={quote(oldest)}",
                                headers=bearer(w.login("admin751")))
    assert r.status_code == 422


def test_keyset_paging_visits_every_entry_once(w):
    token = w.token("a1", "registry", 751)
    for n in range(5):
        read_person(w, token, cpr=f"010101{n:04d}")
    seen, cursor = [], None
    while True:
        body = log_of(w, "admin751", f"?system_id={w.ids['a1']}&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert body["total"] == 5
        seen += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5 and seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("statement", [
    "UPDATE access_log SET operation = 'rewritten'",
    "DELETE FROM access_log",
    "TRUNCATE access_log",
    "TRUNCATE access_log_purge",
])
def test_the_database_refuses_to_change_the_log(w, statement):
    read_person(w, w.token("a1", "registry", 751))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        w.sql(statement)
    assert w.sql("SELECT count(*) AS n FROM access_log")[0]["n"] == 1


def test_verify_passes_on_a_clean_log_and_names_a_tampered_row(w):
    token = w.token("a1", "registry", 751)
    for n in range(3):
        read_person(w, token, cpr=f"010101{n:04d}")
    result = verify_cli(w)
    assert result.exit_code == 0, result.output
    assert "access log OK: 3 row(s) verified" in result.output
    [second] = w.sql("SELECT id FROM access_log ORDER BY id OFFSET 1 LIMIT 1")
    w.sql("ALTER TABLE access_log DISABLE TRIGGER access_log_no_update")
    w.sql("UPDATE access_log SET persons = '{urn:oio:cpr-nr:9999999999}' WHERE id = %(id)s", second)
    w.sql("ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_no_update")
    result = verify_cli(w)
    assert result.exit_code == 1
    assert f"first bad row: {second['id']}" in result.output
    with w.app.app_context(), get_db().transaction() as conn:
        assert access_log.verify(conn) == (False, 2, second["id"])


def test_concurrent_readers_each_get_their_entry_and_the_chain_holds(w):
    """Concurrent answers, each with its entry committed just before the answer leaves (the chain's
    lock serialises them): every answer has its own entry, and the chain verifies."""
    token = w.token("a1", "registry", 751)
    statuses: list[int] = []

    def reader(n: int) -> None:
        for k in range(5):
            statuses.append(read_person(w, token, cpr=f"0101{n:02d}{k:04d}").status_code)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * 40
    persons = sorted(r["persons"][0] for r in w.sql("SELECT persons FROM access_log"))
    assert persons == sorted(f"urn:oio:cpr-nr:0101{n:02d}{k:04d}" for n in range(8) for k in range(5))
    result = verify_cli(w)
    assert result.exit_code == 0 and "access log OK: 40 row(s) verified" in result.output, result.output


@pytest.mark.parametrize("which", ["oldest", "middle"])
def test_verify_finds_a_removed_row(w, which):
    token = w.token("a1", "registry", 751)
    for n in range(3):
        read_person(w, token, cpr=f"010101{n:04d}")
    ids = [r["id"] for r in w.sql("SELECT id FROM access_log ORDER BY id")]
    gone = ids[0] if which == "oldest" else ids[1]  # the oldest outside a purge: the anchor no longer matches
    w.sql("ALTER TABLE access_log DISABLE TRIGGER access_log_no_delete")
    w.sql("DELETE FROM access_log WHERE id = %(id)s", {"id": gone})
    w.sql("ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_no_delete")
    result = verify_cli(w)
    assert result.exit_code == 1 and f"first bad row: {ids[ids.index(gone) + 1]}" in result.output


def test_a_noted_head_catches_removed_newest_rows(w):
    token = w.token("a1", "registry", 751)
    read_person(w, token)
    read_person(w, token, cpr="0202024321")
    head = verify_cli(w).output.strip().rsplit("head ", 1)[1]
    w.sql("ALTER TABLE access_log DISABLE TRIGGER access_log_no_delete")
    w.sql("DELETE FROM access_log WHERE id = (SELECT max(id) FROM access_log)")
    w.sql("ALTER TABLE access_log ENABLE ALWAYS TRIGGER access_log_no_delete")
    assert verify_cli(w).exit_code == 0  # the chain alone cannot see that its newest rows went
    result = verify_cli(w, "--expect", head)
    assert result.exit_code == 1 and "missing" in result.output


def test_purge_removes_old_entries_and_the_chain_stays_verifiable(w):
    token = w.token("a1", "registry", 751)
    for n in range(3):
        read_person(w, token, cpr=f"010101{n:04d}")
    [cut] = w.sql("SELECT at FROM access_log ORDER BY id OFFSET 2 LIMIT 1")  # keep the newest only
    with w.app.app_context(), get_db().transaction() as conn:
        assert access_log.purge(conn, cut["at"]) == 2
        assert access_log.verify(conn) == (True, 1, None)
    [purge] = w.sql("SELECT rows_deleted, up_to_id FROM access_log_purge")
    assert purge["rows_deleted"] == 2
    read_person(w, token)  # new entries chain on from the remaining head
    assert verify_cli(w).exit_code == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        w.sql("DELETE FROM access_log")  # a plain DELETE is still refused
    # Everything gone: the next entry chains on from the purge's anchor.
    with w.app.app_context(), get_db().transaction() as conn:
        assert access_log.purge(conn, datetime.now(UTC)) == 2
    read_person(w, token)
    result = verify_cli(w)
    assert result.exit_code == 0 and "1 row(s) verified" in result.output


def test_purge_command_uses_the_retention_setting(w):
    read_person(w, w.token("a1", "registry", 751))
    result = w.app.test_cli_runner().invoke(args=["authz", "purge-access-log"])
    assert result.exit_code == 0 and "removed 0 access-log entries older than 1826 days" in result.output
    assert w.sql("SELECT count(*) AS n FROM access_log")[0]["n"] == 1


def test_python_and_database_hash_the_same_bytes(w):
    w.sql("INSERT INTO access_log (operation, persons, municipality_code, request_id) "
          "VALUES ('læsning', ARRAY['urn:oio:cpr-nr:0101011234', 'urn:x:ø:-:1'], 101, NULL)")
    w.sql("INSERT INTO access_log (operation, persons, system_id, user_uuid) "
          "VALUES ('x', ARRAY['urn:uuid:9f1c0c9e-0000-4000-8000-000000000001'], gen_random_uuid(), gen_random_uuid())")
    w.sql("INSERT INTO access_log (operation, persons) "  # one statement, many rows: chained row by row
          "SELECT 'bulk', ARRAY['urn:uuid:' || gen_random_uuid()] FROM generate_series(1, 5)")
    with w.app.app_context(), get_db().transaction() as conn:
        assert access_log.verify(conn) == (True, 7, None)
        for row in conn.execute("SELECT *, convert_to(access_log_canonical(access_log), 'UTF8') AS c "
                                "FROM access_log"):
            assert access_log.canonical(row) == bytes(row["c"])
