"""The Distribution pages through Flask's test client: a subscriber system whose push receiver (a
real local HTTP server) fails shows its lag, failures and last error; pause and resume; a dead
letter is listed and redriven; each municipality sees only its own; roles and CSRF."""

from __future__ import annotations

import re

import pytest

from tests import test_distribution_push as push_tests
from tests.admin_world import csrf_token, login, seed
from tests.test_admin_klassifikation import logged_in, page, text
from tests.test_distribution_admin_api import deliver, subscriber, units
from tests.test_distribution_push import Clock


@pytest.fixture
def site(app):
    return seed(app)


receiver = push_tests.receiver  # a real local HTTP receiver (tests/test_distribution_push.py)


def act(client, url: str, form_page: str, **data):
    """POST an action form (pause, resume, redrive) with the CSRF token of the page it is on."""
    r = client.post(url, data={**data, "csrf_token": csrf_token(page(client, form_page))})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    return text(page(client, r.headers["Location"]))


def test_a_failing_receiver_shows_lag_and_failures_and_its_dead_letters_can_be_redriven(app, site, receiver):
    world = site.world
    _token, sub = subscriber(world, "Sagssystem", 751, receiver, max_attempts=2)
    receiver.default = "500"
    units(app, 751, "D1", "D2", parent=site.units["Testkommune"])
    admin = logged_in(app, "admin751")
    overview = text(page(admin, "/admin/distribution"))
    assert "Sagssystem" in overview and "Leverandør: Vendor A" in overview
    row = overview.split("Organisation til Sagssystem")[1]
    assert re.match(r" Organisation Push Aktiv [2-9] Ingen endnu 0 0 Sæt på pause", row), row

    clock = Clock()
    deliver(app, clock)
    overview = text(page(admin, "/admin/distribution"))
    assert "1 abonnement har fejl i leveringen" in overview and "Fejler" in overview
    assert "Seneste fejl: HTTP 500: receiver down" in overview
    detail = text(page(admin, f"/admin/distribution/subscriptions/{sub}"))
    assert f"Push til {receiver.url}" in detail
    assert "Forsøg på næste hændelse 1 af højst 2" in detail and "Mislykkede forsøg i alt 1" in detail

    deliver(app, clock, rounds=6)  # both events become dead letters
    detail_html = page(admin, f"/admin/distribution/subscriptions/{sub}")
    detail = text(detail_html)
    assert "2 hændelser venter på at blive sendt igen" in detail and "Efterslæb 0 hændelser" in detail
    assert detail.count("HTTP 500: receiver down") >= 2
    redrive = re.findall(r'action="([^"]+/redrive)"', detail_html)
    assert len(redrive) == 2

    after = act(admin, redrive[0], f"/admin/distribution/subscriptions/{sub}")  # still failing
    assert "Modtageren tog ikke imod hændelsen" in after and "2 hændelser venter" in after
    receiver.default = "ok"
    after = act(admin, redrive[0], f"/admin/distribution/subscriptions/{sub}")
    assert "er sendt igen, og modtageren tog imod den" in after and "1 hændelse venter" in after
    assert "Sendt igen" in after and len(receiver.of(sub)) == 1


def test_pause_and_resume_from_the_overview(app, site, receiver):
    _token, sub = subscriber(site.world, "Sagssystem", 751, receiver)
    admin = logged_in(app, "admin751")
    overview = page(admin, "/admin/distribution")
    pause = re.search(r'action="([^"]+/pause)"', overview).group(1)
    after = act(admin, pause, "/admin/distribution", back="overview")
    assert "er sat på pause" in after and "Sat på pause" in after and "Genoptag" in after
    units(app, 751, "P1", parent=site.units["Testkommune"])
    clock = Clock()
    deliver(app, clock, rounds=2)
    assert receiver.processed == []
    resume = re.search(r'action="([^"]+/resume)"', page(admin, f"/admin/distribution/subscriptions/{sub}")).group(1)
    after = act(admin, resume, f"/admin/distribution/subscriptions/{sub}")
    assert "er genoptaget" in after and "Sæt på pause" in after
    deliver(app, clock, rounds=2)
    assert len(receiver.of(sub)) == 1


def test_each_municipality_sees_only_its_own_and_vendors_and_forged_forms_are_refused(app, site):
    _t, sub751 = subscriber(site.world, "Sagssystem", 751)
    _t, sub101 = subscriber(site.world, "Andet system", 101)
    admin = logged_in(app, "admin751")
    overview = page(admin, "/admin/distribution")
    assert "Sagssystem" in overview and "Andet system" not in overview
    assert "Hentes af systemet (pull)" in overview
    assert "Siden findes ikke" in page(admin, f"/admin/distribution/subscriptions/{sub101}", 404)
    token = csrf_token(overview)
    assert admin.post(f"/admin/distribution/subscriptions/{sub101}/pause", data={"csrf_token": token}).status_code \
        == 404
    assert "Sat på pause" not in page(logged_in(app, "admin101"), "/admin/distribution")
    assert admin.post(f"/admin/distribution/subscriptions/{sub751}/pause").status_code == 400  # no CSRF token
    assert "Sat på pause" not in page(admin, "/admin/distribution")

    vendor = logged_in(app, "vendora")
    for url in ("/admin/distribution", f"/admin/distribution/subscriptions/{sub751}"):
        assert "Ingen adgang" in page(vendor, url, 403)
    r = vendor.post(f"/admin/distribution/subscriptions/{sub751}/pause",
                    data={"csrf_token": csrf_token(page(vendor, "/admin/"))})
    assert r.status_code == 403

    operator = app.test_client()
    login(operator, "operator")
    assert operator.get("/admin/distribution").headers["Location"] == "/admin/"  # choose a municipality first
    operator.post("/admin/kommune", data={"code": "101", "csrf_token": csrf_token(page(operator, "/admin/"))})
    overview = page(operator, "/admin/distribution")
    assert "Andet system" in overview and "Sagssystem" not in overview
