"""Service agreements (serviceaftaler): requested by a vendor for one of its
systems, one service and one municipality; approved or rejected by that
municipality's admin; terminated by either side.  Every state change is kept
in `agreement_event` with who and when, and stored as a notification for the
other party."""

from __future__ import annotations

import uuid

from flask.views import MethodView
from flask_smorest import Blueprint

from app.api import problem_doc
from app.db import get_conn, register_constraint
from app.errors import Problem
from authz.policy import PlatformRole, current, platform
from authz.registry import system_or_404
from authz.schemas import (
    AgreementListArgs,
    AgreementRequestSchema,
    AgreementSchema,
    AgreementSummarySchema,
    DecisionSchema,
    NotificationSchema,
)
from authz.tokens import agreement_cache

MUNICIPALITY_ADMIN = PlatformRole.MUNICIPALITY_ADMIN
VENDOR_ADMIN = PlatformRole.VENDOR_ADMIN
OPERATOR = PlatformRole.OPERATOR

blp = Blueprint("agreements", __name__, description="Service agreements: request, approve, reject, terminate.")
notifications_blp = Blueprint("notifications", __name__, description="Stored notifications for platform users.")

# Which state each decision leads to, from which states, and who may take it.
TRANSITIONS = {
    "approve": ("approved", {"requested"}, {MUNICIPALITY_ADMIN, OPERATOR}),
    "reject": ("rejected", {"requested"}, {MUNICIPALITY_ADMIN, OPERATOR}),
    "terminate": ("terminated", {"requested", "approved"}, {MUNICIPALITY_ADMIN, VENDOR_ADMIN, OPERATOR}),
}

_SELECT = """
    SELECT a.*, s.name AS system_name, s.vendor_id, v.name AS vendor_name
      FROM agreement a JOIN it_system s ON s.id = a.system_id JOIN vendor v ON v.id = s.vendor_id
"""


def _visible_filter() -> tuple[str, dict]:
    """SQL restricting agreements to those the caller may see."""
    p = current()
    if p.is_operator:
        return "TRUE", {}
    if p.platform_role == MUNICIPALITY_ADMIN:
        return "a.municipality_code = %(scope_m)s", {"scope_m": p.municipality_code}
    return "s.vendor_id = %(scope_v)s", {"scope_v": p.vendor_id}


def _load(agreement_id) -> dict:
    visible, params = _visible_filter()
    conn = get_conn()
    row = conn.execute(f"{_SELECT} WHERE a.id = %(id)s AND {visible}", {"id": agreement_id, **params}).fetchone()
    if row is None:
        raise Problem(404, "not_found", "No such agreement for this caller.")
    row["events"] = conn.execute("SELECT state, actor_id, actor_kind, note, at FROM agreement_event "
                                 "WHERE agreement_id = %(id)s ORDER BY id", {"id": agreement_id}).fetchall()
    return row


def record_event(conn, agreement: dict, state: str, note: str | None, *, actor_id=None,
                 actor_kind: str = "platform_user") -> None:
    conn.execute("INSERT INTO agreement_event (agreement_id, state, actor_id, actor_kind, note) "
                 "VALUES (%(a)s, %(s)s, %(actor)s, %(kind)s, %(note)s)",
                 {"a": agreement["id"], "s": state, "actor": actor_id, "kind": actor_kind, "note": note})
    message = (f"Service agreement for {agreement['service']} (system {agreement['system_name']}, "
               f"municipality {agreement['municipality_code']}) is now {state}." + (f" Note: {note}" if note else ""))
    recipient = ({"m": agreement["municipality_code"], "v": None} if state == "requested"
                 else {"m": None, "v": agreement["vendor_id"]})
    conn.execute("INSERT INTO notification (municipality_code, vendor_id, kind, agreement_id, message) "
                 "VALUES (%(m)s, %(v)s, %(kind)s, %(a)s, %(msg)s)",
                 {**recipient, "kind": f"agreement_{state}", "a": agreement["id"], "msg": message})


@blp.route("")
class Agreements(MethodView):
    @platform(MUNICIPALITY_ADMIN, VENDOR_ADMIN, OPERATOR)
    @blp.arguments(AgreementListArgs, location="query")
    @blp.response(200, AgreementSummarySchema(many=True))
    def get(self, args):
        """Agreements the caller may see: a municipality's own, a vendor's own, or all (operators)."""
        visible, params = _visible_filter()
        where, values = [visible], dict(params)
        for key in ("state", "municipality_code", "system_id"):
            if key in args:
                where.append(f"a.{key} = %({key})s")
                values[key] = args[key]
        return get_conn().execute(f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY a.created_at",
                                  values).fetchall()

    @platform(VENDOR_ADMIN, OPERATOR)
    @blp.arguments(AgreementRequestSchema)
    @blp.response(201, AgreementSchema)
    @blp.alt_response(404, **problem_doc("No such system of the caller's vendor."))
    @blp.alt_response(409, **problem_doc("A requested or approved agreement already exists."))
    def post(self, body):
        """Request an agreement for one of the vendor's systems; the municipality is notified."""
        system = system_or_404(body["system_id"])
        if not system["active"]:
            raise Problem(409, "system_inactive", "The system is deactivated.")
        conn = get_conn()
        if conn.execute("SELECT 1 FROM municipality WHERE code = %(m)s", {"m": body["municipality_code"]}
                        ).fetchone() is None:
            raise Problem(422, "unknown_municipality", "No municipality has this code.",
                          errors=[{"location": "json", "field": "municipality_code",
                                   "detail": "No municipality has this code."}])
        row = conn.execute(
            "INSERT INTO agreement (system_id, service, municipality_code, roles, constraints) "
            "VALUES (%(s)s, %(svc)s, %(m)s, %(roles)s, %(c)s) RETURNING id",
            {"s": body["system_id"], "svc": body["service"], "m": body["municipality_code"],
             "roles": sorted(set(body["roles"])), "c": psycopg_json(body["constraints"])},
        ).fetchone()
        agreement = _load(row["id"])
        record_event(conn, agreement, "requested", None, actor_id=current().platform_user_id)
        return _load(row["id"])


@blp.route("/<uuid:agreement_id>")
class Agreement(MethodView):
    @platform(MUNICIPALITY_ADMIN, VENDOR_ADMIN, OPERATOR)
    @blp.response(200, AgreementSchema)
    @blp.alt_response(404, **problem_doc("No such agreement for this caller."))
    def get(self, agreement_id):
        """One agreement with its full history."""
        return _load(agreement_id)


def _decide(action: str, agreement_id, note: str | None) -> dict:
    target, from_states, roles = TRANSITIONS[action]
    p = current()
    agreement = _load(agreement_id)
    if p.platform_role not in roles:
        raise Problem(403, "forbidden", f"A {p.platform_role} may not {action} an agreement.")
    if agreement["state"] not in from_states:
        raise Problem(409, "invalid_transition",
                      f"An agreement that is {agreement['state']} cannot be {target}.")
    conn = get_conn()
    conn.execute("UPDATE agreement SET state = %(s)s, updated_at = now() WHERE id = %(id)s",
                 {"s": target, "id": agreement_id})
    record_event(conn, agreement, target, note, actor_id=p.platform_user_id)
    agreement_cache().invalidate(str(agreement_id))
    return _load(agreement_id)


def _decision_view(action: str, summary: str):
    class Decision(MethodView):
        @platform(*TRANSITIONS[action][2])
        @blp.arguments(DecisionSchema)
        @blp.response(200, AgreementSchema)
        @blp.alt_response(404, **problem_doc("No such agreement for this caller."))
        @blp.alt_response(409, **problem_doc("The agreement is not in a state that allows this."))
        def post(self, body, agreement_id):
            return _decide(action, agreement_id, body.get("note"))

    Decision.post.__doc__ = summary
    Decision.__name__ = f"Agreement{action.title()}"
    blp.route(f"/<uuid:agreement_id>/{action}")(Decision)


_decision_view("approve", "Approve a requested agreement (the municipality's admin); the vendor is notified.")
_decision_view("reject", "Reject a requested agreement (the municipality's admin); the vendor is notified.")
_decision_view("terminate", "End an agreement; its tokens stop working at once.")


@notifications_blp.route("")
class Notifications(MethodView):
    @platform(MUNICIPALITY_ADMIN, VENDOR_ADMIN)
    @notifications_blp.response(200, NotificationSchema(many=True))
    def get(self):
        """Notifications for the caller's municipality or vendor, newest first."""
        p = current()
        column, value = (("municipality_code", p.municipality_code) if p.municipality_code
                         else ("vendor_id", p.vendor_id))
        return get_conn().execute(f"SELECT * FROM notification WHERE {column} = %(v)s ORDER BY id DESC LIMIT 200",
                                  {"v": value}).fetchall()


@notifications_blp.route("/<int:notification_id>/read")
class NotificationRead(MethodView):
    @platform(MUNICIPALITY_ADMIN, VENDOR_ADMIN)
    @notifications_blp.response(204)
    @notifications_blp.alt_response(404, **problem_doc("No such notification for this caller."))
    def post(self, notification_id):
        """Mark a notification as read."""
        p = current()
        row = get_conn().execute(
            "UPDATE notification SET read_at = coalesce(read_at, now()) WHERE id = %(id)s AND "
            "(municipality_code = %(m)s OR vendor_id = %(v)s) RETURNING id",
            {"id": notification_id, "m": p.municipality_code, "v": p.vendor_id}).fetchone()
        if row is None:
            raise Problem(404, "not_found", "No such notification for this caller.")


def psycopg_json(value):
    from psycopg.types.json import Jsonb

    return Jsonb(_jsonable(value))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def register_constraints() -> None:
    register_constraint("agreement_live_key", code="agreement_exists", field="service",
                        detail="A requested or approved agreement for this system, service and municipality "
                               "already exists.")
