"""Records mutated field by field: every field of a real record set to each of a list of bad values.

Schemathesis cannot write JSON-lines bodies and rarely reaches deep fields of a valid record, so
this pass starts from good records (a case, a document, a grant and a payment read back through the
changes feed of the demo data; an Organisation unit and user built here) and changes one field at a
time (or removes it), then sends every variant through the bulk endpoint (the dry-run `validate`
for the indexes) and as a single PUT.  A finding is any 5xx answer, or a line refused by the database
rather than by a named rule.  It writes: run it against a scratch instance.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import requests

from scripts.fuzz.hooks import BASE, fetch_token

_NAN = "__NaN__"
BAD_VALUES: list = [
    None, True, 0, -1, 1.5, 10**30, -(10**30), 2**63, -(2**63) - 1, "", " ", "\t", "x" * 10001, "9" * 400,
    "a\u0000b", "\ud800", [], {}, [None], {"a": 1}, [{"a": 1}], "<script>", "-0", "1e400", _NAN,
    "2026-02-30", "0001-01-01", "9999-12-31", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:30:00Z", "9999-12-31T23:59:59-23:59", "2026-03-29T02:30:00",
    "urn:oio:cpr-nr:0000000000", "urn:x", "00000000-0000-0000-0000-000000000000",
]
_MISSING = object()
_PLURAL = {"sag": "cases", "dokument": "documents", "bevilling": "grants", "effektuering": "payments"}


def dumps(obj) -> str:
    """JSON text; NaN written as the bare token some senders produce."""
    return json.dumps(obj, default=str).replace(f'"{_NAN}"', "NaN")


def _paths(obj, prefix=()) -> Iterator[tuple]:
    if prefix:
        yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _paths(value, (*prefix, i))


def variants(record: dict, keep: tuple[str, ...] = ("uuid",)) -> Iterator[tuple[str, str, dict]]:
    """(field path, bad value, record) for every field but `keep` and every bad value, and its removal."""
    for path in _paths(record):
        if path[0] in keep and len(path) == 1:
            continue
        for value in [*BAD_VALUES, _MISSING]:
            changed = copy.deepcopy(record)
            holder = changed
            for key in path[:-1]:
                holder = holder[key]
            if value is _MISSING:
                del holder[path[-1]]
            else:
                holder[path[-1]] = value
            changed["uuid"] = str(uuid.uuid4())
            yield ".".join(map(str, path)), "(removed)" if value is _MISSING else repr(value)[:40], changed


class Session:
    def __init__(self, auth: str):
        self.auth, self.calls, self.token = auth, 0, None

    def send(self, method: str, path: str, body: str, content_type: str) -> requests.Response:
        if self.calls % 100 == 0:  # system tokens live 5 minutes
            self.token = fetch_token(self.auth)
        self.calls += 1
        return requests.request(method, f"{BASE}{path}", data=body.encode(), timeout=60, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": content_type})


def _findings_of_bulk(answer: requests.Response, sent: list[tuple[str, str, dict]], what: str) -> list[dict]:
    if answer.status_code >= 500:
        return [{"pass": what, "status": answer.status_code, "body": answer.text[:300]}]
    found = []
    for line in answer.json()["records"]:
        for error in line.get("errors") or []:
            if error["field"] == "(record)" or "database" in error["detail"].lower():
                field, value, _ = sent[line["line"] - 1]
                found.append({"pass": what, "field": field, "value": value, "error": error})
    return found


def _fuzz(session: Session, kind: str, record: dict, bulk_path: str, put_path: str) -> list[dict]:
    sent = list(variants(record))
    lines = [dumps({"kind": kind, **changed}) for _, _, changed in sent]
    findings = _findings_of_bulk(session.send("POST", bulk_path, "\n".join(lines), "application/x-ndjson"),
                                 sent, f"{kind} bulk")
    for field, value, changed in sent:
        body = {k: v for k, v in changed.items() if k != "uuid"}
        answer = session.send("PUT", f"{put_path}/{changed['uuid']}", dumps(body), "application/json")
        if answer.status_code >= 500:
            findings.append({"pass": f"{kind} PUT", "field": field, "value": value, "status": answer.status_code})
    print(json.dumps({"pass": kind, "variants": len(sent), "findings": len(findings)}), flush=True)
    return findings


def index_records() -> list[dict]:
    findings = []
    for service, kinds in (("sdi", ("sag", "dokument")), ("yi", ("bevilling", "effektuering"))):
        session = Session(f"system:{service}")
        feed = session.send("GET", f"/api/v1/{service}/changes?limit=500", "", "application/json").json()["items"]
        for kind in kinds:
            record = next(item["record"] for item in feed if item.get("kind") == kind)
            for party in record.get("parties") or []:
                party.pop("omitted", None)
            record["changed_at"] = datetime.now(UTC).isoformat()
            findings += _fuzz(session, kind, record, f"/api/v1/{service}/validate",
                              f"/api/v1/{service}/{_PLURAL[kind]}")
    return findings


def organisation_records() -> list[dict]:
    session = Session("system:organisation")
    page = session.send("GET", "/api/v1/organisation/units?limit=2", "", "application/json").json()
    root, other = (u["uuid"] for u in page["items"][:2])
    found = Session("system:klassifikation").send("GET", "/api/v1/klassifikation/search?q=gruppe&limit=20", "",
                                                  "application/json").json()["items"]
    code = next(c["code"] for c in found if c["level"] == "gruppe")  # a KLE group the demo plan has
    unit = {"uuid": str(uuid.uuid4()), "short_key": "FZ", "name": "Fuzz", "parent_uuid": root, "type": "afdeling",
            "manager_uuid": None, "paying_unit_uuid": other, "email": "a@b.dk", "phone": "12345678",
            "post_address": "Vej 1", "ean": "5798000000001", "p_number": "1234567890", "los_id": "1",
            "www": "https://x.dk", "kle": [{"code": code, "aspect": "ansvarlig"}], "it_systems": [],
            "valid_from": "2026-01-01"}
    user = {"uuid": str(uuid.uuid4()), "user_id": "fuzz", "person": {"name": "Anne Jensen", "cpr": "0101801234"},
            "email": "anje@aarhus.dk", "phone": None, "valid_from": "2026-02-01",
            "positions": [{"uuid": str(uuid.uuid4()), "unit_uuid": other, "name": "Sagsbehandler",
                           "start": "2019-08-01", "stop": None}]}
    findings = []
    for kind, record in (("unit", unit), ("user", user)):
        baseline = session.send("PUT", f"/api/v1/organisation/sync/{kind}s/{uuid.uuid4()}",
                                dumps({k: v for k, v in record.items() if k != "uuid"}), "application/json")
        if baseline.status_code != 200:  # the variants would test nothing but the first refusal
            findings.append({"pass": f"{kind} baseline", "status": baseline.status_code, "body": baseline.text[:300]})
        findings += _fuzz(session, kind, record, "/api/v1/organisation/sync/bulk", f"/api/v1/organisation/sync/{kind}s")
    return findings
