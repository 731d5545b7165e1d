"""The index tables' references hold in the database itself (migration 0022: statement triggers in
place of row-by-row foreign keys): a registration or relation of no record, a record of no
municipality, a municipality that still has records, and a deleted record's dependants."""

from __future__ import annotations

import uuid as uuidlib

import psycopg
import pytest

from tests.indexes_world import IndexWorld, index_world


@pytest.fixture
def iw(app) -> IndexWorld:
    return index_world(app)


def _refused(app, sql: str, params: dict) -> psycopg.errors.ForeignKeyViolation:
    with pytest.raises(psycopg.errors.ForeignKeyViolation) as caught, app.extensions["sts.db"].transaction() as conn:
        conn.execute(sql, params)
    return caught.value


def _count(app, sql: str, params: dict) -> int:
    with app.extensions["sts.db"].transaction() as conn:
        return conn.execute(sql, params).fetchone()["n"]


def _load_case_with_document(iw: IndexWorld) -> tuple[dict, dict]:
    case = iw.case("c1", minutes=1)
    doc = iw.document("d1", case, minutes=1)
    token = iw.token("fag", "sdi")
    assert iw.call("put", f"/api/v1/sdi/cases/{case['uuid']}", token, json=case).status_code == 200
    assert iw.call("put", f"/api/v1/sdi/documents/{doc['uuid']}", token, json=doc).status_code == 200
    return case, doc


def test_registrations_and_relations_need_their_record(app, iw):
    case, _doc = _load_case_with_document(iw)
    ghost = str(uuidlib.uuid4())
    err = _refused(app, "INSERT INTO index_registration (uuid, no, registered, changed_at, operation) "
                        "VALUES (%(u)s, 1, tstzrange(now(), NULL), now(), 'import')", {"u": ghost})
    assert err.diag.constraint_name == "index_registration_uuid_fkey" and ghost in str(err)
    err = _refused(app, "INSERT INTO index_relation (from_uuid, relation, to_uuid) "
                        "VALUES (%(c)s, 'related_case', %(c)s), (%(u)s, 'related_case', %(c)s)",
                   {"u": ghost, "c": case["uuid"]})
    assert err.diag.constraint_name == "index_relation_from_uuid_fkey" and ghost in str(err)
    # An update that points an existing row elsewhere is checked as well.
    err = _refused(app, "UPDATE index_relation SET from_uuid = %(u)s WHERE to_uuid = %(c)s",
                   {"u": ghost, "c": case["uuid"]})
    assert err.diag.constraint_name == "index_relation_from_uuid_fkey"
    # Nothing of the refused statements stayed.
    assert _count(app, "SELECT count(*) AS n FROM index_registration WHERE uuid = %(u)s", {"u": ghost}) == 0
    assert _count(app, "SELECT count(*) AS n FROM index_relation WHERE from_uuid = %(u)s", {"u": ghost}) == 0


def test_a_record_needs_its_municipality_and_a_municipality_with_records_stays(app, iw):
    case, _doc = _load_case_with_document(iw)
    err = _refused(app, "UPDATE index_object SET municipality_code = 999 WHERE uuid = %(u)s", {"u": case["uuid"]})
    assert err.diag.constraint_name == "index_object_municipality_code_fkey"
    with app.extensions["sts.db"].transaction() as conn:
        conn.execute("INSERT INTO municipality (code, cvr, name, region, citizens) "
                     "VALUES (998, '12345678', 'Prøvekommune', 'Region Midtjylland', 0)")
        conn.execute("UPDATE index_object SET municipality_code = 998 WHERE uuid = %(u)s", {"u": case["uuid"]})
    err = _refused(app, "DELETE FROM municipality WHERE code = 998", {})
    assert err.diag.constraint_name == "index_object_municipality_code_fkey" and "998" in str(err)
    err = _refused(app, "UPDATE municipality SET code = 997 WHERE code = 998", {})
    assert err.diag.constraint_name == "index_object_municipality_code_fkey"
    # Other changes to the municipality are not refused.
    with app.extensions["sts.db"].transaction() as conn:
        conn.execute("UPDATE municipality SET citizens = 10 WHERE code = 998")


def test_deleting_a_record_row_takes_its_registrations_and_relations(app, iw):
    case, doc = _load_case_with_document(iw)
    assert _count(app, "SELECT count(*) AS n FROM index_registration WHERE uuid = %(u)s", {"u": doc["uuid"]}) == 1
    assert _count(app, "SELECT count(*) AS n FROM index_relation WHERE from_uuid = %(u)s", {"u": doc["uuid"]}) >= 1
    with app.extensions["sts.db"].transaction() as conn:
        conn.execute("DELETE FROM index_object WHERE uuid = %(u)s", {"u": doc["uuid"]})
    assert _count(app, "SELECT count(*) AS n FROM index_registration WHERE uuid = %(u)s", {"u": doc["uuid"]}) == 0
    assert _count(app, "SELECT count(*) AS n FROM index_relation WHERE from_uuid = %(u)s", {"u": doc["uuid"]}) == 0
    assert _count(app, "SELECT count(*) AS n FROM index_registration WHERE uuid = %(u)s", {"u": case["uuid"]}) == 1
