"""The admin web end to end, in headless Chromium (Debian's package, driven by Playwright through its
executable path; `make test` installs it with scripts/browser.py).

One browser for the run and a fresh browser context (cookies) per test, against the app served by
werkzeug on a free port (its own database, seeded by tests/admin_world.py).  Every page must load
without a console error, an uncaught script error or a dialog (an XSS probe that ran would open
one): the `page` fixture fails the test at teardown otherwise.  The tests save screenshots of the
main pages in artifacts/screenshots/ (docs/admin.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from tests.admin_world import PAST, AdminWorld, next_month, seed
from tests.browser_session import shared_browser
from tests.conftest import AppFactory
from tests.world import PASSWORD

expect.set_options(timeout=10_000)
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@dataclass
class Site:
    url: str
    world: AdminWorld


@dataclass
class Watched:
    """A page and what went wrong on it."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def site(admin_conn, service_urls, template_db) -> Iterator[Site]:
    factory = AppFactory(admin_conn, service_urls, template_db)
    app = factory()
    world = seed(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.port}", world)
    finally:
        server.shutdown()
        thread.join()
        factory.cleanup()


@pytest.fixture(scope="session")
def browser() -> Browser:
    return shared_browser()  # one Chromium for every module that binds this fixture


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Watched]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1366, "height": 768}, locale="da-DK")
    context.set_default_timeout(10_000)
    watched = Watched(context.new_page())

    def on_console(message) -> None:
        if message.type == "error":
            watched.problems.append(f"console error on {watched.page.url}: {message.text}")

    def on_dialog(dialog) -> None:
        watched.problems.append(f"dialog on {watched.page.url}: {dialog.message}")
        dialog.dismiss()

    watched.page.on("console", on_console)
    watched.page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    watched.page.on("dialog", on_dialog)
    yield watched
    context.close()
    if watched.problems:
        pytest.fail("the pages had errors:\n" + "\n".join(watched.problems))


def log_in(page: Page, username: str) -> None:
    page.goto("/admin/login")
    page.get_by_label("Brugernavn").fill(username)
    page.get_by_label("Adgangskode").fill(PASSWORD)
    page.get_by_role("button", name="Log ind").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Velkommen")


def test_log_in_and_browse_the_tree_as_of_a_past_date(page: Watched):
    p = page.page
    p.goto("/admin/login")
    expect(p).to_have_title("Log ind \u2013 Støttesystemerne, administration")
    page.screenshot("01-login")
    log_in(p, "admin751")
    cookie = next(c for c in p.context.cookies() if c["name"] == "sts_admin")
    # Chromium keeps a Secure cookie on http://127.0.0.1 (a trustworthy origin), so the default holds.
    assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, True, "Lax", "/admin")
    page.screenshot("02-home")

    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Organisation").click()
    tree = p.locator(".tree")
    expect(tree.get_by_role("link", name="Borgerservice")).to_be_visible()
    expect(tree.get_by_role("link", name="Ny afdeling")).to_be_visible()
    expect(tree.get_by_role("link", name="Gammel afdeling")).to_have_count(0)
    page.screenshot("03-organisation-tree")

    p.get_by_label("Vis organisationen pr. dato").fill(PAST.isoformat())
    p.get_by_role("button", name="Vis").click()
    expect(p.get_by_role("heading", level=1)).to_contain_text(str(PAST.year))
    expect(tree.get_by_role("link", name="Gammel afdeling")).to_be_visible()
    expect(tree.get_by_role("link", name="Ny afdeling")).to_have_count(0)
    # The unit that no longer exists opens as it was on that date.
    tree.get_by_role("link", name="Gammel afdeling").click()
    expect(p.get_by_role("heading", level=1)).to_have_text("Gammel afdeling")
    expect(p.locator(".timeline")).to_contain_text("Ophører")


def test_a_change_effective_next_month_shows_in_the_timeline_and_on_its_date(page: Watched):
    p, day = page.page, next_month()
    log_in(p, "admin751")
    p.goto("/admin/organisation")
    p.locator(".tree").get_by_role("link", name="Ydelseskontor").click()
    p.get_by_role("link", name="Ret enheden").click()
    p.get_by_label("Gælder fra").fill(day.isoformat())
    p.get_by_label(re.compile("^Navn")).fill("Ydelser og Pension")
    p.get_by_label("Overordnet enhed").select_option(label="Borgerservice (BS)")
    p.get_by_role("button", name="Gem ændringen").click()

    expect(p.get_by_role("status").first).to_contain_text("træder i kraft")
    expect(p.get_by_role("heading", level=1)).to_have_text("Ydelseskontor")  # today it is unchanged
    planned = p.locator(".timeline li.planned")
    expect(planned).to_have_count(1)
    expect(planned).to_contain_text("Planlagt \u2013 træder i kraft")
    expect(planned).to_contain_text("Navn: Ydelseskontor → Ydelser og Pension")
    expect(planned).to_contain_text("Overordnet enhed: Testkommune → Borgerservice")
    page.screenshot("04-unit-with-timeline")

    p.goto(f"/admin/organisation/changes?date={day.isoformat()}")
    units = p.get_by_role("region", name="Enheder")
    expect(units).to_contain_text("Ydelser og Pension")
    expect(units).to_contain_text("Navn: Ydelseskontor → Ydelser og Pension")
    expect(units).to_contain_text("Overordnet enhed: Testkommune → Borgerservice")
    page.screenshot("05-changes-on-date")
    # The tree as of that date has it under its new parent.
    p.get_by_role("link", name="Se organisationen pr.").click()
    moved = p.locator(".tree li", has_text="Borgerservice").get_by_role("link", name="Ydelser og Pension")
    expect(moved).to_be_visible()


def test_an_xss_probe_in_a_unit_name_renders_as_text(page: Watched, today):
    p = page.page
    log_in(p, "admin751")
    for n, probe in enumerate(XSS):
        p.goto("/admin/organisation/units/new")
        p.get_by_label(re.compile("^Navn")).fill(probe)
        p.get_by_label("Kortnavn").fill(f"XSS{n}")
        p.get_by_label("Overordnet enhed").select_option(label="Testkommune (KOM)")
        p.get_by_role("button", name="Opret enhed").click()
        expect(p.get_by_role("heading", level=1)).to_have_text(probe)
        p.goto("/admin/organisation")
        expect(p.locator(".tree").get_by_role("link", name=probe)).to_be_visible()
        p.goto(f"/admin/organisation/changes?date={today.isoformat()}")
        expect(p.get_by_role("region", name="Enheder")).to_contain_text(probe)
    assert p.locator("img[src=x]").count() == 0  # no dialog either: the fixture checks


def test_an_operator_chooses_a_municipality_and_sees_its_organisation(page: Watched):
    p = page.page
    log_in(p, "operator")
    p.get_by_label("Kommunekode").fill("751")
    p.get_by_role("button", name="Vælg kommune").click()
    expect(p.get_by_role("status").first).to_contain_text("Aarhus")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Organisation").click()
    expect(p.locator(".tree").get_by_role("link", name="Borgerservice")).to_be_visible()
    expect(p.locator(".tree").get_by_role("link", name="Hemmelig enhed")).to_have_count(0)
