"""The unit and user search query (GET /api/v1/organisation/search; bench/ sends the same body raw).

Always limited to one municipality, to active objects and to objects that
exist on `valid_on` (default today).  Callers who may not see person names
get user hits without `name`, and their text query matches the user key only:
matching names they are not shown would still tell them who is there.  For
the same reason their user pages are sorted by user key, not by name (a
cursor carries the sort values of the last hit).
"""

from __future__ import annotations

from typing import Any

from app.bitemporal.periods import copenhagen_today, local_midnight
from app.paging import decode_search_after, encode_cursor
from app.search import SearchService
from app.search.text import fold
from organisation.search import UNIT_KIND, USER_KIND

KINDS = {"unit": UNIT_KIND, "user": USER_KIND}
FIELDS = {"unit": ("uuid", "user_key", "name", "unit_type", "parent"), "user": ("uuid", "user_key", "name", "person")}
UNIT_FIELD = {"unit": "unit", "user": "units"}  # the field the org-unit constraints' exact match uses
ACTIVE = ["Opstaaet", "Importeret", "Rettet"]


def _text(q: str, kind: str, see_names: bool) -> dict[str, Any]:
    should: list[dict] = [{"prefix": {"user_key": {"value": q, "case_insensitive": True, "boost": 4}}}]
    if kind == "unit" or see_names:
        should += [
            {"multi_match": {"query": q, "type": "bool_prefix", "operator": "and",
                             "fields": ["name^3", "addresses"]}},
            {"multi_match": {"query": fold(q), "type": "bool_prefix", "operator": "and",
                             "fields": ["name_folded^2", "addresses_folded"]}},
        ]
    if kind == "unit":
        should.append({"term": {"kle": {"value": q, "boost": 2}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def sort_of(kind: str, see_names: bool) -> list[dict[str, Any]]:
    by = {"name.sort": {"order": "asc", "missing": "_last"}} if kind == "unit" or see_names else {"user_key": "asc"}
    return [{"_score": "desc"}, by, {"uuid": "asc"}]


def query_body(args: dict[str, Any], *, see_names: bool = True, filters: list[dict] | tuple = ()) -> dict[str, Any]:
    """The Elasticsearch body for search arguments: `kind` (unit|user), `municipality` (required),
    `q`, `unit_type`, `kle` (code or prefix, `27.35` or `27.35.*`), `under` (a unit: its subtree),
    `valid_on`; `filters` are further filter queries (the caller's org-unit constraints)."""
    kind = args.get("kind", "unit")
    day = local_midnight(args.get("valid_on") or copenhagen_today()).isoformat()
    must_filter: list[dict] = [
        {"term": {"municipality_code": int(args["municipality"])}},
        {"terms": {"lifecycle": ACTIVE}},
        {"range": {"valid": {"gte": day, "lte": day, "relation": "contains"}}},
        *filters,
    ]
    if args.get("unit_type"):
        must_filter.append({"term": {"unit_type": args["unit_type"]}})
    if args.get("kle") == "*":  # any task at all
        must_filter.append({"exists": {"field": "kle"}})
    elif args.get("kle"):  # the documents hold every prefix of their codes: a term query is a prefix match
        must_filter.append({"term": {"kle": args["kle"].removesuffix(".*")}})
    if args.get("under"):
        must_filter.append({"term": {"unit_path": str(args["under"])}})
    must = [_text(args["q"], kind, see_names)] if args.get("q") else []
    fields = _shown(kind, see_names)
    return {"query": {"bool": {"must": must, "filter": must_filter}}, "_source": fields,
            "sort": sort_of(kind, see_names), "track_total_hits": True}


def _shown(kind: str, see_names: bool) -> list[str]:
    return [f for f in FIELDS[kind] if f != "name" or kind == "unit" or see_names]


def _cursor(cursor: str | None) -> list[Any] | None:
    return decode_search_after(cursor, (int, float), (str, type(None)), (str,))


def search_organisation(search: SearchService, args: dict[str, Any], *, see_names: bool,
                        filters: list[dict] | tuple = ()) -> dict[str, Any]:
    """One page: {items, total, next_cursor}; user items without `name` unless `see_names`."""
    kind = args.get("kind", "unit")
    body = query_body(args, see_names=see_names, filters=filters)
    body["size"] = args["limit"] + 1
    after = _cursor(args.get("cursor"))
    if after is not None:
        body["search_after"] = after
    result = search.search(KINDS[kind], **body)
    hits = result["hits"]["hits"]
    page = hits[:args["limit"]]
    shown = _shown(kind, see_names)
    return {"items": [{k: h["_source"].get(k) for k in shown} for h in page],
            "total": result["hits"]["total"]["value"],
            "next_cursor": encode_cursor(page[-1]["sort"]) if len(hits) > args["limit"] else None}
