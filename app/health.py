"""Operational endpoints: liveness, readiness and Prometheus metrics.

- `/healthz`: the process answers (no dependencies checked), for restarts.
- `/readyz`: PostgreSQL and Elasticsearch reachable, migrations current, and
  the search outbox not lagging more than `READY_MAX_SEARCH_LAG` seconds;
  503 with the failing checks otherwise, for load balancers.
- `/metrics`: Prometheus text format.
"""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app import metrics
from app.api import problem_doc
from app.db import get_db
from app.errors import Problem
from app.migrate import pending_ids
from app.search import get_search, outbox_status
from authz.policy import public

HEALTH_TIMEOUT = 3.0  # seconds: a probe must answer quickly, not wait for a pool slot

blp = Blueprint("ops", __name__, description="Liveness, readiness and metrics (unauthenticated, for operators).")


class LiveSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class CheckSchema(Schema):
    ok = fields.Boolean(required=True)
    detail = fields.String()


class ReadySchema(Schema):
    status = fields.String(metadata={"example": "ok"})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema))


@blp.route("/healthz")
class Live(MethodView):
    @public
    @blp.response(200, LiveSchema)
    def get(self):
        """Liveness: the process is up."""
        return {"status": "ok"}


def _check_postgres() -> tuple[dict, dict]:
    with get_db().transaction(timeout=HEALTH_TIMEOUT) as conn:
        conn.execute("SELECT 1")
        pending = pending_ids(conn)
    return {"ok": True, "detail": "reachable"}, (
        {"ok": not pending, "detail": "current" if not pending else f"pending: {', '.join(pending)}"})


def _check_search_lag() -> dict:
    limit = current_app.config["READY_MAX_SEARCH_LAG"]
    rows = outbox_status(timeout=HEALTH_TIMEOUT)
    worst = max((r["oldest_seconds"] for r in rows), default=0.0)
    pending = sum(r["pending"] for r in rows)
    return {"ok": worst <= limit, "detail": f"{pending} pending, oldest {worst:.1f}s (limit {limit:.0f}s)"}


def _check_elasticsearch() -> dict:
    health = get_search().client.cluster.health()
    return {"ok": health["status"] in ("green", "yellow"), "detail": f"cluster {health['status']}"}


@blp.route("/readyz")
class Ready(MethodView):
    @public
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, **problem_doc("Not ready: the problem lists each check (`checks`)."))
    def get(self):
        """Readiness: dependencies reachable, schema current, search not lagging."""
        checks: dict[str, dict] = {}
        try:
            checks["postgres"], checks["migrations"] = _check_postgres()
            checks["search_lag"] = _check_search_lag()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            checks.setdefault("postgres", {"ok": False, "detail": type(exc).__name__})
        try:
            checks["elasticsearch"] = _check_elasticsearch()
        except Exception as exc:  # noqa: BLE001
            checks["elasticsearch"] = {"ok": False, "detail": type(exc).__name__}
        if all(c["ok"] for c in checks.values()):
            return {"status": "ok", "checks": checks}
        failing = ", ".join(k for k, c in checks.items() if not c["ok"])
        raise Problem(503, "not_ready", f"Not ready: {failing}.", extra={"checks": checks})


@blp.route("/metrics")
class Metrics(MethodView):
    @public
    @blp.response(200, description="Prometheus text exposition format.")
    def get(self):
        """Prometheus metrics: requests per endpoint and status, latency, search outbox lag."""
        return Response(metrics.render(current_app._get_current_object()),
                        mimetype="text/plain; version=0.0.4")
