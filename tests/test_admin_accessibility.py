"""The admin web's markup against WCAG 2.1 A/AA, checked by axe-core in headless Chromium
(axe-playwright-python carries axe-core; it runs through Playwright's evaluation, which the pages'
Content-Security-Policy does not restrict), and the login done with the keyboard alone.

Every main page of a municipality admin and of a vendor admin is checked; a violation names the
rule, the page and the elements, so it can be fixed where it is.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests import test_admin_browser as base
from tests.admin_world import FOUNDED
from tests.test_admin_browser import Watched, log_in
from tests.world import PASSWORD

# The foundation's fixtures (module-scoped `site`: this module gets its own app and server).
browser, site, page = base.browser, base.site, base.page

WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
AXE = Axe()

MUNICIPALITY_PAGES = ("/admin/", "/admin/organisation", f"/admin/organisation/changes?date={FOUNDED.isoformat()}",
                      "/admin/klassifikation", "/admin/adgang",
                      "/admin/adgang/roller", "/admin/adgang/adgangslog", "/admin/distribution", "/admin/forbrug")
VENDOR_PAGES = ("/admin/", "/admin/leverandoer")


def violations(p) -> list[str]:
    result = AXE.run(p, options=WCAG)
    return [f"{p.url}: {v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"]) for n in v["nodes"][:3])
            for v in result.response["violations"]]


def test_the_login_page_and_every_municipality_page_meet_wcag_aa(page: Watched):
    p = page.page
    p.goto("/admin/login")
    found = violations(p)
    log_in(p, "admin751")
    for path in MUNICIPALITY_PAGES:
        p.goto(path)
        found += violations(p)
    p.goto("/admin/organisation")
    p.locator(".tree").get_by_role("link", name="Borgerservice").click()
    found += violations(p)
    assert found == []


def test_the_vendor_pages_meet_wcag_aa(page: Watched):
    p = page.page
    log_in(p, "vendora")
    found = []
    for path in VENDOR_PAGES:
        p.goto(path)
        found += violations(p)
    assert found == []
    # The check can fail: an input without a label planted in the page is found.
    p.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=planted>')")
    assert any("label" in v and "#planted" in v for v in violations(p))


def test_logging_in_works_with_the_keyboard_alone(page: Watched):
    p = page.page
    p.goto("/admin/login")
    p.keyboard.press("Tab")
    assert p.evaluate("document.activeElement.textContent").strip() == "Spring til indhold"  # the skip link first
    focused = []
    for _ in range(6):
        p.keyboard.press("Tab")
        focused.append(p.evaluate("document.activeElement.id || document.activeElement.name || ''"))
        if p.evaluate("document.activeElement.type") == "password":
            break
    assert "username" in " ".join(focused) and p.evaluate("document.activeElement.type") == "password"
    p.keyboard.type(PASSWORD)
    p.keyboard.press("Shift+Tab")
    p.keyboard.type("admin751")
    p.keyboard.press("Enter")
    expect(p.get_by_role("heading", level=1)).to_contain_text("Velkommen")

