"""Elasticsearch killed in the middle of a bulk ingest of indexed records, then restarted: the bulk
answers as if nothing happened, and afterwards PostgreSQL and Elasticsearch hold the same records.

PostgreSQL is the system of record: a bulk request writes there only, and the search outbox
(migrations/0001) carries every change to Elasticsearch.  The test runs its own Elasticsearch node
(tests/elasticsearch_node.py) and the search indexer in a thread, as `make run` does, so records
flow to Elasticsearch while the bulk requests come in.  Midway the node's process gets SIGKILL (a
crash: no shutdown, no flush); the bulk requests go on, with updates and removals (through the bulk
and through the single-record routes), then the node starts again on the same data folder.  Once
the outbox is empty, every live record in PostgreSQL is in the index with its version and
changed_at, nothing else is, and the removed records are gone.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from app.bitemporal.periods import copenhagen_today
from app.db import get_db
from app.search import get_search
from classification.model import KLE_EMNEPLAN, KLE_HANDLINGSFACETTER
from indexes.search import KIND, load
from indexes.synthetic import generate
from tests.elasticsearch_node import indexer_thread, kill, own_node, pending, wait_for
from tests.indexes_world import IndexWorld, index_world

CITIZENS = 300  # about 3,000 records of the four kinds
CHUNK = 250  # lines per bulk request
YEARS = 3
SERVICE = {"sag": "sdi", "dokument": "sdi", "bevilling": "yi", "effektuering": "yi"}

# Codes of a facet valid over the whole period the synthetic records are dated in.
_CODES = """
    SELECT DISTINCT c.value #>> '{}' AS code FROM klasse_fact c
      JOIN klasse_fact f ON f.uuid = c.uuid AND f.field = 'facet' AND f.value #>> '{}' = %(facet)s
                        AND upper_inf(f.registration)
      JOIN klasse k ON k.uuid = c.uuid AND k.lifecycle NOT IN ('Passiveret', 'Slettet')
     WHERE c.field = 'user_key' AND upper_inf(c.registration) AND c.valid @> %(since)s::timestamptz
       AND c.valid @> now()
     ORDER BY 1
"""


@pytest.fixture
def own_elasticsearch(service_urls):
    with own_node() as node:
        yield node


def synthetic_records(iw: IndexWorld) -> list[dict]:
    today = copenhagen_today()
    since = today - timedelta(days=round(365.25 * YEARS) + 7)
    subjects = [r["code"] for r in iw.w.sql(_CODES, {"facet": KLE_EMNEPLAN, "since": since})
                if r["code"].count(".") == 2]
    facets = [r["code"] for r in iw.w.sql(_CODES, {"facet": KLE_HANDLINGSFACETTER, "since": since})
              if len(r["code"]) == 3]  # G01, not the category G
    assert len(subjects) >= 10 and facets
    units = [iw.org.ids[k] for k in ("R", "F", "A", "B", "C")]
    return list(generate(6, municipality_code=751, citizens=CITIZENS, kle_codes=subjects, action_facets=facets,
                         units=units, master_systems=[iw.ids["fag"]], today=today, years=YEARS))


def later(stamp: str, minutes: int = 1) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(minutes=minutes)).isoformat()


def post(iw: IndexWorld, service: str, lines: list[dict]):
    return iw.bulk(service, iw.token("fag", service), lines)


def answer(lines: list[dict], status: str = "accepted") -> dict:
    """What a bulk of good lines answers, Elasticsearch up or not: every line `status`, no errors."""
    counts = {s: 0 for s in ("accepted", "unchanged", "stale", "rejected")} | {status: len(lines)}
    return {**counts, "records": [{"line": n, "uuid": line["uuid"], "status": status, "errors": []}
                                  for n, line in enumerate(lines, 1)]}


def bulk_ok(iw: IndexWorld, service: str, lines: list[dict], status: str = "accepted") -> int:
    r = post(iw, service, lines)
    assert r.status_code == 200, r.get_data(as_text=True)[:2000]
    other = [a for a in r.get_json()["records"] if a["status"] != status]
    assert not other, other[:5]
    assert r.get_json() == answer(lines, status)
    return len(lines)


def chunks(records: list[dict]) -> list[tuple[str, list[dict]]]:
    """(service, lines) per request, the two services' requests interleaved."""
    per = {s: [r for r in records if SERVICE[r["kind"]] == s] for s in ("sdi", "yi")}
    out = {s: [(s, rs[i:i + CHUNK]) for i in range(0, len(rs), CHUNK)] for s, rs in per.items()}
    mixed = []
    for i in range(max(len(out["sdi"]), len(out["yi"]))):
        mixed += [c[i] for c in (out["sdi"], out["yi"]) if i < len(c)]
    return mixed


def es_records(search) -> dict[str, tuple[int, datetime]]:
    """uuid → (external version, changed_at) of every document in the index."""
    found: dict[str, tuple[int, datetime]] = {}
    after = None
    while True:
        body = search.client.search(index=search.alias(KIND), size=1000, version=True, sort=[{"uuid": "asc"}],
                                    source=["uuid", "changed_at"], query={"match_all": {}},
                                    **({"search_after": after} if after else {})).body
        hits = body["hits"]["hits"]
        if not hits:
            return found
        for h in hits:
            assert h["_id"] == h["_source"]["uuid"]
            found[h["_id"]] = (h["_version"], datetime.fromisoformat(h["_source"]["changed_at"]))
        after = hits[-1]["sort"]


def pg_records(iw: IndexWorld) -> dict[str, tuple[int, datetime]]:
    rows = iw.w.sql("SELECT uuid::text, search_version, changed_at FROM index_object WHERE removed_at IS NULL")
    return {r["uuid"]: (r["search_version"], r["changed_at"]) for r in rows}


@pytest.mark.slow
def test_a_bulk_ingest_survives_elasticsearch_being_killed_and_both_stores_agree_after(make_app,
                                                                                      own_elasticsearch):
    app = make_app(ELASTICSEARCH_URL=own_elasticsearch.url, SEARCH_REQUEST_TIMEOUT=10)
    iw = index_world(app)
    records = synthetic_records(iw)
    by_uuid = {r["uuid"]: r for r in records}
    requests = chunks(records)
    assert len(records) >= 2500 and len(requests) >= 10
    with app.app_context():
        search = get_search()
    accepted = 0
    with indexer_thread(app, batch_size=200):
        assert wait_for(lambda: pending(app) == 0, 60), "the organisation and KLE plan were not delivered"
        # Up: the first third, delivered as it comes in.
        third = len(requests) // 3
        for service, lines in requests[:third]:
            accepted += bulk_ok(iw, service, lines)

        def delivered() -> list[str]:
            search.client.indices.refresh(index=search.alias(KIND))
            return list(es_records(search))

        assert wait_for(lambda: len(delivered()) >= 600, 60), "the first records did not reach Elasticsearch"
        in_es = delivered()
        assert {by_uuid[u]["kind"] for u in in_es} == set(SERVICE)
        # One more request, and the node dies while the indexer is still at work on it.
        service, lines = requests[third]
        accepted += bulk_ok(iw, service, lines)
        kill(own_elasticsearch)
        assert not own_elasticsearch.healthy()
        assert pending(app) > 0  # that request was not delivered yet

        # Down: the rest of the ingest answers exactly as it would with the node up.
        for service, lines in requests[third + 1:]:
            accepted += bulk_ok(iw, service, lines)
        assert accepted == len(records)
        for service, lines in (requests[0], requests[-1]):  # sent again: all unchanged, nothing written
            bulk_ok(iw, service, lines, status="unchanged")

        # Updates and removals while down, of records Elasticsearch holds and of ones it never saw.
        seen = [by_uuid[u] for u in in_es]
        unseen = [r for _s, lines in requests[-2:] for r in lines]
        changes: dict[str, list[dict]] = {"sdi": [], "yi": []}
        updated, removed = {}, []
        for r in [*[r for r in seen if r["kind"] in ("sag", "bevilling")][:6],
                  *[r for r in unseen if r["kind"] in ("sag", "bevilling")][:6]]:
            field = "title" if r["kind"] == "sag" else "user_key"
            new = {**r, field: f"{r[field]} (rettet under nedbrud)", "changed_at": later(r["changed_at"])}
            changes[SERVICE[r["kind"]]].append(new)
            updated[r["uuid"]] = new
        for r in [*[r for r in seen if r["uuid"] not in updated][:6],
                  *[r for r in unseen if r["uuid"] not in updated][:6]]:
            changes[SERVICE[r["kind"]]].append({"kind": r["kind"], "op": "remove", "uuid": r["uuid"],
                                                "changed_at": later(r["changed_at"])})
            removed.append(r["uuid"])
        for service, lines in changes.items():
            accepted += bulk_ok(iw, service, lines)
        # ... and one each through the single-record routes.
        patched, deleted = (next(r for r in seen if r["kind"] == k and r["uuid"] not in updated and
                                 r["uuid"] not in removed) for k in ("dokument", "effektuering"))
        title = "Brev rettet under nedbrud"
        r = iw.call("patch", f"/api/v1/sdi/documents/{patched['uuid']}", iw.token("fag", "sdi"),
                    json={"title": title, "changed_at": later(patched["changed_at"])})
        assert r.status_code == 200 and r.get_json()["status"] == "accepted", r.get_json()
        r = iw.call("delete", f"/api/v1/yi/payments/{deleted['uuid']}", iw.token("fag", "yi"),
                    query_string={"changed_at": later(deleted["changed_at"])})
        assert r.status_code == 200 and r.get_json()["status"] == "accepted", r.get_json()
        accepted += 2
        removed.append(deleted["uuid"])
        assert pending(app) > 0  # the indexer keeps trying; the outbox keeps the changes

        # Nothing lost in PostgreSQL: a record per imported uuid, a registration per accepted line.
        assert iw.w.sql("SELECT count(*) AS n FROM index_object")[0]["n"] == len(records)
        assert iw.w.sql("SELECT count(*) AS n FROM index_registration")[0]["n"] == accepted

        # Back up on the same data folder: the outbox drains and both stores agree.
        own_elasticsearch.start()
        assert wait_for(lambda: pending(app) == 0, 90), "the outbox did not drain after Elasticsearch came back"
        search.client.indices.refresh(index=search.alias(KIND))
        in_pg, in_index = pg_records(iw), es_records(search)
        assert len(in_pg) == len(records) - len(removed)
        assert in_index == in_pg
        assert not set(removed) & set(in_index)
        # The changed records carry their new content: the documents the indexer makes of them now.
        changed = [*updated, patched["uuid"]]
        with app.app_context(), get_db().transaction() as conn:
            expected = load(conn, changed)
        docs = search.client.mget(index=search.alias(KIND), ids=changed).body["docs"]
        sources = {d["_id"]: (d["_version"], d["_source"]) for d in docs}
        assert sources == {u: (version, json.loads(json.dumps(doc))) for u, (version, doc) in expected.items()}
        assert sources[patched["uuid"]][1]["title"] == title
        assert all("rettet under nedbrud" in sources[u][1]["title"] for u in updated)

