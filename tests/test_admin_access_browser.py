"""The access pages end to end in headless Chromium (the fixtures of tests/test_admin_browser.py:
one browser, the app served on a free port, a page that fails the test on any console error).

The acceptance story of issue #8: a vendor admin registers a system and requests an agreement for
municipality 751; 751's admin approves it; the vendor generates the system's credentials (the
secret shown once) and the system gets a token from POST /api/v1/auth/token with them, then
calls the API; the municipality sees the calls on the usage page and the reads in the access log.
Screenshots: the systems page, the approval page, the access log and the usage page."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from authz import usage
from tests import test_admin_browser as base
from tests.test_admin_browser import Site, Watched, log_in
from tests.world import CVR, bearer

# The foundation's fixtures (module-scoped `site`: this module gets its own app and server).
browser, site, page = base.browser, base.site, base.page

SYSTEM = "Journalsystem Nord"


def log_out(p: Page) -> None:
    p.get_by_role("button", name="Log ud").click()
    expect(p.get_by_role("heading", level=1)).to_have_text("Log ind")


def test_a_vendor_requests_the_municipality_approves_and_the_system_gets_a_token(page: Watched, site: Site):
    p = page.page
    # The vendor registers a system (its secret is shown once) and requests an agreement with 751.
    log_in(p, "vendora")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Leverandør").click()
    expect(p.get_by_role("heading", level=1)).to_have_text("Vendor A: IT-systemer")
    p.get_by_label("Systemets navn").fill(SYSTEM)
    p.get_by_role("button", name="Registrér systemet").click()
    expect(p.get_by_role("alert")).to_contain_text("Gem hemmeligheden nu")
    first_secret = p.get_by_label("Hemmelighed (client secret)").input_value()
    p.get_by_role("link", name=re.compile("Jeg har gemt hemmeligheden")).click()
    expect(p.get_by_role("heading", level=1)).to_have_text(f"IT-system: {SYSTEM}")
    assert first_secret not in p.content()

    p.get_by_role("link", name="Anmod om en aftale for systemet").click()
    p.get_by_label("Tjeneste").select_option("registry")
    p.get_by_role("textbox", name=re.compile("^Kommunekode")).fill("751")
    p.get_by_label("KLE-emner").fill("27.*")
    p.get_by_label("Må se personers navne").check()
    p.get_by_role("button", name="Send anmodningen").click()
    expect(p.get_by_role("status").first).to_contain_text("Anmodningen er sendt til Aarhus Kommune")
    expect(p.locator(".state")).to_have_text("Afventer godkendelse")
    p.get_by_role("navigation", name="Leverandør").get_by_role("link", name="IT-systemer").click()
    expect(p.get_by_role("link", name=SYSTEM)).to_be_visible()
    page.screenshot("20-leverandoer-systemer")
    log_out(p)

    # 751's admin approves it.
    log_in(p, "admin751")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Adgang").click()
    waiting = p.get_by_role("region", name=re.compile("Anmodninger, der venter"))
    waiting.get_by_role("link", name=SYSTEM).click()
    expect(p.get_by_role("heading", level=1)).to_contain_text(SYSTEM)
    expect(p.locator("dl.facts")).to_contain_text("KLE-emner: 27.*")
    p.get_by_label("Bemærkning").fill("Godkendt til journalopslag.")
    page.screenshot("21-adgang-godkend-aftale")
    p.get_by_role("button", name="Godkend aftalen").click()
    expect(p.get_by_role("status").first).to_contain_text("Aftalen er godkendt")
    expect(p.locator(".state").first).to_have_text("Godkendt")
    log_out(p)

    # The vendor generates the system's credentials; the secret is shown once and gets a token.
    log_in(p, "vendora")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Leverandør").click()
    p.get_by_role("link", name=SYSTEM).click()
    expect(p.get_by_role("table", name="Systemets aftaler med kommuner")).to_contain_text("Godkendt")
    p.get_by_role("button", name="Generér ny hemmelighed").click()
    expect(p.get_by_role("alert")).to_contain_text("kun denne ene gang")
    client_id = p.get_by_label("Klient-id").input_value()
    secret = p.get_by_label("Hemmelighed (client secret)").input_value()
    assert secret != first_secret
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
            "municipality": CVR[751], "audience": "registry"}
    answer = p.request.post("/api/v1/auth/token", form=form)
    assert answer.status == 200, answer.text()
    token = answer.json()["access_token"]
    assert token and answer.json()["municipality"] == 751
    assert p.request.post("/api/v1/auth/token", form={**form, "client_secret": first_secret}).status == 401
    # The system calls the API with its token, twice.
    for _ in range(2):
        assert p.request.get("/api/v1/municipalities/751", headers=bearer(token)).status == 200
    usage.flush(site.world.world.app)
    log_out(p)

    # The municipality sees the calls.
    log_in(p, "admin751")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Forbrug").click()
    table = p.get_by_role("table", name=re.compile("Kald pr. dag, system og tjeneste"))
    expect(table.get_by_role("row", name=re.compile(SYSTEM))).to_contain_text("Kommuneregister")
    expect(table.get_by_role("row", name=re.compile(SYSTEM))).to_contain_text("2")
    expect(p.locator("figure.chart svg rect")).not_to_have_count(0)
    with p.expect_download() as download:
        p.get_by_role("link", name="Hent som CSV-fil").click()
    assert download.value.suggested_filename.startswith("forbrug-751-")
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert content.startswith("Dato;Kommunekode;System;") and f";{SYSTEM};" in content
    page.screenshot("23-forbrug")


def test_the_access_log_with_its_filters(page: Watched, site: Site):
    w = site.world.world
    person = uuid.uuid4()
    api = w.app.test_client()
    token = w.login("admin751")
    for system in ("a1", "a1", "b1"):
        r = api.get(f"/api/v1/users/{person}/privileges", query_string={"system_id": w.ids[system]},
                    headers=bearer(token))
        assert r.status_code == 200
    w.agreement("a1", "adgangsstyring", 751)  # a system reads it too, under its agreement
    r = api.get(f"/api/v1/users/{person}/privileges", headers=bearer(w.token("a1", "adgangsstyring", 751)))
    assert r.status_code == 200
    p = page.page
    log_in(p, "admin751")
    p.get_by_role("navigation", name="Hovedmenu").get_by_role("link", name="Adgang").click()
    p.get_by_role("navigation", name="Adgang").get_by_role("link", name="Adgangslog").click()
    expect(p.get_by_role("heading", level=1)).to_have_text("Adgangslog")
    p.get_by_label("Person").fill(str(person).upper())
    p.get_by_label("Fra og med").fill("2020-01-01")
    p.get_by_role("button", name="Søg").click()
    # The four reads, and the log's own read when the page opened unfiltered (it showed the person).
    expect(p.get_by_role("heading", level=2, name=re.compile("opslag"))).to_have_text("5 opslag")
    rows = p.get_by_role("table", name=re.compile("Opslag i adgangsloggen")).locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.first).to_contain_text("Adgangslog læst")
    expect(rows.filter(has_text="Rettighedsprofil læst")).to_have_count(4)
    expect(rows.nth(1)).to_contain_text("System: a1 (Vendor A)")
    expect(rows.nth(1).get_by_role("link", name="Se aftalen")).to_be_visible()
    expect(rows.last).to_contain_text(f"urn:uuid:{person}")
    expect(rows.last).to_contain_text("Dig")
    page.screenshot("22-adgang-adgangslog")
    p.get_by_label("System").select_option(label="a1 (Vendor A)")
    p.get_by_role("button", name="Søg").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("System: a1 (Vendor A)")
    p.get_by_label("Til og med").fill("2020-12-31")
    p.get_by_role("button", name="Søg").click()
    expect(p.get_by_text("Ingen opslag matcher.")).to_be_visible()
