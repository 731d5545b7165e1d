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


def upload(client, name: str, status: int = 200) -> str:
    with open(KLE / name, "rb") as f:
        r = submit(client, "/admin/klassifikation/kle", {"file": (f, name)}, status,
                   content_type="multipart/form-data")
    return r.get_data(as_text=True)


def text(html: str) -> str:
    """The page's text without tags, whitespace collapsed (for reading what a user sees)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def class_id(html: str, code: str) -> str:
    match = re.search(r'/admin/klassifikation/classes/([0-9a-f-]{36})[^"]*"><span class="code">' + re.escape(code)
                      + "<", html)
    assert match, f"no link to class {code}"
    return match.group(1)


def test_kle_upload_shows_what_changed_and_a_broken_file_its_lines(app, site):
    operator = logged_in(app, "operator")
    summary = text(upload(operator, "emneplan-xml2-2026-01.xml"))
    assert "KLE-filen er indlæst" in summary and "51 nye, 0 ændrede og 0 uændrede" in summary
    assert "Udgået (ifølge filen) 1" in summary and "Flyttet (ifølge filen) 1" in summary
    assert "Nye klasser 17 Syntetisk" in summary

    newer = upload(operator, "emneplan-xml2-2026-04.xml")
    summary = text(newer)
    assert "1 nye, 3 ændrede og 48 uændrede" in summary
    assert "Nye klasser 32.05.04" in summary
    changed = summary.split("Ændrede klasser")[1].split("Ikke længere gyldige")[0]
    assert "17.01.02" in changed and "(før: " in changed
    assert "17.02.01" in summary.split("Ikke længere gyldige")[1]

    broken = text(upload(operator, "broken-code-format.xml", 422))
    assert "Filen blev ikke indlæst, fordi den har fejl" in broken and "Linje " in broken
    assert "wrong code format" in broken
    empty = submit(operator, "/admin/klassifikation/kle", {}, 422, content_type="multipart/form-data")
    assert "Vælg en KLE-fil" in empty.get_data(as_text=True)


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
