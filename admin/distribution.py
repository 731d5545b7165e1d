"""The Distribution pages: the municipality's subscriber systems, their subscriptions and delivery.

A municipality admin (or an operator, for the municipality chosen on the start page) sees every
IT system that subscribes to the municipality's changes, each subscription's lag (events behind
the newest), last successful delivery, failed attempts and dead letters (events given up on),
and can pause and resume a subscription and send a dead letter again (redrive).  All through the
municipality's distribution API (distribution/admin_api.py), as the logged-in admin:

- /admin/distribution                         GET  /distribution/municipality/subscriptions
- /admin/distribution/subscriptions/<uuid>    GET  .../subscriptions/{id} and .../{id}/dead-letters
- POST .../pause, .../resume                  POST .../{id}/pause, .../{id}/resume
- POST .../dead-letters/<n>/redrive           POST .../{id}/dead-letters/{n}/redrive

Each action is a POST form with its CSRF token, then a redirect back to the page it came from.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from admin import api_client, nav
from admin.api_client import ApiUnavailable
from admin.auth import scope
from admin.blueprint import bp
from authz.policy import PlatformRole, admin_page

DIST_ROLES = (PlatformRole.MUNICIPALITY_ADMIN, PlatformRole.OPERATOR)
dist_page = admin_page(*DIST_ROLES)
nav.register("Distribution", "admin.distribution_overview", *DIST_ROLES, prefix="admin.distribution", order=40)

BASE = "/distribution/municipality/subscriptions"
TOPICS = {"organisation": "Organisation", "klassifikation": "Klassifikation", "indexes": "Indeks (sager, dokumenter, "
          "ydelser)", "events": "Beskeder"}

CHANGES = {"created": "oprettet", "updated": "ændret", "passivated": "passiveret", "deleted": "slettet"}


def _systems(subscriptions: list[dict]) -> list[dict]:
    """The subscriptions grouped by their system: [{id, name, vendor, active, subscriptions}], by name."""
    systems: dict[str, dict] = {}
    for sub in subscriptions:
        system = systems.setdefault(sub["system_id"], {
            "id": sub["system_id"], "name": sub["system_name"], "vendor": sub["vendor_name"],
            "active": sub["system_active"], "subscriptions": []})
        system["subscriptions"].append(sub)
    return sorted(systems.values(), key=lambda s: (s["name"].lower(), s["id"]))


@bp.route("/distribution")
@dist_page
def distribution_overview():
    """Every subscriber system of the municipality with its subscriptions and their delivery."""
    result = api_client.get(BASE, **scope())
    subscriptions = result.body if result.ok else []
    return render_template("admin/distribution/overview.html", systems=_systems(subscriptions), topics=TOPICS,
                           error=None if result.ok else result.detail,
                           troubled=sum(1 for s in subscriptions if s["dead_letters"] or s["attempts"]))


@bp.route("/distribution/subscriptions/<uuid:subscription_id>")
@dist_page
def distribution_subscription(subscription_id):
    """One subscription: its filters, its delivery and its dead letters (with redrive)."""
    found = api_client.get(f"{BASE}/{subscription_id}", **scope())
    if found.status == 404:
        abort(404)
    if not found.ok:
        abort(400)
    letters = api_client.get(f"{BASE}/{subscription_id}/dead-letters", **scope())
    return render_template("admin/distribution/subscription.html", sub=found.body, topics=TOPICS, changes=CHANGES,
                           letters=letters.body if letters.ok else [])


def _back(subscription_id):
    """Where an action returns: the page its form was on (the overview or the subscription)."""
    if request.form.get("back") == "overview":
        return redirect(url_for("admin.distribution_overview"))
    return redirect(url_for("admin.distribution_subscription", subscription_id=subscription_id))


def _act(subscription_id, action: str, done: str):
    result = api_client.call("POST", f"{BASE}/{subscription_id}/{action}", query=scope())
    if result.status == 404:
        abort(404)
    if result.ok:
        flash(done.format(name=result.body.get("name", "")), "success")
    else:
        flash(f"Det lykkedes ikke: {result.detail}", "error")
    return _back(subscription_id)


@bp.route("/distribution/subscriptions/<uuid:subscription_id>/pause", methods=["POST"])
@dist_page
def distribution_pause(subscription_id):
    """Pause the subscription's push delivery: events wait, nothing is lost."""
    return _act(subscription_id, "pause", "Abonnementet {name} er sat på pause. Hændelserne venter, til det "
                                          "genoptages.")


@bp.route("/distribution/subscriptions/<uuid:subscription_id>/resume", methods=["POST"])
@dist_page
def distribution_resume(subscription_id):
    """Resume the subscription's push delivery from where it stopped."""
    return _act(subscription_id, "resume", "Abonnementet {name} er genoptaget og leverer igen fra, hvor det slap.")


@bp.route("/distribution/subscriptions/<uuid:subscription_id>/dead-letters/<int:dead_letter_id>/redrive",
          methods=["POST"])
@dist_page
def distribution_redrive(subscription_id, dead_letter_id: int):
    """Send a dead letter's event to the subscriber again, now; a receiver that fails again is reported."""
    try:
        result = api_client.call("POST", f"{BASE}/{subscription_id}/dead-letters/{dead_letter_id}/redrive",
                                 query=scope())
    except ApiUnavailable as exc:
        if exc.status != 502 or not isinstance(exc.body, dict) or exc.body.get("code") != "receiver_failed":
            raise
        flash(f"Modtageren tog ikke imod hændelsen, og den ligger stadig i fejlkøen. {exc.body.get('detail', '')}",
              "error")
        return _back(subscription_id)
    if result.status == 404:
        abort(404)
    if result.ok:
        flash(f"Hændelsen (position {result.body['position']}) er sendt igen, og modtageren tog imod den.", "success")
    else:
        flash(f"Det lykkedes ikke: {result.detail}", "error")
    return _back(subscription_id)
