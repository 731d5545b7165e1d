"""The read queries of both index services, always filtered in the query by the caller's access.

- `overview_body` / `search_body`: Elasticsearch bodies (one party's records; free text with
  facets).  The access filters (`authz.constraints.es_filter`, one per privilege list the caller
  must satisfy) sit in the bool filter, so hits, totals, facets and amount totals are all computed
  over what the caller may see and nothing else.
- `records` / `related` / `changes`: PostgreSQL reads with `authz.constraints.sql_condition` in
  the WHERE clause.
- `Parties`: what an answer shows of its parties (CPR numbers only with see_cpr, names only with
  see_name) and the access log of the persons it shows.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
import psycopg
from psycopg import sql

from authz import access_log
from authz.constraints import es_filter, sql_condition
from indexes.search import AMOUNTS
from organisation.personal import Visibility

FIELDS = {"kle": "kle", "kle_path": "kle_path", "unit": "unit", "unit_path": "unit_path", "sensitivity": "sensitivity",
          "it_system": "master_system"}
CPR_PREFIX = "urn:oio:cpr-nr:"
COMPANY_PREFIXES = ("urn:oio:cvr-nr:", "urn:oio:p-nr:")
FACETS = {"kle_main": {"terms": {"field": "kle_main", "size": 100}},
          "state": {"terms": {"field": "state", "size": 10}},
          "sensitivity": {"terms": {"field": "sensitivity", "size": 4}},
          "unit": {"terms": {"field": "unit", "size": 50}},
          "kind": {"terms": {"field": "kind", "size": 4}},
          "year": {"date_histogram": {"field": "sort_date", "calendar_interval": "year", "format": "yyyy",
                                      "min_doc_count": 1}}}
SORT = [{"sort_date": {"order": "desc", "missing": "_last"}}, {"uuid": "asc"}]


def access_filters(privilege_lists: list[list[dict]], *, kle_path: bool = True) -> list[dict]:
    """The access filters; `kle_path=False` for an index built before it had `kle_path` (prefix
    queries on `kle` instead: the same records, more slowly).

    A caller sends the same privileges with every request, so their filters are kept, by their
    JSON, for the next one (compiling an agreement's constraints costs more than the rest of the
    query's body).  The filters returned are shared: put them into a body, never change them."""
    return list(_filters(orjson.dumps(privilege_lists, option=orjson.OPT_SORT_KEYS), kle_path))


@lru_cache(maxsize=512)
def _filters(privilege_lists: bytes, kle_path: bool) -> tuple[dict, ...]:
    fields = FIELDS if kle_path else {k: v for k, v in FIELDS.items() if k != "kle_path"}
    return tuple(es_filter(p, **fields) for p in orjson.loads(privilege_lists))


def _base(municipality_code: int, kinds: list[str], privilege_lists: list[list[dict]], args: dict) -> list[dict]:
    out: list[dict] = [{"term": {"municipality_code": municipality_code}}, {"terms": {"kind": kinds}},
                       *access_filters(privilege_lists, kle_path=args.get("kle_path", True))]
    window = {k: v.isoformat() for k, v in (("gte", args.get("from")), ("lt", args.get("to"))) if v}
    if window:
        out.append({"range": {"sort_date": window}})
    return out


def overview_body(municipality_code: int, kinds: list[str], privilege_lists: list[list[dict]], args: dict, *,
                  totals: str | None = None) -> dict[str, Any]:
    """One party's records, newest first, keyset-paged; `totals` (month | year) adds amount totals
    of payments per period."""
    body: dict[str, Any] = {
        "query": {"bool": {"filter": [*_base(municipality_code, kinds, privilege_lists, args),
                                      {"term": {"parties": args["party"]}}]}},
        "sort": SORT, "size": args["limit"] + 1, "_source": ["summary"], "track_total_hits": True,
        "aggs": {"kinds": {"terms": {"field": "kind", "size": 4}}}}
    if args.get("after"):
        body["search_after"] = args["after"]
    if totals:
        sums = {name: {"sum": {"field": cents}} for name, cents in AMOUNTS.items()}
        body["aggs"]["payments"] = {"filter": {"term": {"kind": "effektuering"}}, "aggs": {
            **sums, "per_period": {"date_histogram": {"field": "sort_date", "calendar_interval": totals,
                                                      "format": "yyyy-MM" if totals == "month" else "yyyy",
                                                      "min_doc_count": 1}, "aggs": sums}}}
    return body


def search_body(municipality_code: int, kinds: list[str], privilege_lists: list[list[dict]],
                args: dict) -> dict[str, Any]:
    """Free text over titles, numbers and descriptions with facets; the filters narrow it."""
    flt = _base(municipality_code, kinds, privilege_lists, args)
    if args.get("kle"):
        code = args["kle"].removesuffix(".*")
        flt.append({"bool": {"should": [{"term": {"kle": code}}, {"prefix": {"kle": code + "."}}],
                             "minimum_should_match": 1}})
    for name in ("state", "sensitivity", "unit"):
        if args.get(name):
            flt.append({"term": {name: str(args[name])}})
    if args.get("under"):
        flt.append({"term": {"unit_path": str(args["under"])}})
    must = [{"multi_match": {"query": args["q"], "fields": ["title^3", "number^4", "text"],
                             "operator": "and"}}] if args.get("q") else []
    body: dict[str, Any] = {"query": {"bool": {"must": must, "filter": flt}},
                            "sort": [{"_score": "desc"}, *SORT], "size": args["limit"] + 1,
                            "_source": ["summary"], "track_total_hits": True, "aggs": FACETS}
    if args.get("after"):
        body["search_after"] = args["after"]
    return body


def facets(aggs: dict) -> dict[str, list[dict]]:
    return {name: [{"value": b.get("key_as_string", b["key"]), "count": b["doc_count"]}
                   for b in aggs[name]["buckets"]] for name in FACETS if name in aggs}


# -- PostgreSQL --------------------------------------------------------------------------------------


def access_condition(privilege_lists: list[list[dict]]) -> tuple[sql.Composable, dict]:
    """The SQL condition on index_object `o` that every privilege list must allow (and its parameters);
    also used by distribution/ for the records' events and snapshot."""
    parts, params = [], {}
    for i, privileges in enumerate(privilege_lists):
        cond, p = sql_condition(privileges, kle="o.kle", unit="o.unit", unit_path="o.unit_path",
                                sensitivity="o.sensitivity", it_system="o.master_system", param_prefix=f"a{i}")
        parts.append(cond)
        params.update(p)
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")), params


_RECORDS = """
    SELECT o.uuid::text AS uuid, o.kind, o.record, o.registration_no, o.changed_at, o.updated_at
      FROM index_object o
     WHERE o.municipality_code = %(m)s AND o.removed_at IS NULL AND o.kind = ANY(%(kinds)s) AND {where} AND {access}
     ORDER BY o.sort_date DESC NULLS LAST, o.uuid
"""


def records(conn: psycopg.Connection, municipality_code: int, kinds: list[str], privilege_lists: list[list[dict]],
            uuids: list[str]) -> list[dict]:
    access, params = access_condition(privilege_lists)
    query = sql.SQL(_RECORDS).format(where=sql.SQL("o.uuid = ANY(%(u)s::uuid[])"), access=access)
    return conn.execute(query, {"m": municipality_code, "kinds": kinds, "u": uuids, **params}).fetchall()


_RELATED = """
    SELECT r.to_uuid FROM index_relation r WHERE r.from_uuid = %(u)s AND r.relation = %(out)s
    UNION
    SELECT r.from_uuid FROM index_relation r WHERE r.to_uuid = %(u)s AND r.relation = %(back)s
"""


def related(conn: psycopg.Connection, municipality_code: int, kind: str, privilege_lists: list[list[dict]],
            uuid: str, *, out: str, back: str) -> list[dict]:
    """The records of `kind` related to `uuid` either way (a case's documents: the case lists them
    or they name the case), filtered by access like any read."""
    access, params = access_condition(privilege_lists)
    query = sql.SQL(_RECORDS).format(where=sql.SQL("o.uuid IN (" + _RELATED + ")"), access=access)
    return conn.execute(query, {"m": municipality_code, "kinds": [kind], "u": uuid, "out": out, "back": back,
                                **params}).fetchall()


_REGISTRATIONS = """
    SELECT g.no, lower(g.registered) AS registered_from, upper(g.registered) AS registered_to, g.changed_at,
           g.operation, g.system_id::text AS system_id,
           CASE WHEN upper_inf(g.registered) THEN o.record ELSE g.record END AS record
      FROM index_registration g JOIN index_object o ON o.uuid = g.uuid
     WHERE g.uuid = %(u)s ORDER BY g.no
"""


def registrations(conn: psycopg.Connection, uuid: str) -> list[dict]:
    """When the index learned what about one record (call after `records` has shown it is visible)."""
    return conn.execute(_REGISTRATIONS, {"u": uuid}).fetchall()


_CHANGES = """
    SELECT o.uuid::text AS uuid, o.kind, o.changed_at, o.removed_at, o.registration_no, o.changed_xid::text AS xid,
           CASE WHEN o.removed_at IS NULL THEN o.record END AS record
      FROM index_object o
     WHERE o.municipality_code = %(m)s AND o.kind = ANY(%(kinds)s)
       AND o.changed_xid < pg_snapshot_xmin(pg_current_snapshot())
       AND (o.changed_xid, o.uuid) > (%(xid)s::xid8, %(after)s::uuid)
       AND (o.removed_at IS NOT NULL OR {access})
     ORDER BY o.changed_xid, o.uuid LIMIT %(limit)s
"""


def changes(conn: psycopg.Connection, municipality_code: int, kinds: list[str], privilege_lists: list[list[dict]],
            *, after: tuple[str, str] | None, limit: int) -> list[dict]:
    """Records changed after the cursor, in the order of the transactions that wrote them.

    Only writes of transactions older than every transaction still running are listed, so a
    transaction that commits late is listed after, never skipped.  Removals are listed (uuid and
    kind only) whatever the constraints: they show no data."""
    access, params = access_condition(privilege_lists)
    xid, uuid = after or ("0", "00000000-0000-0000-0000-000000000000")
    return conn.execute(sql.SQL(_CHANGES).format(access=access),
                        {"m": municipality_code, "kinds": kinds, "xid": xid, "after": uuid, "limit": limit,
                         **params}).fetchall()


class Parties:
    """Parties as the caller may see them, and the persons shown, logged once per answer."""

    def __init__(self, operation: str, vis: Visibility):
        self.operation, self.vis, self.persons = operation, vis, []

    def shown(self, parties: list[dict]) -> list[dict]:
        """The parties of one returned record as the caller may see them.  Every citizen party is
        logged, shown or not: the record returned is data about them either way."""
        out = []
        for p in parties:
            urn, name, omitted = p.get("urn"), p.get("name"), []
            if urn and urn.startswith(CPR_PREFIX):
                self.persons.append(urn)
                if not self.vis.cpr:
                    urn, omitted = None, ["urn"]
            # Companies' names (CVR, P-number) are not personal data; any other party may be a person.
            if name and not self.vis.name and not (urn or p.get("urn") or "").startswith(COMPANY_PREFIXES):
                name, omitted = None, [*omitted, "name"]
            out.append({"urn": urn, "role": p.get("role"), "name": name, "omitted": omitted})
        return out

    def about(self, urn: str) -> None:
        """The answer is about this party (an overview asked for by CPR number)."""
        if urn.startswith(CPR_PREFIX):
            self.persons.append(urn)

    def record(self) -> None:
        access_log.record(self.operation, self.persons)
