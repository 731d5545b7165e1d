"""Read routes of both index services: a party's overview, free-text search with facets, one record
with its related records, and "changed since" for reconciliation.

Every answer is limited in its query to the caller's municipality and to what the agreement's
data constraints (and, for a system acting for a user, the user's privileges) allow: KLE subjects,
org units with their subtrees, sensitivity up to a level, IT systems.  Lists, totals, facets and
amount sums are computed over the allowed records only.  Parties' CPR numbers are shown only with
see_cpr and names only with see_name; every person an answer is about is access-logged.
"""

from __future__ import annotations

import uuid as uuidlib
from decimal import Decimal
from typing import Any

from flask import jsonify
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from app.paging import MAX_LIMIT, decode_search_after, decode_typed_cursor, encode_cursor
from app.search import get_search
from authz.catalogue import Sensitivity
from authz.constraints import allows
from indexes import reads, records
from indexes.api import SERVICES, Service, filters, municipality
from indexes.identifiers import normalise_urn, urn_problem
from indexes.references import References
from indexes.search import AMOUNTS, KIND, KLE_PATH_SINCE
from organisation.personal import visibility

SCORE = (int, float)
SORT_SHAPE = ((int,), (str,))  # reads.SORT: sort_date as epoch milliseconds (a long also when missing), uuid


class _IndexWindow(Schema):
    kinds = fields.List(fields.String(), metadata={"description": "Only these record kinds (default: all of "
                                                                  "the service's)."})
    from_ = fields.Date(data_key="from", metadata={"description": "Records dated on or after this day."})
    to = fields.Date(metadata={"description": "Records dated before this day (exclusive)."})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(validate=validate.Length(max=2000))

    @validates_schema
    def _order(self, data, **_kw):
        if data.get("from_") and data.get("to") and data["to"] <= data["from_"]:
            raise ValidationError({"to": ["Must be after `from` (the window is [from, to))."]})


class IndexOverviewSchema(_IndexWindow):
    party = fields.String(required=True, metadata={"description": "The party's URN, e.g. urn:oio:cpr-nr:0101011234."})
    totals = fields.String(validate=validate.OneOf(["month", "year"]),
                           metadata={"description": "Benefit index: add payment totals per month or year."})

    @validates_schema
    def _party(self, data, **_kw):
        problem = urn_problem(data.get("party", ""))
        if problem:
            raise ValidationError({"party": [problem]})

    @post_load
    def _normalise(self, data, **_kw):
        data["party"] = normalise_urn(data["party"])  # the one spelling records are indexed under
        return data


class IndexSearchSchema(_IndexWindow):
    q = fields.String(validate=validate.Length(max=200), metadata={"description": "Words of the title, number "
                                                                                "or description."})
    kle = fields.String(validate=validate.Regexp(r"^\d\d(\.\d\d){0,2}(\.\*)?$"),
                        metadata={"description": "A KLE subject and everything under it (27.35 or 27.35.*)."})
    state = fields.String(validate=validate.OneOf(["Opstaaet", "Oplyst", "Afgjort", "Afsluttet"]))
    sensitivity = fields.String(validate=validate.OneOf([s.value for s in Sensitivity]))
    unit = fields.UUID(metadata={"description": "Exactly this responsible unit."})
    under = fields.UUID(metadata={"description": "This unit and every unit below it."})


class IndexChangesArgs(Schema):
    cursor = fields.String(validate=validate.Length(max=2000))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


def _kinds(svc: Service, asked: list[str] | None) -> list[str]:
    allowed = list(svc.record_kinds)
    for i, k in enumerate(asked or []):
        if k not in allowed:
            raise Problem(422, "validation_failed", f"{k} is not a kind of this service.",
                          errors=[field_error("json", f"kinds.{i}", f"One of {', '.join(allowed)}.")])
    return list(asked or allowed)


def _page(result: dict, limit: int, parties: reads.Parties) -> dict[str, Any]:
    hits = result["hits"]["hits"]
    items = []
    for hit in hits[:limit]:
        s = dict(hit["_source"]["summary"])
        s["parties"] = parties.shown(s.get("parties") or [])
        items.append(s)
    more = len(hits) > limit
    return {"items": items, "total": result["hits"]["total"]["value"],
            "next_cursor": encode_cursor(hits[limit - 1]["sort"]) if more else None}


def _kle_path() -> bool:
    """Whether the live index has `kle_path` in every document (not before its rebuild after an upgrade)."""
    return (get_search().live_version(KIND) or 0) >= KLE_PATH_SINCE


def _amounts(bucket: dict) -> dict[str, Any]:
    return {name: f"{Decimal(int(bucket[name]['value'])) / 100:.2f}" for name in AMOUNTS}


def _register(svc: Service) -> None:
    blp, op = svc.blp, svc.code

    @blp.route("/overview", endpoint=f"{op}_overview")
    class Overview(MethodView):
        @svc.read
        @blp.arguments(IndexOverviewSchema())  # an instance: not built again for every request
        @blp.response(200)
        @blp.alt_response(422, **problem_doc("A bad URN, kind, window or cursor."))
        def post(self, body):
            """Everything about one party (citizen or company) that the caller may see, newest first.

            Cursor-paged; `total` and the per-kind counts are over the allowed records only.  The
            benefit index adds, with `totals`, the sums of the payments per month or year.  The party
            is sent in the body, never in the URL, so CPR numbers stay out of logs of proxies.
            """
            kinds = _kinds(svc, body.get("kinds"))
            args = {**body, "from": body.get("from_"), "after": decode_search_after(body.get("cursor"), *SORT_SHAPE),
                    "kle_path": _kle_path()}
            totals = body.get("totals") if op == "yi" else None
            es = get_search().search("indeks", **reads.overview_body(municipality(), kinds, filters(), args,
                                                                     totals=totals))
            parties = reads.Parties(f"{op}.overview", visibility())
            parties.about(body["party"])
            page = _page(es, body["limit"], parties)
            page["kinds"] = {b["key"]: b["doc_count"] for b in es["aggregations"]["kinds"]["buckets"]}
            if totals:
                pay = es["aggregations"]["payments"]
                page["totals"] = {**_amounts(pay), "payments": pay["doc_count"], "per_period": [
                    {"period": b["key_as_string"], "payments": b["doc_count"], **_amounts(b)}
                    for b in pay["per_period"]["buckets"]]}
            parties.record()
            return jsonify(page)

    @blp.route("/search", endpoint=f"{op}_search")
    class Search(MethodView):
        @svc.read
        @blp.arguments(IndexSearchSchema())
        @blp.response(200)
        @blp.alt_response(422, **problem_doc("A bad filter or cursor."))
        def post(self, body):
            """Free-text search with facets (KLE main group, progress state, sensitivity, unit, year, kind).

            Facets count allowed records only.  Cursor-paged by relevance, then newest first.
            """
            kinds = _kinds(svc, body.get("kinds"))
            after = decode_search_after(body.get("cursor"), SCORE, *SORT_SHAPE)
            args = {**body, "from": body.get("from_"), "after": after, "kle_path": _kle_path()}
            es = get_search().search("indeks", **reads.search_body(municipality(), kinds, filters(), args))
            parties = reads.Parties(f"{op}.search", visibility())
            page = _page(es, body["limit"], parties)
            page["facets"] = reads.facets(es["aggregations"])
            parties.record()
            return jsonify(page)

    @blp.route("/changes", endpoint=f"{op}_changes")
    class Changes(MethodView):
        @svc.read
        @blp.arguments(IndexChangesArgs, location="query")
        @blp.response(200)
        def get(self, args):
            """Changed since: every record written after the cursor, for reconciliation.

            In the order of the writing transactions; a page never skips a transaction that commits
            late.  Removed records appear as {uuid, kind, removed: true}.  Keep `next_cursor` and ask
            again later; an empty page returns the cursor it was given (null: start from the beginning).
            Writes show here once every transaction older than them on the database server has ended.
            """
            after = decode_typed_cursor(args.get("cursor"), _xid, lambda v: str(uuidlib.UUID(v)))
            rows = reads.changes(get_conn(), municipality(), list(svc.record_kinds), filters(),
                                 after=after, limit=args["limit"])
            parties = reads.Parties(f"{op}.changes", visibility())
            items = [_detail(r, parties) if r["removed_at"] is None else
                     {"uuid": r["uuid"], "kind": r["kind"], "removed": True, "changed_at": r["changed_at"].isoformat()}
                     for r in rows]
            cursor = encode_cursor([rows[-1]["xid"], rows[-1]["uuid"]]) if rows else args.get("cursor")
            parties.record()
            return jsonify({"items": items, "next_cursor": cursor})

    for plural, kind in svc.kinds.items():
        _record_route(svc, plural, kind)
    del Overview, Search, Changes


def _allowed(kind: str, record: dict, refs: References) -> bool:
    """An earlier version of a record judged by the caller's constraints as if it were current."""
    unit = records.unit_of(record)
    case = {"kle": record.get("primary_class"), "unit": unit, "unit_path": refs.path(unit),
            "sensitivity": record.get("sensitivity"), "it_system": record.get("master_system")}
    return all(allows(privileges, case) for privileges in filters())


def _xid(value: Any) -> str:
    """A changes cursor's transaction id: ASCII digits of an xid8 (below 2**64), as the database wrote it."""
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and int(value) < 2**64):
        raise ValueError("not a transaction id")
    return value


def _detail(row: dict, parties: reads.Parties) -> dict[str, Any]:
    record = dict(row["record"])
    record["parties"] = parties.shown(record.get("parties") or [])
    return {"uuid": row["uuid"], "kind": row["kind"], "registration_no": row["registration_no"],
            "changed_at": row["changed_at"].isoformat(), "removed": False, "record": record}


RELATED = {"sag": ("documents", "dokument", "document", "case"),
           "bevilling": ("payments", "effektuering", "payment", "grant"),
           "dokument": ("cases", "sag", "case", "document")}


def _record_route(svc: Service, plural: str, kind: str) -> None:
    blp = svc.blp

    @blp.route(f"/{plural}/<uuid:record_uuid>", endpoint=f"{svc.code}_{plural}_read")
    class Read(MethodView):
        @svc.read
        @blp.response(200)
        @blp.alt_response(404, **problem_doc("No such record, or not one the caller may see."))
        def get(self, record_uuid):
            """One record as last sent, with its related records (a case's documents, a grant's payments,
            a document's cases) that the caller may see."""
            conn, m, prv = get_conn(), municipality(), filters()
            rows = reads.records(conn, m, [kind], prv, [str(record_uuid)])
            if not rows:
                raise Problem(404, "not_found", f"No {kind} {record_uuid} that this caller may see.")
            parties = reads.Parties(f"{svc.code}.read", visibility())
            out = _detail(rows[0], parties)
            if kind in RELATED:
                name, other, out_rel, back_rel = RELATED[kind]
                if kind == "bevilling":  # payments name their grant; a grant does not list them
                    out_rel = "none"
                found = reads.related(conn, m, other, prv, str(record_uuid), out=out_rel, back=back_rel)
                out[name] = [_detail(r, parties) for r in found]
            parties.record()
            return jsonify(out)

    @blp.route(f"/{plural}/<uuid:record_uuid>/registrations", endpoint=f"{svc.code}_{plural}_registrations")
    class Registrations(MethodView):
        @svc.read
        @blp.response(200)
        @blp.alt_response(404, **problem_doc("No such record, or not one the caller may see."))
        def get(self, record_uuid):
            """The record's registration history: every version the index accepted, when, from which
            system and by which operation, oldest first (the data of removed records is gone).

            A version the caller's constraints would not allow today (another unit, a higher
            sensitivity, another KLE subject) is listed without its record (`omitted: true`).
            """
            conn, uuid = get_conn(), str(record_uuid)
            if not reads.records(conn, municipality(), [kind], filters(), [uuid]):
                raise Problem(404, "not_found", f"No {kind} {record_uuid} that this caller may see.")
            parties = reads.Parties(f"{svc.code}.registrations", visibility())
            rows = reads.registrations(conn, uuid)
            refs = References.named(conn, municipality(), [r["record"] for r in rows if r["record"]])
            items = []
            for r in rows:
                record = dict(r["record"]) if r["record"] else None
                hidden = record is not None and not _allowed(kind, record, refs)
                if record and not hidden:
                    record["parties"] = parties.shown(record.get("parties") or [])
                items.append({**r, "registered_from": r["registered_from"].isoformat(),
                              "registered_to": r["registered_to"].isoformat() if r["registered_to"] else None,
                              "changed_at": r["changed_at"].isoformat(), "record": None if hidden else record,
                              "omitted": hidden})
            parties.record()
            return jsonify({"uuid": uuid, "kind": kind, "items": items})

    del Read, Registrations


for _svc in SERVICES:
    _register(_svc)
