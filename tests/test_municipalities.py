"""The municipality registry: one from PostgreSQL, search through Elasticsearch, CLI writes."""

from urllib.parse import quote

from app.db import get_db
from app.search import get_search


def test_one_municipality_from_postgres(shared_client):
    r = shared_client.get("/api/v1/municipalities/751")
    assert r.status_code == 200
    assert r.get_json() == {"code": 751, "cvr": "55133018", "name": "Aarhus", "region": "Region Midtjylland",
                            "citizens": r.get_json()["citizens"]}
    assert r.get_json()["citizens"] > 300_000


def test_unknown_code_is_404(shared_client):
    r = shared_client.get("/api/v1/municipalities/999")
    assert r.status_code == 404
    assert r.get_json()["code"] == "municipality_not_found"


def test_search_finds_aarhus(shared_client):
    body = shared_client.get("/api/v1/municipalities?q=aarhus").get_json()
    assert body["items"][0]["code"] == 751


def test_search_folds_danish_letters_and_prefixes(shared_client):
    for q in ("århus", "Aar", "hoeje-taastrup", "Høje", "lyngby"):
        items = shared_client.get(f"/api/v1/municipalities?q={quote(q)}").get_json()["items"]
        assert items, f"nothing found for {q!r}"
    first = shared_client.get(f"/api/v1/municipalities?q={quote('århus')}").get_json()["items"][0]
    assert first["name"] == "Aarhus"
    first = shared_client.get(f"/api/v1/municipalities?q={quote('hoeje-taastrup')}").get_json()["items"][0]
    assert first["name"] == "Høje-Taastrup"


def test_search_by_cvr_and_code(shared_client):
    assert shared_client.get("/api/v1/municipalities?q=55133018").get_json()["items"][0]["code"] == 751
    assert shared_client.get("/api/v1/municipalities?q=101").get_json()["items"][0]["name"] == "København"


def test_region_filter(shared_client):
    body = shared_client.get("/api/v1/municipalities?region=Region%20Nordjylland&limit=100").get_json()
    assert body["total"] == 11
    assert {m["region"] for m in body["items"]} == {"Region Nordjylland"}


def test_cursor_paging_visits_every_municipality_once(shared_client):
    seen, cursor, pages = [], None, 0
    while True:
        url = "/api/v1/municipalities?limit=15" + (f"&cursor={cursor}" if cursor else "")
        body = shared_client.get(url).get_json()
        assert body["total"] == 98
        seen += [m["code"] for m in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 7
    assert len(seen) == len(set(seen)) == 98


def test_limit_is_bounded(shared_client):
    r = shared_client.get("/api/v1/municipalities?limit=501")
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "limit"


def test_validate_accepts_a_good_record_and_rejects_a_taken_cvr(shared_client):
    good = {"code": 751, "cvr": "55133018", "name": "Aarhus", "region": "Region Midtjylland", "citizens": 1}
    assert shared_client.post("/api/v1/municipalities/validate", json=good).status_code == 200
    r = shared_client.post("/api/v1/municipalities/validate", json={**good, "code": 752})
    assert r.status_code == 409
    assert r.get_json()["errors"][0]["field"] == "cvr"


def test_cli_load_is_idempotent_and_writes_nothing_when_unchanged(app):
    runner = app.test_cli_runner()
    with app.app_context(), get_db().transaction() as conn:
        before = conn.execute("SELECT count(*) AS n FROM search_outbox").fetchone()["n"]
    result = runner.invoke(args=["municipalities", "load"])
    assert result.exit_code == 0, result.output
    assert "0 inserted, 0 updated, 98 unchanged" in result.output
    with app.app_context(), get_db().transaction() as conn:
        assert conn.execute("SELECT count(*) AS n FROM search_outbox").fetchone()["n"] == before


def test_cli_set_change_becomes_searchable(app, client, deliver):
    deliver()
    result = app.test_cli_runner().invoke(args=["municipalities", "set", "751", "--name", "Aarhus Midtby"])
    assert result.exit_code == 0 and "updated" in result.output, result.output
    assert client.get("/api/v1/municipalities/751").get_json()["name"] == "Aarhus Midtby"  # PostgreSQL at once
    deliver()
    items = client.get("/api/v1/municipalities?q=midtby").get_json()["items"]
    assert [m["code"] for m in items] == [751]


def test_cli_set_rejects_invalid_values_and_writes_nothing(app):
    result = app.test_cli_runner().invoke(args=["municipalities", "set", "751", "--cvr", "12345678"])
    assert result.exit_code != 0
    assert "cvr" in result.output
    with app.app_context(), get_db().transaction() as conn:
        assert conn.execute("SELECT cvr FROM municipality WHERE code = 751").fetchone()["cvr"] == "55133018"


def test_cli_load_of_a_bad_file_loads_nothing(app, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("code,cvr,name,region,citizens\n"
                   "101,64942212,København Ny,Region Hovedstaden,1\n"
                   "102,1234,Nowhere,Region Atlantis,-5\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["municipalities", "load", "--file", str(bad)])
    assert result.exit_code != 0
    assert "line 3" in result.output
    with app.app_context(), get_db().transaction() as conn:
        assert conn.execute("SELECT name FROM municipality WHERE code = 101").fetchone()["name"] == "København"


def test_duplicate_cvr_is_refused_by_the_database(app):
    result = app.test_cli_runner().invoke(args=["municipalities", "set", "147", "--cvr", "64942212"])
    assert result.exit_code != 0
    with app.app_context():
        assert get_search() is not None
        with get_db().transaction() as conn:
            assert conn.execute("SELECT cvr FROM municipality WHERE code = 147").fetchone()["cvr"] == "11259979"


def test_demo_load_adds_only_what_is_missing(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["municipalities", "set", "751", "--name", "Aarhus (changed by an admin)"])
    with app.app_context(), get_db().transaction() as conn:
        conn.execute("DELETE FROM municipality WHERE code = 825")
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    assert "1 inserted, 0 updated, 97 unchanged" in result.output
    with app.app_context(), get_db().transaction() as conn:
        assert conn.execute("SELECT name FROM municipality WHERE code = 751").fetchone()["name"].endswith("admin)")
        assert conn.execute("SELECT 1 FROM municipality WHERE code = 825").fetchone()
