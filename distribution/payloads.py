"""Full payloads: each event with the current state of its object, as the subscriber may see it.

A subscription with `payload: full` gets every event with `data`: the object as its own service
would answer a read now (registration now, virkning now), through the same rules:

- Organisation and Klassifikation objects as the bitemporal store reads them; a Person's CPR
  number only with `see_cpr` and a person's name (Person, User) only with `see_name` in the
  distribution agreement's constraints (organisation/personal.py: what is not shown is null and
  listed in `omitted`).
- The indexes' records as `GET /api/v1/sdi|yi/.../{uuid}` shows them (record only, no related
  records): only records the agreement's constraints allow (the feed already filters them), the
  parties' CPR numbers and names by the same flags (indexes/reads.py `Parties`).
- Business events: the message with its payload, if the subscriber may receive it.
- Sortiments: the newest version's classes.

`data` is null when the change is a deletion, when the object is gone by the time the event is
read (a later event says so), or when it is no longer one the subscriber may see.  Every person
whose data a delivery shows is access-logged once per delivery (pull: per request; push: per
POST) in the transaction that reads it, with the subscriber's system and agreement.
"""

from __future__ import annotations

import uuid as uuidlib
from datetime import date, datetime
from typing import Any

import psycopg

from app.bitemporal.store import Gone, NotFound
from authz import access_log
from authz.policy import Principal
from classification.model import facetter, klasser, klassifikationer
from distribution import feed, messages
from indexes.reads import Parties, records
from organisation.model import STORES as ORGANISATION_STORES
from organisation.personal import Disclosure, Visibility, may_see_cpr, may_see_names

STORES = {**ORGANISATION_STORES, "klassifikation": klassifikationer, "facet": facetter, "klasse": klasser}
OPERATION = "distribution.events"


def principal_of(subscription: dict, agreement: dict) -> Principal:
    """The subscriber as a caller, outside a request (push delivery): its system and agreement."""
    return Principal(kind="system", system_id=str(subscription["system_id"]), vendor_id=str(agreement["vendor_id"]),
                     municipality_code=subscription["municipality_code"], agreement_id=str(agreement["id"]),
                     service="distribution", roles=frozenset(agreement["roles"] or ()),
                     constraints=agreement["constraints"] or {})


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuidlib.UUID):
        return str(value)
    return value


class Renderer:
    """Adds `data` to events of one subscriber; collects the persons shown for the access log."""

    def __init__(self, conn: psycopg.Connection, principal: Principal, privileges: list[list[dict]]):
        self.conn, self.principal, self.privileges = conn, principal, privileges
        self.vis = Visibility(cpr=may_see_cpr(principal), name=may_see_names(principal))
        self.disclosure = Disclosure(OPERATION, vis=self.vis)
        self.parties = Parties(OPERATION, self.vis)

    def render(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for event in events:
            event["data"] = None if event.get("change") == "deleted" else jsonable(self._one(event))
        return events

    def log(self, request_id: str | None = None) -> None:
        """Access-log the persons shown (call once, after rendering, in the same transaction)."""
        access_log.record_for(self.conn, self.principal, OPERATION,
                              self.disclosure.persons + self.parties.persons, request_id=request_id)

    def _one(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind, uuid = event["object_type"], str(event["object_uuid"])
        if kind in STORES:
            try:
                obj = STORES[kind].read(self.conn, uuid)
            except (Gone, NotFound):
                return None
            if kind == "person":
                return self.disclosure.person(obj)
            if kind == "bruger":
                return self.disclosure.user(obj)
            return obj
        if kind in feed.INDEX_TYPES:
            rows = records(self.conn, self.principal.municipality_code, [kind], self.privileges, [uuid])
            if not rows:
                return None
            record = dict(rows[0]["record"])
            record["parties"] = self.parties.shown(record.get("parties") or [])
            return {"uuid": rows[0]["uuid"], "kind": kind, "registration_no": rows[0]["registration_no"],
                    "changed_at": rows[0]["changed_at"], "record": record}
        if kind == messages.OBJECT_TYPE:
            return messages.read_for(self.conn, uuid, self.principal.municipality_code, self.principal.system_id,
                                     self.privileges)
        if kind == "sortiment":
            return self.conn.execute(
                "SELECT s.id, s.name, s.municipality_code, v.version, v.classes FROM sortiment s "
                "JOIN sortiment_version v ON v.sortiment_id = s.id WHERE s.id = %(i)s "
                "ORDER BY v.version DESC LIMIT 1", {"i": uuid}).fetchone()
        return None
