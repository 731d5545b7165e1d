"""The Klassifikation and Distribution pages end to end in headless Chromium (the fixtures of
tests/test_admin_browser.py: one browser, the app served on a free port, a page that fails the test
on any console error, uncaught script error or dialog).

An operator uploads a newer KLE edition, follows the import's progress (the job page reloads itself;
the test runs the runner, held at one class while the page shows how far it got) and sees what
changed; 751's admin browses the KLE tree down to a subject, opens it with its history, and finds a
class by search; the Distribution overview shows a subscriber whose receiver fails, which is
paused, resumed and redriven.
Screenshots: the upload's progress and summary, the KLE tree, a class, the distribution overview."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import expect

from app.db import get_db
from app.search import get_search
from app.search.indexer import drain
from classification import kle_jobs
from classification.model import KLE_EMNEPLAN, kle_class_uuid
from tests import test_admin_browser as base
from tests.test_admin_accessibility import violations
from tests.test_admin_browser import Site, Watched, log_in
from tests.test_distribution_admin_api import deliver, subscriber, units
from tests.test_distribution_push import Clock, Receiver
from tests.world import bearer

# The foundation's fixtures (module-scoped `site`: this module gets its own app and server).
browser, site, page = base.browser, base.site, base.page
KLE = Path(__file__).parent / "data" / "kle"


def index(app) -> None:
    """Make the classes searchable now (the search index is fed from the outbox)."""
    with app.app_context():
        search = get_search()
        search.ensure_indexes()
        drain(get_db(), search, refresh=True)


@pytest.fixture(scope="module")
def kle(site: Site):
    """The first KLE edition, imported through the API by an operator, and searchable."""
    world = site.world.world
    r = world.app.test_client().post("/api/v1/klassifikation/kle-imports",
                                     data=(KLE / "emneplan-xml2-2026-01.xml").read_bytes(),
                                     content_type="application/xml", headers=bearer(world.login("operator")))
    assert r.status_code == 200, r.get_json()
    index(world.app)


def test_an_operator_uploads_a_newer_kle_edition_follows_its_progress_and_sees_what_changed(page: Watched, site: Site,
                                                                                             kle):
    app = site.world.world.app
    p = page.page
    log_in(p, "operator")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Klassifikation").click()
    p.get_by_role("link", name="Indlæs KLE-fil").click()
    expect(p.get_by_role("heading", level=1)).to_have_text("Indlæs KLE-fil")
    p.get_by_label("KLE-fil").set_input_files(KLE / "emneplan-xml2-2026-04.xml")
    p.get_by_role("button", name="Indlæs filen").click()
    # No runner runs in the tests: the job waits, and its page says so (and reloads itself).
    expect(p.get_by_role("heading", level=1)).to_have_text("KLE-filen venter på at blive indlæst")
    expect(p.get_by_role("progressbar", name="I kø")).to_be_visible()

    # A runner that is held at 17.01.02 (this test locks the class): the page shows how far it got.
    with psycopg.connect(app.config["DATABASE_URL"]) as hold, ThreadPoolExecutor(1) as pool:
        hold.execute("SELECT 1 FROM klasse WHERE uuid = %(u)s FOR UPDATE",
                     {"u": kle_class_uuid(KLE_EMNEPLAN, "17.01.02")})
        runner = pool.submit(run_due, app)
        expect(p.get_by_role("heading", level=1)).to_have_text("KLE-filen indlæses")
        expect(p.get_by_role("progressbar", name="Indlæser klasserne")).to_have_attribute("max", "52")
        expect(p.get_by_role("status").first).to_contain_text("0 af 52 klasser (0 %)")
        page.screenshot("20-klassifikation-kle-upload-progress")
        hold.rollback()
        assert runner.result(timeout=60) == 1

    expect(p.get_by_role("heading", level=1)).to_have_text("KLE-filen er indlæst")  # the next reload
    expect(p.get_by_role("status").first).to_contain_text("1 nye, 3 ændrede og 48 uændrede klasser")
    examples = p.get_by_role("region", name="Eksempler")
    expect(examples.get_by_role("link", name=re.compile(r"^32\.05\.04 "))).to_be_visible()
    expect(examples).to_contain_text("17.01.02")
    expect(examples).to_contain_text("(før: ")
    expect(p.get_by_role("progressbar")).to_have_count(0)
    page.screenshot("20-klassifikation-kle-upload-summary")
    assert violations(p) == []  # WCAG 2.1 AA (axe-core); the reloading pages are checked by the asserts above
    p.get_by_role("link", name="Indlæs en fil mere").click()
    latest = p.get_by_role("region", name="Seneste indlæsninger")
    expect(latest.get_by_role("row", name=re.compile("emneplan-xml2-2026-04.xml"))).to_contain_text("1 nye, 3 ændrede")
    assert violations(p) == []
    p.go_back()
    p.get_by_role("link", name="Se KLE-emneplanen").click()
    expect(p.locator(".class-tree").get_by_role("link", name=re.compile(r"^32 "))).to_be_visible()


def run_due(app) -> int:
    with app.app_context():
        return kle_jobs.run_due(get_db())


def test_browse_the_kle_tree_down_to_a_subject_open_its_history_and_search(page: Watched, kle):
    p = page.page
    log_in(p, "admin751")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Klassifikation").click()
    expect(p.get_by_role("heading", level=1)).to_have_text("Klassifikation")
    p.get_by_role("link", name="KLE-emneplanen").click()
    tree = p.locator(".class-tree")
    expect(tree.get_by_role("link", name=re.compile(r"^17 "))).to_be_visible()
    expect(tree.get_by_role("link", name=re.compile(r"^17\.01 "))).to_have_count(0)
    tree.get_by_role("link", name="Vis 4 under 17").click()
    tree.get_by_role("link", name="Vis 3 under 17.01").click()
    subject = tree.get_by_role("link", name=re.compile(r"^17\.01\.02 "))
    expect(subject).to_be_visible()
    expect(tree.get_by_role("link", name="Skjul 4 under 17")).to_have_attribute("aria-expanded", "true")
    page.screenshot("21-klassifikation-kle-tree")
    subject.click()
    expect(p.get_by_role("heading", level=1)).to_contain_text("17.01.02")
    history = p.get_by_role("region", name="Historik")
    expect(history.locator(".timeline")).to_contain_text("Titel:")
    expect(history.get_by_role("table")).to_contain_text("user:operator")
    expect(p.get_by_role("navigation", name="Placering i klassifikationen")).to_contain_text("17.01")
    page.screenshot("22-klassifikation-class")
    # As of a date before the newer edition the subject had its old title.
    new_title = p.get_by_role("heading", level=1).inner_text()
    p.get_by_label("Vis klassen pr. dato").fill("2026-03-01")
    p.get_by_role("button", name="Vis").click()
    expect(p.get_by_role("heading", level=1)).not_to_have_text(new_title)

    p.get_by_role("link", name="Klassifikation", exact=True).first.click()
    p.get_by_label("Søg efter klasse").fill("vandløb")
    p.get_by_role("button", name="Søg").click()
    results = p.get_by_role("table", name="Søgeresultater")
    expect(results).to_contain_text("vandløb")
    results.get_by_role("link").first.click()
    expect(p.get_by_role("heading", level=2, name=re.compile("^Oplysninger pr."))).to_be_visible()


def test_the_distribution_overview_shows_a_failing_receiver_pause_resume_and_redrive(page: Watched, site: Site):
    receiver = Receiver()
    try:
        world, app = site.world.world, site.world.world.app
        _token, sub = subscriber(world, "Sagssystem Syd", 751, receiver, max_attempts=1)
        receiver.default = "500"
        units(app, 751, "Browser 1", "Browser 2", parent=site.world.units["Testkommune"])
        deliver(app, Clock(), rounds=3)
        p = page.page
        log_in(p, "admin751")
        p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Distribution").click()
        system = p.get_by_role("region", name="Sagssystem Syd")
        expect(system).to_contain_text("Fejler")
        expect(system).to_contain_text("HTTP 500: receiver down")
        page.screenshot("30-distribution-overview")

        system.get_by_role("button", name="Sæt på pause").click()
        expect(p.get_by_role("status").first).to_contain_text("er sat på pause")
        expect(p.get_by_role("region", name="Sagssystem Syd")).to_contain_text("Sat på pause")
        p.get_by_role("region", name="Sagssystem Syd").get_by_role("button", name="Genoptag").click()
        expect(p.get_by_role("status").first).to_contain_text("er genoptaget")

        p.get_by_role("link", name="Organisation til Sagssystem Syd").click()
        letters = p.get_by_role("region", name="Opgivne hændelser")
        expect(letters).to_contain_text("2 hændelser venter")
        receiver.default = "ok"
        letters.get_by_role("button", name=re.compile("^Send igen")).first.click()
        expect(p.get_by_role("status").first).to_contain_text("er sendt igen")
        expect(p.get_by_role("region", name="Opgivne hændelser")).to_contain_text("1 hændelse venter")
        assert len(receiver.of(sub)) == 1
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
