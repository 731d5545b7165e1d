"""The municipality's view of its subscribers, under /api/v1/distribution/municipality (docs/distribution.md).

The subscriber routes (distribution/api.py, push_api.py) are for a system's own token: a system
sees and steers only its own subscriptions.  A municipality's administrators (and platform
operators) need the other side: every subscriber system of the municipality with its
subscriptions, how far behind each is (lag), its last success, failures and dead letters, and to
pause, resume and redrive when a receiver misbehaves.  These routes give that to platform users:

    GET  /municipality/subscriptions                                   every subscription, with its delivery
    GET  /municipality/subscriptions/{id}                              one, with its push state
    GET  /municipality/subscriptions/{id}/dead-letters                 the events given up on
    POST /municipality/subscriptions/{id}/dead-letters/{n}/redrive     send one again, now
    POST /municipality/subscriptions/{id}/pause | /resume

A municipality admin acts for their own municipality; an operator names it (`?municipality=`).
Another municipality's subscription is a 404 (authz.policy.require_municipality).  The numbers
come from the same SQL as the Prometheus metrics (distribution/metrics.py) and the subscriber's
push status (push_api.py); the push secret is never shown.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from app.api import problem_doc
from app.db import get_conn
from app.errors import Problem, field_error
from authz.policy import PlatformRole, current, platform, require_municipality
from distribution import feed, metrics
from distribution.api import SubscriptionSchema, blp
from distribution.push_api import _STATUS, DeadLetterSchema, PushStatusSchema, dead_letters, redrive, set_paused

ADMINS = platform(PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
BASE = "/municipality/subscriptions"
NOT_FOUND = problem_doc("No such subscription in this municipality.")
NEEDS_MUNICIPALITY = problem_doc("A platform operator did not name the municipality (`municipality`).")

# One row per subscription of the municipality: the metrics' numbers (lag, failures, dead letters not
# redriven, last success) with the subscription, its system and vendor.
_OVERVIEW = f"""
    WITH m AS ({metrics.QUERY})
    SELECT s.id, s.name, s.topics, s.object_types, s.kle, s.sensitivity, s.sortiment_id AS sortiment, s.payload,
           s.acked_position, s.paused, s.municipality_code, s.created_at,
           y.id AS system_id, y.name AS system_name, y.active AS system_active, v.name AS vendor_name,
           m.push, p.url AS push_url, p.attempts, p.last_error, p.last_success_at, p.next_attempt_at,
           coalesce(m.failures, 0) AS failures, m.dead AS dead_letters,
           greatest(m.newest - CASE WHEN m.push THEN m.delivered_position ELSE m.acked_position END, 0) AS lag
      FROM m JOIN subscription s ON s.id = m.id
      JOIN it_system y ON y.id = s.system_id JOIN vendor v ON v.id = y.vendor_id
      LEFT JOIN subscription_push p ON p.subscription_id = s.id
     WHERE s.municipality_code = %(m)s AND (%(i)s::uuid IS NULL OR s.id = %(i)s::uuid)
     ORDER BY y.name, s.name, s.id
"""


class ScopeArgs(Schema):
    municipality = fields.Integer(validate=validate.Range(min=1, max=999), metadata={
        "description": "The municipality (code): required for platform operators; admins act for their own."})


class AdminSubscriptionSchema(SubscriptionSchema):
    municipality_code = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    system_id = fields.UUID(dump_only=True)
    system_name = fields.String(dump_only=True)
    system_active = fields.Boolean(dump_only=True)
    vendor_name = fields.String(dump_only=True)
    push = fields.Boolean(dump_only=True, metadata={"description": "Pushed to an endpoint (else pulled)."})
    push_url = fields.String(dump_only=True, allow_none=True)
    lag = fields.Integer(dump_only=True, metadata={
        "description": "Newest position minus the delivered (push) or acknowledged (pull) position."})
    attempts = fields.Integer(dump_only=True, allow_none=True, metadata={"description": "Failed attempts of the "
                                                                                        "next event (push)."})
    failures = fields.Integer(dump_only=True, metadata={"description": "Failed push attempts in all."})
    dead_letters = fields.Integer(dump_only=True, metadata={"description": "Dead letters not yet redriven."})
    last_error = fields.String(dump_only=True, allow_none=True)
    last_success_at = fields.DateTime(dump_only=True, allow_none=True)
    next_attempt_at = fields.DateTime(dump_only=True, allow_none=True)


class AdminSubscriptionDetailSchema(AdminSubscriptionSchema):
    delivery = fields.Nested(PushStatusSchema, dump_only=True, allow_none=True,
                             metadata={"description": "The push delivery's state (null for a pull subscription)."})


def _municipality(args: dict) -> int:
    """The municipality acted on: the admin's own, or the one an operator names; another one is a 404."""
    p = current()
    code = args.get("municipality") or p.municipality_code
    if code is None:
        raise Problem(422, "municipality_required", "Platform operators name the municipality to act on.",
                      errors=[field_error("query", "municipality", "Required for platform operators.")])
    require_municipality(code)
    return code


def _rows(code: int, subscription_id=None) -> list[dict]:
    """The overview's rows, after positioning the events committed so far (so the lag counts them)."""
    feed.sequence(get_conn())
    return get_conn().execute(_OVERVIEW, {"m": code, "i": subscription_id}).fetchall()


def _one(args: dict, subscription_id) -> dict:
    rows = _rows(_municipality(args), subscription_id)
    if not rows:
        raise Problem(404, "not_found", f"No subscription {subscription_id} in this municipality.")
    return rows[0]


def _owned(args: dict, subscription_id) -> None:
    """The subscription belongs to the municipality acted on (else a 404)."""
    if get_conn().execute("SELECT 1 FROM subscription WHERE id = %(i)s AND municipality_code = %(m)s",
                          {"i": subscription_id, "m": _municipality(args)}).fetchone() is None:
        raise Problem(404, "not_found", f"No subscription {subscription_id} in this municipality.")


@blp.route(BASE)
class MunicipalitySubscriptions(MethodView):
    @ADMINS
    @blp.arguments(ScopeArgs, location="query")
    @blp.response(200, AdminSubscriptionSchema(many=True))
    @blp.alt_response(422, **NEEDS_MUNICIPALITY)
    def get(self, args):
        """Every subscription of the municipality's subscriber systems, with lag, failures and dead letters.

        By system name, then subscription name.  The lag is the newest position minus the delivered
        (push) or acknowledged (pull) position: an upper bound, since not every event is for every
        subscriber.
        """
        return _rows(_municipality(args))


@blp.route(f"{BASE}/<uuid:subscription_id>")
class MunicipalitySubscription(MethodView):
    @ADMINS
    @blp.arguments(ScopeArgs, location="query")
    @blp.response(200, AdminSubscriptionDetailSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, subscription_id):
        """One subscription of the municipality with its push delivery's state (never its secret)."""
        row = _one(args, subscription_id)
        delivery = get_conn().execute(_STATUS, {"i": subscription_id}).fetchone() if row["push"] else None
        return {**row, "delivery": delivery}


@blp.route(f"{BASE}/<uuid:subscription_id>/dead-letters")
class MunicipalityDeadLetters(MethodView):
    @ADMINS
    @blp.arguments(ScopeArgs, location="query")
    @blp.response(200, DeadLetterSchema(many=True))
    @blp.alt_response(404, **NOT_FOUND)
    def get(self, args, subscription_id):
        """The subscription's dead letters (redriven ones too, with `redriven_at`), oldest position first."""
        _owned(args, subscription_id)
        return dead_letters(subscription_id)


@blp.route(f"{BASE}/<uuid:subscription_id>/dead-letters/<int:dead_letter_id>/redrive")
class MunicipalityRedrive(MethodView):
    @ADMINS
    @blp.arguments(ScopeArgs, location="query")
    @blp.response(200, DeadLetterSchema)
    @blp.alt_response(404, **problem_doc("No such subscription, dead letter or push endpoint in this municipality."))
    @blp.alt_response(502, **problem_doc("The receiver did not accept the event; `detail` says what it answered."))
    def post(self, args, subscription_id, dead_letter_id):
        """Send a dead letter's event to the subscriber's endpoint again, now, once; marks it redriven.

        The same as the subscriber's own redrive: the same idempotency key, signed with the
        subscription's secret.  A receiver that fails again is a 502 and the letter stays.
        """
        _owned(args, subscription_id)
        return redrive(subscription_id, dead_letter_id)


def _set_paused(args: dict, subscription_id, paused: bool) -> dict:
    _owned(args, subscription_id)
    return set_paused(subscription_id, paused)


@blp.route(f"{BASE}/<uuid:subscription_id>/pause")
class MunicipalityPause(MethodView):
    @ADMINS
    @blp.arguments(ScopeArgs, location="query")
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, args, subscription_id):
        """Pause the subscription's push delivery (events wait; nothing is lost), e.g. while its receiver is down."""
        return _set_paused(args, subscription_id, True)


@blp.route(f"{BASE}/<uuid:subscription_id>/resume")
class MunicipalityResume(MethodView):
    @ADMINS
    @blp.arguments(ScopeArgs, location="query")
    @blp.response(200, SubscriptionSchema)
    @blp.alt_response(404, **NOT_FOUND)
    def post(self, args, subscription_id):
        """Resume the subscription's push delivery from where it stopped."""
        return _set_paused(args, subscription_id, False)
