"""The Klassifikation pages through Flask's test client: the KLE upload and its summary (a first
edition, a newer one, a broken file), the KLE tree as of a date, a class with its history, search,
local classifications, facets and classes (created, edited from a date, stale forms refused),
sortiments, and the rules: roles, tenancy, CSRF and escaping."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest
from markupsafe import escape

from app.db import get_db
from app.search import get_search
from app.search.indexer import drain
from classification import kle_jobs
from classification.model import KLE_EMNEPLAN
from tests.admin_world import csrf_token, login, seed

KLE = Path(__file__).parent / "data" / "kle"
XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.fixture
def site(app):
    return seed(app)


def logged_in(app, username: str):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def page(client, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (r.status_code, r.headers.get("Location"), r.get_data(as_text=True)[:800])
    return r.get_data(as_text=True)


def submit(client, url: str, data: dict, status: int = 302, form_url: str | None = None, **kw):
    """POST a form with the CSRF token of the page it is on."""
    token = csrf_token(page(client, form_url or url))
    r = client.post(url, data={**data, "csrf_token": token}, **kw)
    assert r.status_code == status, (r.status_code, text(r.get_data(as_text=True)).split("Log ud")[-1][:1500])
    return r


def upload(client, name: str) -> str:
    """Send a KLE file through the form; the job's page, then (the runner run) its outcome."""
    with open(KLE / name, "rb") as f:
        r = submit(client, "/admin/klassifikation/kle", {"file": (f, name)}, content_type="multipart/form-data")
    job_page = r.headers["Location"]
    assert re.fullmatch(r"/admin/klassifikation/kle/[0-9a-f-]{36}", job_page), job_page
    waiting = page(client, job_page)
    assert "KLE-filen venter på at blive indlæst" in waiting and '<meta http-equiv="refresh" content="1">' in waiting
    with client.application.app_context():
        assert kle_jobs.run_due(get_db()) == 1
    return page(client, job_page)


def text(html: str) -> str:
    """The page's text without tags, whitespace collapsed (for reading what a user sees)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def class_id(html: str, code: str) -> str:
    match = re.search(r'/admin/klassifikation/classes/([0-9a-f-]{36})[^"]*"><span class="code">' + re.escape(code)
                      + "<", html)
    assert match, f"no link to class {code}"
    return match.group(1)


def test_kle_upload_shows_its_progress_then_what_changed_and_a_broken_file_its_lines(app, site):
    operator = logged_in(app, "operator")
    first = upload(operator, "emneplan-xml2-2026-01.xml")
    assert "http-equiv" not in first  # an ended job's page stays put
    summary = text(first)
    assert "KLE-filen er indlæst" in summary and "51 nye, 0 ændrede og 0 uændrede" in summary
    assert "Udgået (ifølge filen) 1" in summary and "Flyttet (ifølge filen) 1" in summary
    assert "Nye klasser 17 Syntetisk" in summary and "Sendt af operator" in summary

    newer = upload(operator, "emneplan-xml2-2026-04.xml")
    summary = text(newer)
    assert "1 nye, 3 ændrede og 48 uændrede" in summary
    assert "Nye klasser 32.05.04" in summary
    changed = summary.split("Ændrede klasser")[1].split("Udgået eller flyttet med denne fil")[0]
    assert "17.01.02" in changed and "(før: Aftaler vedrørende cykelstier (syntetisk))" in changed
    assert "27.01.03" in changed
    assert "17.02.01" in summary.split("Udgået eller flyttet med denne fil")[1]
    assert class_id(newer, "32.05.04")  # examples link to the class pages

    broken = text(upload(operator, "broken-code-format.xml"))
    assert "KLE-filen blev ikke indlæst" in broken and "Filen blev ikke indlæst, fordi den har fejl" in broken
    assert "Fejl i filen (4)" in broken and "Linje " in broken and "wrong code format" in broken
    empty = submit(operator, "/admin/klassifikation/kle", {}, 422, content_type="multipart/form-data")
    assert "Vælg en KLE-fil" in empty.get_data(as_text=True)
    latest = text(page(operator, "/admin/klassifikation/kle"))
    assert "Seneste indlæsninger" in latest and "broken-code-format.xml Ikke indlæst" in latest
    assert "emneplan-xml2-2026-04.xml Indlæst" in latest and "1 nye, 3 ændrede" in latest


def test_the_kle_job_page_shows_a_running_import_as_a_progress_bar(app, site):
    operator = logged_in(app, "operator")
    with open(KLE / "emneplan-xml2-2026-01.xml", "rb") as f:
        r = submit(operator, "/admin/klassifikation/kle", {"file": (f, "k.xml")}, content_type="multipart/form-data")
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    with app.app_context(), get_db().transaction() as conn:  # as a runner that has just taken it writes it
        conn.execute("UPDATE kle_import_job SET state = 'running', attempts = 1, heartbeat_at = now(), "
                     "progress = '{\"phase\": \"parse\"}' WHERE id = %(id)s", {"id": job_id})
    parsing = page(operator, r.headers["Location"])
    assert "KLE-filen indlæses" in parsing and '<label for="kle-progress">Læser filen</label>' in parsing
    assert '<progress id="kle-progress" aria-describedby="kle-progress-text"></progress>' in parsing
    with app.app_context(), get_db().transaction() as conn:  # as a runner that got this far writes it
        conn.execute("UPDATE kle_import_job SET state = 'running', attempts = 2, heartbeat_at = now(), "
                     "progress = '{\"phase\": \"import\", \"done\": 1200, \"total\": 2500}' WHERE id = %(id)s",
                     {"id": job_id})
    running = page(operator, r.headers["Location"])
    assert '<meta http-equiv="refresh" content="1">' in running
    assert '<progress id="kle-progress" max="2500" value="1200" aria-describedby="kle-progress-text">' in running
    assert '<label for="kle-progress">Indlæser klasserne</label>' in running
    assert "1.200 af 2.500 klasser (48 %)" in text(running) and "forsøg 2 af 3" in running
    assert "Ingen adgang" in page(logged_in(app, "admin751"), r.headers["Location"], 403)
    assert "Siden findes ikke" in page(operator, "/admin/klassifikation/kle/00000000-0000-4000-8000-000000000000",
                                       404)


def test_the_kle_tree_as_of_a_date_a_class_with_history_and_search(app, site):
    upload(logged_in(app, "operator"), "emneplan-xml2-2026-01.xml")
    upload(logged_in(app, "operator"), "emneplan-xml2-2026-04.xml")
    with app.app_context():
        search = get_search()
        search.ensure_indexes()
        drain(get_db(), search, refresh=True)
    admin = logged_in(app, "admin751")
    home = page(admin, "/admin/klassifikation")
    assert "Fælles typer" in home and "KLE-emneplanen" in home and "Indlæs KLE-fil" not in home

    tree = page(admin, f"/admin/klassifikation/facets/{KLE_EMNEPLAN}")
    top = class_id(tree, "17")
    assert "17.01" not in text(tree)  # folded: only the hovedgrupper
    opened = page(admin, f"/admin/klassifikation/facets/{KLE_EMNEPLAN}?open={top}")
    group = class_id(opened, "17.01")
    opened = page(admin, f"/admin/klassifikation/facets/{KLE_EMNEPLAN}?open={group}")
    subject = class_id(opened, "17.01.02")
    assert 'aria-expanded="true"' in opened
    # As of a day before the newer edition, 17.02.01 (retired in it) is still in the tree.
    group2 = class_id(page(admin, f"/admin/klassifikation/facets/{KLE_EMNEPLAN}?open={top}"), "17.02")
    now = page(admin, f"/admin/klassifikation/facets/{KLE_EMNEPLAN}?open={group2}")
    before = page(admin, f"/admin/klassifikation/facets/{KLE_EMNEPLAN}?open={group2}&as_of=2026-03-01")
    assert ">17.02.01<" not in now and ">17.02.01<" in before

    detail = text(page(admin, f"/admin/klassifikation/classes/{subject}"))
    assert "Historik" in detail and "Registreringer" in detail and "Emne" in detail
    assert re.search(r"Titel: .+ → .+", detail), detail  # the newer edition's title change
    assert "user:operator" in detail and "KLE emneplan" in detail
    old = text(page(admin, f"/admin/klassifikation/classes/{subject}?as_of=2026-03-01"))
    assert old.split("Oplysninger pr.")[1].split("Titel")[1][:60] != detail.split("Oplysninger pr.")[1].split(
        "Titel")[1][:60]

    found = page(admin, "/admin/klassifikation/search?q=vandløb")
    assert "klasser fundet" in text(found) and "vandløb" in text(found).lower()
    assert "Søgeresultater" in found
    assert "0 klasser fundet" in text(page(admin, "/admin/klassifikation/search?q=zzzyyyxxx"))


def test_local_classification_facet_and_class_created_and_edited_from_a_date(app, site):
    admin = logged_in(app, "admin751")
    submit(admin, "/admin/klassifikation/lokale/ny", {"user_key": "lokal", "title": "Aarhus' egne",
                                                      "description": ""})
    local = page(admin, "/admin/klassifikation/lokale")
    klassifikation = re.search(r"/admin/klassifikation/lokale/([0-9a-f-]{36})/facetter/ny", local).group(1)
    submit(admin, f"/admin/klassifikation/lokale/{klassifikation}/facetter/ny",
           {"user_key": "sagstyper", "title": "Lokale sagstyper", "description": "Til test"})
    facet = re.search(r"/admin/klassifikation/classes/new\?facet=([0-9a-f-]{36})",
                      page(admin, "/admin/klassifikation/lokale")).group(1)
    # A refused form keeps the values and names the field.
    r = submit(admin, "/admin/klassifikation/classes/new", {"facet": facet, "user_key": "a b", "title": "X",
                                                            "valid_from": "2026-01-01"}, 422)
    assert 'aria-invalid="true"' in r.get_data(as_text=True) and "user_key-error" in r.get_data(as_text=True)
    r = submit(admin, "/admin/klassifikation/classes/new", {"facet": facet, "user_key": "S1", "title": "Sag A",
                                                            "parent_code": "NOPE", "valid_from": "2026-01-01"}, 422)
    assert "ingen klasse med koden NOPE" in r.get_data(as_text=True)
    r = submit(admin, "/admin/klassifikation/classes/new", {
        "facet": facet, "user_key": "S1", "title": "Sagstype A", "valid_from": "2020-01-01",
        "search_words": "ansøgning\nklage"})
    url = r.headers["Location"]
    assert "Sagstype A" in page(admin, url) and "ansøgning, klage" in text(page(admin, url))
    class_uuid = url.rsplit("/", 1)[1]
    child = submit(admin, "/admin/klassifikation/classes/new", {
        "facet": facet, "user_key": "S1.1", "title": "Undertype", "parent_code": "S1", "valid_from": "2020-01-01"},
        form_url="/admin/klassifikation/classes/new")
    assert "S1 Sagstype A" in text(page(admin, child.headers["Location"]))

    edit = page(admin, f"/admin/klassifikation/classes/{class_uuid}/edit")
    etag = htmllib.unescape(re.search(r'name="etag" value="([^"]*)"', edit).group(1))
    submit(admin, f"/admin/klassifikation/classes/{class_uuid}/edit", {
        "etag": etag, "valid_from": "2099-01-01", "title": "Sagstype A (ny)", "description": "",
        "search_words": "ansøgning\nklage"})
    detail = text(page(admin, f"/admin/klassifikation/classes/{class_uuid}"))
    assert "Titel Sagstype A " in detail and "Planlagt \u2013 træder i kraft" in detail
    assert "Titel: Sagstype A → Sagstype A (ny)" in detail
    assert "Sagstype A (ny)" in text(page(admin, f"/admin/klassifikation/classes/{class_uuid}?as_of=2099-06-01"))
    # The old form's ETag is stale now: refused, nothing overwritten.
    stale = submit(admin, f"/admin/klassifikation/classes/{class_uuid}/edit", {
        "etag": etag, "valid_from": "2026-01-01", "title": "Tabt", "description": "", "search_words": ""}, 422)
    assert "ændret af en anden" in stale.get_data(as_text=True)
    # The tree of the local facet, and the class is not visible to another municipality.
    assert "Sagstype A" in page(admin, f"/admin/klassifikation/facets/{facet}")
    other = logged_in(app, "admin101")
    page(other, f"/admin/klassifikation/classes/{class_uuid}", 404)
    page(other, f"/admin/klassifikation/facets/{facet}", 404)
    assert "Aarhus' egne" not in page(other, "/admin/klassifikation")


def test_sortiment_created_from_codes_and_changed_into_a_new_version(app, site):
    upload(logged_in(app, "operator"), "emneplan-xml2-2026-01.xml")
    admin = logged_in(app, "admin751")
    form = page(admin, "/admin/klassifikation/sortimenter/ny")
    system = re.search(r'<option value="([0-9a-f-]{36})"[^>]*>a1 \(Vendor A\)', form).group(1)
    assert "b1 (Vendor B)" not in form  # B1's agreement is with 101
    r = submit(admin, "/admin/klassifikation/sortimenter/ny", {
        "name": "Vandløb", "system_id": system, "facet": KLE_EMNEPLAN, "codes": "17.01* 99.99"}, 422)
    assert "Ingen klasse i facetten i dag med koden 99.99" in r.get_data(as_text=True)
    r = submit(admin, "/admin/klassifikation/sortimenter/ny", {
        "name": "Vandløb", "system_id": system, "facet": KLE_EMNEPLAN, "codes": "17.01*, 27.01.01"})
    view = page(admin, r.headers["Location"])
    assert text(view).count("Syntetisk") >= 1 and len(re.findall(r'name="keep"', view)) == 5
    keep = re.findall(r'name="keep" value="([^"]+)"', view)
    r = submit(admin, r.headers["Location"], {"keep": keep[1:], "facet": KLE_EMNEPLAN, "codes": "17.02"})
    view = text(page(admin, r.headers["Location"]))
    assert "Sortimentet er gemt som version 2" in view and "Klasser 5" in view
    listing = text(page(admin, "/admin/klassifikation/sortimenter"))
    assert "Vandløb a1 (Vendor A) 2 5" in listing
    assert "Vandløb" not in page(logged_in(app, "admin101"), "/admin/klassifikation/sortimenter")


def test_roles_csrf_and_escaping(app, site):
    vendor = logged_in(app, "vendora")
    for url in ("/admin/klassifikation", f"/admin/klassifikation/facets/{KLE_EMNEPLAN}",
                "/admin/klassifikation/search?q=x", "/admin/klassifikation/lokale", "/admin/klassifikation/kle",
                "/admin/klassifikation/sortimenter", "/admin/klassifikation/classes/new"):
        assert "Ingen adgang" in page(vendor, url, 403)
    admin = logged_in(app, "admin751")
    assert "Ingen adgang" in page(admin, "/admin/klassifikation/kle", 403)  # KLE is the operators'
    home = page(admin, "/admin/")
    assert 'href="/admin/klassifikation"' in home and 'href="/admin/distribution"' in home
    assert 'href="/admin/klassifikation"' not in page(vendor, "/admin/")
    r = admin.post("/admin/klassifikation/lokale/ny", data={"user_key": "x", "title": "Uden token"})
    assert r.status_code == 400 and "sikkerhedstegn (CSRF)" in r.get_data(as_text=True)
    operator = logged_in(app, "operator")
    with open(KLE / "emneplan-xml2-2026-01.xml", "rb") as f:
        r = operator.post("/admin/klassifikation/kle", data={"file": (f, "k.xml")}, content_type="multipart/form-data")
    assert r.status_code == 400

    submit(admin, "/admin/klassifikation/lokale/ny", {"user_key": "xss", "title": XSS[1]})
    local = page(admin, "/admin/klassifikation/lokale")
    klassifikation = re.search(r"/admin/klassifikation/lokale/([0-9a-f-]{36})/facetter/ny", local).group(1)
    submit(admin, f"/admin/klassifikation/lokale/{klassifikation}/facetter/ny", {"user_key": "f", "title": XSS[0]})
    facet = re.search(r"/admin/klassifikation/classes/new\?facet=([0-9a-f-]{36})",
                      page(admin, "/admin/klassifikation/lokale")).group(1)
    for n, probe in enumerate(XSS):
        r = submit(admin, "/admin/klassifikation/classes/new", {
            "facet": facet, "user_key": f"X{n}", "title": probe, "valid_from": "2020-01-01", "search_words": probe,
            "description": probe})
        pages = [page(admin, r.headers["Location"]), page(admin, "/admin/klassifikation/lokale"),
                 page(admin, f"/admin/klassifikation/facets/{facet}"), page(admin, "/admin/klassifikation"),
                 page(admin, r.headers["Location"] + "/edit")]
        for html in pages:
            assert probe not in html and str(escape(probe)) in html
