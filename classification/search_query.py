"""The class search query (used by GET /api/v1/klassifikation/search)."""

from __future__ import annotations

from typing import Any

from app.bitemporal.periods import copenhagen_today, local_midnight
from app.paging import decode_search_after, encode_cursor
from app.search import SearchService
from app.search.text import fold
from classification.search import KIND

FIELDS = ("uuid", "code", "title", "level", "facet", "parent", "search_words")


def query_body(args: dict[str, Any]) -> dict[str, Any]:
    """The Elasticsearch query for search arguments (also used by bench/ for the raw comparison)."""
    day = local_midnight(args.get("valid_on") or copenhagen_today()).isoformat()
    filters: list[dict] = [
        {"term": {"published": args.get("published", "Publiceret")}},
        {"terms": {"lifecycle": ["Opstaaet", "Importeret", "Rettet"]}},
        {"range": {"valid": {"gte": day, "lte": day, "relation": "contains"}}},
    ]
    if args.get("municipality") is not None:  # national classes and the caller's own local ones
        filters.append({"bool": {"should": [
            {"bool": {"must_not": {"exists": {"field": "municipality_code"}}}},
            {"term": {"municipality_code": args["municipality"]}}], "minimum_should_match": 1}})
    if args.get("facet"):
        filters.append({"term": {"facet": str(args["facet"])}})
    if args.get("code"):
        filters.append({"prefix": {"code": args["code"]}})
    must: list[dict] = []
    if args.get("q"):
        q = args["q"]
        must.append({"bool": {"should": [
            {"multi_match": {"query": q, "type": "bool_prefix",
                             "fields": ["title^3", "search_words^2", "guidance"]}},
            {"multi_match": {"query": fold(q), "type": "bool_prefix",
                             "fields": ["title_folded^2", "search_words_folded"]}},
            {"prefix": {"code": {"value": q, "boost": 4}}},
        ], "minimum_should_match": 1}})
    return {"query": {"bool": {"must": must, "filter": filters}}, "_source": list(FIELDS),
            "sort": [{"_score": "desc"}, {"code": "asc"}], "track_total_hits": True}


def search_classes(search: SearchService, args: dict[str, Any]) -> dict[str, Any]:
    body = query_body(args)
    body["size"] = args["limit"] + 1
    after = decode_search_after(args.get("cursor"), (int, float), (str,))  # _score, code
    if after is not None:
        body["search_after"] = after
    result = search.search(KIND, **body)
    hits = result["hits"]["hits"]
    page = hits[:args["limit"]]
    return {"items": [{k: h["_source"].get(k) for k in FIELDS} for h in page],
            "total": result["hits"]["total"]["value"],
            "next_cursor": encode_cursor(page[-1]["sort"]) if len(hits) > args["limit"] else None}
