"""An index built before the mapping had `kle_path` (mapping version 1) keeps answering, with the
same records, until `flask search reindex --outdated` has rebuilt it; new documents fit into it
meanwhile; afterwards the KLE constraints are term lookups on `kle_path`."""

from __future__ import annotations

import pytest

from app.db import get_db
from app.search import get_search, mapping_version_of
from indexes import search as index_search
from indexes.reads import access_filters
from tests.indexes_world import CPR_A, index_world

PARTY = f"urn:oio:cpr-nr:{CPR_A}"


def _downgrade(app) -> str:
    """Put a version-1 index (no kle_path field, documents without it) behind the alias."""
    search = get_search()
    alias, old = search.alias(index_search.KIND), f"{search.alias(index_search.KIND)}-v1-19990101000000000000"
    mappings = {**index_search.MAPPINGS, "properties": {
        k: v for k, v in index_search.MAPPINGS["properties"].items() if k != "kle_path"}}
    search.client.indices.create(index=old, mappings=mappings, settings={"number_of_shards": 1,
                                                                         "number_of_replicas": 0})
    with get_db().transaction() as conn:
        docs = index_search.scan(conn, None, 1000)
    ops = []
    for key, version, doc in docs:
        ops += [{"index": {"_index": old, "_id": key, "version": version, "version_type": "external"}},
                {k: v for k, v in doc.items() if k != "kle_path"}]
    assert not search.client.bulk(operations=ops, refresh=True)["errors"]
    current = search.alias_target(index_search.KIND)
    search.client.indices.update_aliases(actions=[{"remove": {"index": current, "alias": alias}},
                                                  {"add": {"index": old, "alias": alias}}])
    search.client.indices.delete(index=current)
    search.forget_live_version(index_search.KIND)
    return old


def titles(iw, token) -> list[str]:
    r = iw.call("post", "/api/v1/sdi/overview", token, json={"party": PARTY})
    assert r.status_code == 200, r.get_json()
    return sorted(i["title"] for i in r.get_json()["items"])


@pytest.fixture
def iw(app, deliver):
    iw = index_world(app)
    records = [iw.case("c27"), iw.case("c32", primary_class="32.01.02"), iw.case("c17", primary_class="17")]
    r = iw.bulk("sdi", iw.token("fag", "sdi"), [{"kind": "sag", **x} for x in records])
    assert r.get_json()["accepted"] == 3, r.get_json()
    deliver()
    iw.system("r27", "sdi", roles=("read",), kle=["27.*"])
    iw.system("r32", "sdi", roles=("read",), kle=["32.01.*", "17"])
    return iw


def test_reads_are_the_same_before_and_after_the_rebuild_and_new_documents_fit(app, iw, deliver):
    with app.app_context():
        old = _downgrade(app)
        search = get_search()
        assert search.live_version(index_search.KIND) == 1 and search.outdated() == [index_search.KIND]
        assert titles(iw, iw.token("r27", "sdi")) == ["Sag c27"]
        assert titles(iw, iw.token("r32", "sdi")) == ["Sag c17", "Sag c32"]

        # A write now: the indexer extends the old mapping and the document (with kle_path) fits.
        r = iw.bulk("sdi", iw.token("fag", "sdi"), [{"kind": "sag", **iw.case("c27b", primary_class="27.01")}])
        assert r.get_json()["accepted"] == 1, r.get_json()
        deliver()
        assert search.alias_target(index_search.KIND) == old
        assert titles(iw, iw.token("r27", "sdi")) == ["Sag c27", "Sag c27b"]

        # One record a page, so the rebuild pages by its cursor (indexes/search.py scan).
        result = app.test_cli_runner().invoke(args=["search", "reindex", "--outdated", "--batch-size", "1"])
        assert result.exit_code == 0, result.output
        assert mapping_version_of(search.alias_target(index_search.KIND)) == index_search.MAPPING_VERSION
        assert search.live_version(index_search.KIND) == index_search.MAPPING_VERSION and search.outdated() == []
        assert titles(iw, iw.token("r27", "sdi")) == ["Sag c27", "Sag c27b"]
        assert titles(iw, iw.token("r32", "sdi")) == ["Sag c17", "Sag c32"]
        again = app.test_cli_runner().invoke(args=["search", "reindex", "--outdated"])
        assert "every index has the current mapping version" in again.output


def test_the_filters_use_kle_path_only_on_a_rebuilt_index():
    privileges = [[{"kle": ["27.*"]}]]
    assert '"prefix"' not in str(access_filters(privileges)).replace("'", '"')
    assert '"prefix"' in str(access_filters(privileges, kle_path=False)).replace("'", '"')
