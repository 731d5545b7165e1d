"""The admin web's access and usage pages (Adgang, Leverandør, Forbrug) through Flask's test client:
who may open them, tenancy, CSRF, escaping, the secret shown once, agreements from request to token,
roles and assignments, the access-log viewer's filters and paging, and the usage CSV; plus the
pages' helpers as plain functions."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta

import pytest
from markupsafe import escape

from admin.access_forms import constraints_from_form, describe_constraints, split_list
from admin.access_log import describe_person, person_urn
from admin.usage import _cell, _nice, chart, daily
from authz import usage
from authz.auth_api import basic_auth_header
from tests.admin_world import csrf_token, seed
from tests.test_admin_security import logged_in, page
from tests.world import CVR, bearer

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.fixture
def site(app):
    return seed(app)


def post(client, url: str, data: dict, form_page: str | None = None):
    """POST a form of the admin web with the CSRF token of the page it is on."""
    html = page(client, form_page or url)
    return client.post(url, data={**data, "csrf_token": csrf_token(html)})


def secret_of(html: str) -> tuple[str, str]:
    """(client id, client secret) from the page that shows them once."""
    found = dict(re.findall(r'<input id="(client_id|client_secret)" type="text" value="([^"]*)"', html))
    return found["client_id"], found["client_secret"]


def token_status(app, client_id: str, secret: str, service: str = "registry", municipality: int = 751):
    r = app.test_client().post("/api/v1/auth/token", data={
        "grant_type": "client_credentials", "municipality": CVR[municipality], "audience": service},
        headers={"Authorization": basic_auth_header(client_id, secret)})
    return r.status_code, r.get_json()


def employee_uuid(app, world) -> str:
    """The UUID of the seeded employee `anje` of Borgerservice in 751."""
    units = app.test_client().get("/api/v1/organisation/hierarchy", headers=bearer(world.login("admin751")))
    bs = next(u["uuid"] for u in units.get_json()["items"] if u["name"] == "Borgerservice")
    functions = app.test_client().get(f"/api/v1/organisation/units/{bs}/functions",
                                      headers=bearer(world.login("admin751"))).get_json()
    return next(u["uuid"] for f in functions for u in f["users"] if u["user_key"] == "anje")


def request_agreement(client, vendor_id: str, system_id: str, **extra):
    url = f"/admin/leverandoer/{vendor_id}/aftaler/ny"
    return post(client, url, {"system_id": system_id, "service": "registry", "municipality_code": "751",
                              "roles": ["read"], **extra})


# -- who may open what --------------------------------------------------------------------------------------------

def test_a_vendor_admin_cannot_reach_the_municipality_pages_and_vice_versa(app, site):
    w = site.world
    vendor = logged_in(app, "vendora")
    home = page(vendor, "/admin/")
    assert "Leverandør" in home and 'href="/admin/adgang"' not in home and 'href="/admin/forbrug"' not in home
    agreement = w.sql("SELECT id FROM agreement WHERE system_id = %(s)s", {"s": w.ids["a1"]})[0]["id"]
    for url in ("/admin/adgang", "/admin/adgang/roller", "/admin/adgang/roller/ny", "/admin/adgang/adgangslog",
                f"/admin/adgang/aftaler/{agreement}", "/admin/forbrug", "/admin/forbrug.csv"):
        text = page(vendor, url, 403)
        assert "Ingen adgang" in text
    r = vendor.post(f"/admin/adgang/aftaler/{agreement}", data={"decision": "approve", "csrf_token": csrf_token(home)})
    assert r.status_code == 403
    municipality = logged_in(app, "admin751")
    home = page(municipality, "/admin/")
    assert 'href="/admin/adgang"' in home and 'href="/admin/forbrug"' in home and "/admin/leverandoer" not in home
    for url in ("/admin/leverandoer", f"/admin/leverandoer/{w.ids['Vendor A']}",
                f"/admin/leverandoer/{w.ids['Vendor A']}/aftaler"):
        assert "Ingen adgang" in page(municipality, url, 403)
    # A vendor admin's vendor is their own: another vendor's pages are not found.
    for url in (f"/admin/leverandoer/{w.ids['Vendor B']}", f"/admin/leverandoer/{w.ids['Vendor B']}/aftaler",
                f"/admin/leverandoer/{w.ids['Vendor B']}/systemer/{w.ids['b1']}",
                f"/admin/leverandoer/{w.ids['Vendor A']}/systemer/{w.ids['b1']}"):
        page(vendor, url, 404)
    assert vendor.get("/admin/leverandoer").headers["Location"] == f"/admin/leverandoer/{w.ids['Vendor A']}"


def test_one_municipality_admin_cannot_see_another_municipalitys_agreements_or_access_log(app, site):
    w = site.world
    mine = w.sql("SELECT id FROM agreement WHERE municipality_code = 751")[0]["id"]
    theirs = w.sql("SELECT id FROM agreement WHERE municipality_code = 101")[0]["id"]
    person751, person101 = uuid.uuid4(), uuid.uuid4()
    for admin, person, system in (("admin751", person751, "a1"), ("admin101", person101, "b1")):
        r = app.test_client().get(f"/api/v1/users/{person}/privileges", query_string={"system_id": w.ids[system]},
                                  headers=bearer(w.login(admin)))
        assert r.status_code == 200, r.get_json()
    client = logged_in(app, "admin751")
    overview = page(client, "/admin/adgang")
    assert str(mine) in overview and str(theirs) not in overview
    assert "Siden findes ikke" in page(client, f"/admin/adgang/aftaler/{theirs}", 404)
    r = post(client, f"/admin/adgang/aftaler/{theirs}", {"decision": "terminate"}, "/admin/adgang")
    assert r.status_code == 404
    log = page(client, "/admin/adgang/adgangslog")
    assert f"urn:uuid:{person751}" in log and f"urn:uuid:{person101}" not in log
    # The last day Python holds has no day after it: the period is open-ended, not an error.
    assert f"urn:uuid:{person751}" in page(client, "/admin/adgang/adgangslog?from=2000-01-01&to=9999-12-31")
    assert "Forbrug" in page(client, "/admin/forbrug?from=9999-12-31&to=9999-12-31")
    assert 'id="resultat">0 opslag' in page(client, f"/admin/adgang/adgangslog?person={person101}")
    other = logged_in(app, "admin101")
    assert f"urn:uuid:{person101}" in page(other, f"/admin/adgang/adgangslog?person={person101}")
    assert str(theirs) in page(other, "/admin/adgang")


def test_an_operator_works_on_the_chosen_municipality(app, site):
    client = logged_in(app, "operator")
    assert client.get("/admin/adgang").headers["Location"] == "/admin/"
    assert post(client, "/admin/kommune", {"code": "101"}, "/admin/").status_code == 302
    theirs = site.world.sql("SELECT id FROM agreement WHERE municipality_code = 101")[0]["id"]
    mine = site.world.sql("SELECT id FROM agreement WHERE municipality_code = 751")[0]["id"]
    overview = page(client, "/admin/adgang")
    assert str(theirs) in overview and str(mine) not in overview
    assert "Vendor A" in page(client, "/admin/leverandoer") and "Vendor B" in page(client, "/admin/leverandoer")
    page(client, "/admin/adgang/adgangslog")
    page(client, "/admin/forbrug")


# -- CSRF and escaping -----------------------------------------------------------------------------------------

def test_forms_without_their_csrf_token_are_refused(app, site):
    w = site.world
    [requested] = w.sql("INSERT INTO agreement (system_id, service, municipality_code, roles) "
                        "VALUES (%(s)s, 'organisation', 751, '{read}') RETURNING id", {"s": w.ids["a1"]})
    client = logged_in(app, "admin751")
    url = f"/admin/adgang/aftaler/{requested['id']}"
    assert client.post(url, data={"decision": "approve"}).status_code == 400
    assert client.post(url, data={"decision": "approve", "csrf_token": "forged"}).status_code == 400
    assert w.sql("SELECT state FROM agreement WHERE id = %(id)s", {"id": requested["id"]})[0]["state"] == "requested"
    vendor = logged_in(app, "vendora")
    r = vendor.post(f"/admin/leverandoer/{w.ids['Vendor A']}", data={"name": "Uden token"})
    assert r.status_code == 400 and "sikkerhedstegn (CSRF)" in r.get_data(as_text=True)
    assert not w.sql("SELECT 1 FROM it_system WHERE name = 'Uden token'")
    r = vendor.post(f"/admin/leverandoer/{w.ids['Vendor A']}/systemer/{w.ids['a1']}/hemmelighed")
    assert r.status_code == 400
    assert token_status(app, "a1", w.secrets["a1"])[0] == 200  # the secret was not replaced
    # With its token the approval goes through.
    r = post(client, url, {"decision": "approve", "note": "God fornøjelse"})
    assert r.status_code == 302
    assert w.sql("SELECT state FROM agreement WHERE id = %(id)s", {"id": requested["id"]})[0]["state"] == "approved"
    assert "God fornøjelse" in page(client, url)


def test_an_xss_probe_in_a_system_name_renders_escaped(app, site):
    w = site.world
    vendor = logged_in(app, "vendora")
    systems_url = f"/admin/leverandoer/{w.ids['Vendor A']}"
    for probe in XSS:
        r = post(vendor, systems_url, {"name": probe})
        assert r.status_code == 200, r.get_data(as_text=True)
        texts = [r.get_data(as_text=True), page(vendor, systems_url)]
        system_id = w.sql("SELECT id FROM it_system WHERE name = %(n)s", {"n": probe})[0]["id"]
        r = request_agreement(vendor, w.ids["Vendor A"], str(system_id))
        assert r.status_code == 302, r.get_data(as_text=True)
        texts += [page(vendor, r.headers["Location"]), page(vendor, f"{systems_url}/aftaler"),
                  page(vendor, f"{systems_url}/systemer/{system_id}")]
        admin = logged_in(app, "admin751")
        agreement = w.sql("SELECT id FROM agreement WHERE system_id = %(s)s", {"s": system_id})[0]["id"]
        texts += [page(admin, "/admin/adgang"), page(admin, f"/admin/adgang/aftaler/{agreement}")]
        for text in texts:
            assert probe not in text
            assert str(escape(probe)) in text
    # A refused form shows what was typed, escaped.
    r = post(vendor, systems_url, {"name": XSS[1], "cert_thumbprint": XSS[0]})
    text = r.get_data(as_text=True)
    assert r.status_code == 422 and XSS[0] not in text and str(escape(XSS[0])) in text


# -- systems, secrets and agreements ---------------------------------------------------------------------------

def test_from_a_new_system_to_a_token_with_the_secret_shown_once(app, site):
    w = site.world
    vendor = logged_in(app, "vendora")
    systems_url = f"/admin/leverandoer/{w.ids['Vendor A']}"
    r = post(vendor, systems_url, {"name": "Journal Nord"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    text = r.get_data(as_text=True)
    assert "Gem hemmeligheden nu" in text and "kun denne ene gang" in text
    client_id, secret = secret_of(text)
    assert client_id.startswith("sys-") and len(secret) >= 32
    system_id = str(w.sql("SELECT id FROM it_system WHERE client_id = %(c)s", {"c": client_id})[0]["id"])
    for url in (systems_url, f"{systems_url}/systemer/{system_id}"):
        shown = page(vendor, url)
        assert client_id in shown and secret not in shown  # never shown again
    assert token_status(app, client_id, secret)[0] == 403  # no agreement yet
    # The request, in Danish next to its fields when it is wrong.
    r = request_agreement(vendor, w.ids["Vendor A"], system_id, municipality_code="99", roles=[], kle="abc")
    text = r.get_data(as_text=True)
    assert r.status_code == 422
    for field in ("municipality_code", "roles", "kle"):
        assert f'id="{field}-error"' in text, field
    assert "Vælg mindst én rolle" in text
    r = request_agreement(vendor, w.ids["Vendor A"], system_id, kle="27.*", see_name="on")
    assert r.status_code == 302
    text = page(vendor, r.headers["Location"])
    assert "Afventer godkendelse" in text and "Aarhus" in text and "KLE-emner: 27.*" in text
    again = request_agreement(vendor, w.ids["Vendor A"], system_id)
    assert again.status_code == 422 and "Der findes allerede en anmodet" in again.get_data(as_text=True)
    # The municipality approves.
    admin = logged_in(app, "admin751")
    agreement = w.sql("SELECT id FROM agreement WHERE system_id = %(s)s", {"s": system_id})[0]["id"]
    overview = page(admin, "/admin/adgang")
    waiting = overview.split('id="aftaler-requested"')[1].split("</section>")[0]
    assert "Journal Nord" in waiting
    r = post(admin, f"/admin/adgang/aftaler/{agreement}", {"decision": "approve", "note": "Velkommen"})
    assert r.status_code == 302
    assert "Aftalen er godkendt" in page(admin, r.headers["Location"])
    status, body = token_status(app, client_id, secret)
    assert status == 200 and body["access_token"]
    # Deciding twice is refused on the page (the form is gone, a stale POST explains why).
    r = post(admin, f"/admin/adgang/aftaler/{agreement}", {"decision": "reject"}, "/admin/adgang")
    assert r.status_code == 422 and "nuværende tilstand" in r.get_data(as_text=True)
    # New credentials: shown once; the old secret stops working.
    r = post(vendor, f"{systems_url}/systemer/{system_id}/hemmelighed", {}, f"{systems_url}/systemer/{system_id}")
    same_id, new_secret = secret_of(r.get_data(as_text=True))
    assert same_id == client_id and new_secret != secret
    assert "Den tidligere hemmelighed virker ikke længere" in r.get_data(as_text=True)
    assert token_status(app, client_id, secret)[0] == 401
    assert token_status(app, client_id, new_secret)[0] == 200
    # The vendor terminates; the token endpoint refuses from then on.
    r = post(vendor, f"{systems_url}/aftaler/{agreement}", {"decision": "terminate"})
    assert r.status_code == 302
    assert token_status(app, client_id, new_secret)[0] == 403
    assert "Opsagt" in page(admin, f"/admin/adgang/aftaler/{agreement}")


def test_a_municipality_rejects_a_request_with_a_note(app, site):
    w = site.world
    vendor = logged_in(app, "vendora")
    assert request_agreement(vendor, w.ids["Vendor A"], w.ids["a1"], service="organisation").status_code == 302
    agreement = w.sql("SELECT id FROM agreement WHERE service = 'organisation'")[0]["id"]
    admin = logged_in(app, "admin751")
    r = post(admin, f"/admin/adgang/aftaler/{agreement}", {"decision": "reject", "note": "Ikke nødvendigt"})
    assert r.status_code == 302
    text = page(vendor, f"/admin/leverandoer/{w.ids['Vendor A']}/aftaler/{agreement}")
    assert "Afvist" in text and "Ikke nødvendigt" in text
    rejected = page(vendor, f"/admin/leverandoer/{w.ids['Vendor A']}/aftaler").split('id="aftaler-rejected"')[1]
    assert str(agreement) in rejected.split("</section>")[0]


# -- roles and assignments -------------------------------------------------------------------------------------

def test_roles_from_the_vendor_to_a_users_privileges(app, site, today):
    w = site.world
    vendor = logged_in(app, "vendora")
    system_url = f"/admin/leverandoer/{w.ids['Vendor A']}/systemer/{w.ids['a1']}"
    r = post(vendor, f"{system_url}/roller", {"key": "ikke en urn", "name": "Læs"}, system_url)
    assert r.status_code == 422 and 'id="key-error"' in r.get_data(as_text=True)
    r = post(vendor, f"{system_url}/roller", {"key": "urn:dk:a1:sag-laes", "name": "Læs sager"}, system_url)
    assert r.status_code == 302 and "urn:dk:a1:sag-laes" in page(vendor, system_url)
    usr = w.sql("SELECT id FROM user_system_role WHERE key = 'urn:dk:a1:sag-laes'")[0]["id"]

    admin = logged_in(app, "admin751")
    roles = page(admin, "/admin/adgang/roller")
    assert "Læs sager" in roles and "urn:dk:a1:sag-laes" in roles  # a1 has an approved agreement with 751
    r = post(admin, "/admin/adgang/roller/ny", {"name": "Sagsbehandler", "user_system_role_ids": [str(usr)],
                                                "kle": "27.* 99x"})
    assert r.status_code == 422 and 'id="kle-error"' in r.get_data(as_text=True)
    r = post(admin, "/admin/adgang/roller/ny", {"name": "Sagsbehandler", "user_system_role_ids": [str(usr)],
                                                "kle": "27.*, 32.01.*", "see_cpr": "on",
                                                "sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"})
    assert r.status_code == 302
    role_url = r.headers["Location"]
    text = page(admin, role_url)
    assert "KLE-emner: 27.*, 32.01.*" in text and "Må se CPR-numre" in text and "Læs sager" in text
    assert "Sagsbehandler" in page(admin, "/admin/adgang/roller")

    anje = employee_uuid(app, w)
    r = post(admin, f"{role_url}/tildelinger", {"user": "anje"}, role_url)  # nothing is indexed in this app
    assert r.status_code == 422 and "Skriv brugerens UUID" in r.get_data(as_text=True)
    r = post(admin, f"{role_url}/tildelinger", {"user": str(uuid.uuid4())}, role_url)
    assert r.status_code == 422 and "ingen bruger med dette UUID" in r.get_data(as_text=True)
    start = today - timedelta(days=1)
    r = post(admin, f"{role_url}/tildelinger", {"user": anje, "valid_from": start.isoformat()}, role_url)
    assert r.status_code == 302
    text = page(admin, role_url)
    assert "Anne Jensen" in text and "anje" in text
    profile = app.test_client().get(f"/api/v1/users/{anje}/privileges", query_string={"system_id": w.ids["a1"]},
                                    headers=bearer(w.login("admin751"))).get_json()
    assert [p["role"] for p in profile["privileges"]] == ["urn:dk:a1:sag-laes"]
    r = post(admin, f"{role_url}/tildelinger", {"user": anje}, role_url)  # overlaps the one above
    assert r.status_code == 422 and "overlapper" in r.get_data(as_text=True)
    # Another municipality's admin does not see the role; removing the assignment ends the privilege.
    assert "Siden findes ikke" in page(logged_in(app, "admin101"), role_url, 404)
    assignment = w.sql("SELECT id FROM role_assignment")[0]["id"]
    r = post(admin, f"{role_url}/tildelinger/{assignment}/fjern", {}, role_url)
    assert r.status_code == 302 and "Ingen brugere har rollen" in page(admin, role_url)


def test_a_role_is_assigned_by_user_key(app, site, deliver):
    deliver()  # the user key is looked up in the Organisation search
    admin = logged_in(app, "admin751")
    r = post(admin, "/admin/adgang/roller/ny", {"name": "Læser"})
    role_url = r.headers["Location"]
    r = post(admin, f"{role_url}/tildelinger", {"user": "anje"}, role_url)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert "Anne Jensen" in page(admin, role_url)
    r = post(admin, f"{role_url}/tildelinger", {"user": "ingen-saadan"}, role_url)
    assert r.status_code == 422 and "ingen bruger med brugernavnet ingen-saadan" in r.get_data(as_text=True)


# -- the access log --------------------------------------------------------------------------------------------

def test_the_access_log_filters_by_person_system_and_period_and_pages(app, site, today):
    w = site.world
    w.agreement("a1", "adgangsstyring", 751)
    system_token = w.token("a1", "adgangsstyring", 751)
    person, other = uuid.uuid4(), uuid.uuid4()
    api = app.test_client()
    for _ in range(30):
        assert api.get(f"/api/v1/users/{person}/privileges", headers=bearer(system_token)).status_code == 200
    assert api.get(f"/api/v1/users/{other}/privileges", query_string={"system_id": w.ids["a1"]},
                   headers=bearer(w.login("admin751"))).status_code == 200
    client = logged_in(app, "admin751")
    first = page(client, f"/admin/adgang/adgangslog?person={person}")
    assert "30 opslag" in first and first.count("Rettighedsprofil læst") == 25
    assert "System: a1 (Vendor A)" in first and "Se aftalen" in first
    next_url = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = page(client, next_url)
    assert second.count("Rettighedsprofil læst") == 5 and 'rel="next"' not in second and "Første side" in second
    # By system: the admin's own read of `other` was not made by a1.
    by_system = page(client, f"/admin/adgang/adgangslog?system={w.ids['a1']}")
    assert f"urn:uuid:{other}" not in by_system and f"urn:uuid:{person}" in by_system
    assert f"urn:uuid:{other}" in page(client, f"/admin/adgang/adgangslog?person={other}")
    # By period (both days inclusive, Danish time).
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert 'id="resultat">0 opslag' in page(client, f"/admin/adgang/adgangslog?person={person}&from={tomorrow}")
    today = page(client, f"/admin/adgang/adgangslog?person={person}&from={today}&to={today}")
    assert re.search(r"\b3\d opslag", today)  # the 30 reads, and this page's own earlier reads of the log
    bad = client.get("/admin/adgang/adgangslog?from=i%20går&to=2020-01-01&person=x")
    assert bad.status_code == 422 and 'id="from-error"' in bad.get_data(as_text=True)


def test_person_urns_and_their_display():
    assert person_urn("010101-1234") == person_urn("0101011234") == "urn:oio:cpr-nr:0101011234"
    u = uuid.uuid4()
    assert person_urn(str(u).upper()) == f"urn:uuid:{u}"
    assert person_urn(" urn:x:y ") == "urn:x:y"
    assert describe_person("urn:oio:cpr-nr:0101011234") == "CPR 010101-1234"
    assert describe_person(f"urn:uuid:{u}") == f"urn:uuid:{u}"


# -- usage -----------------------------------------------------------------------------------------------------

def test_usage_page_and_csv(app, site, today):
    w = site.world
    api = app.test_client()
    token751, token101 = w.token("a1", "registry", 751), w.token("b1", "registry", 101)
    for _ in range(3):
        assert api.get("/api/v1/municipalities/751", headers=bearer(token751)).status_code == 200
    assert api.get("/api/v1/me", headers=bearer(token751)).status_code == 200
    assert api.get("/api/v1/municipalities/101", headers=bearer(token101)).status_code == 200
    usage.flush(app)
    client = logged_in(app, "admin751")
    text = page(client, "/admin/forbrug")
    assert "I alt 4 kald i perioden" in text and "Kommuneregister" in text and "<svg" in text
    assert text.count("<rect ") >= 1 and "4 kald</title>" in text
    r = client.get(f"/admin/forbrug.csv?from={today.replace(day=1)}&to={today}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="forbrug-751-')
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Dato", "Kommunekode", "System", "System-id", "Tjeneste", "Operation", "Kald"]
    assert sorted(rows[1:]) == [
        [today.isoformat(), "751", "a1", w.ids["a1"], "registry", "GET /api/v1/me", "1"],
        [today.isoformat(), "751", "a1", w.ids["a1"], "registry", "GET /api/v1/municipalities/<int:code>", "3"]]
    empty = client.get(f"/admin/forbrug.csv?from={today + timedelta(days=1)}&to={today + timedelta(days=2)}")
    assert list(csv.reader(io.StringIO(empty.data.decode("utf-8-sig")), delimiter=";"))[1:] == []
    bad = client.get("/admin/forbrug?from=2026-02-10&to=2026-02-01")
    assert bad.status_code == 422 and 'id="to-error"' in bad.get_data(as_text=True)


def test_usage_helpers():
    sys = {"system_id": "s", "system_name": "Sys", "service": "yi"}
    rows = [{**sys, "day": "2026-03-01", "operation": "A", "calls": 2},
            {**sys, "day": "2026-03-01", "operation": "B", "calls": 3},
            {"day": "2026-03-03", "system_id": "t", "system_name": "Tys", "service": "sdi", "operation": "A",
             "calls": 7}]
    per_day = daily(rows)
    assert [(r["day"], r["system_name"], r["calls"]) for r in per_day] == [("2026-03-01", "Sys", 5),
                                                                           ("2026-03-03", "Tys", 7)]
    drawn = chart(date(2026, 3, 1), date(2026, 3, 3), per_day, {"yi": "Ydelsesindeks"})
    assert len(drawn["bars"]) == 2 and len(drawn["labels"]) == 3 and len(drawn["series"]) == 2
    assert [t["value"] for t in drawn["ticks"]] == [0, 5, 10]
    tall = max(drawn["bars"], key=lambda b: b["h"])
    assert tall["title"] == "2026-03-03, Tys, sdi: 7 kald" and abs(tall["y"] + tall["h"] - drawn["axis_y"]) < 0.2
    assert [_nice(v) for v in (0, 1, 3, 5, 11, 400, 401)] == [2, 2, 4, 10, 20, 400, 1000]
    cells = [_cell(v) for v in ("=1+1", "+x", "-2", "@a", "ok", None, 5)]
    assert cells == ["'=1+1", "'+x", "'-2", "'@a", "ok", "", "5"]


def test_constraint_fields_and_their_description():
    form = {"kle": "27.*, 32.01.*\n27.35.04", "sensitivity": "", "see_cpr": "on", "org_units": "a b",
            "org_units_subtree": "", "municipalities": "101;461", "it_systems": ""}
    assert constraints_from_form(form) == {
        "kle": ["27.*", "32.01.*", "27.35.04"], "see_cpr": True, "municipalities": ["101", "461"],
        "org_units": [{"uuid": "a", "subtree": False}, {"uuid": "b", "subtree": False}]}
    assert constraints_from_form({}) == {} and split_list(" , ") == []
    assert describe_constraints({}) == ["Må ikke se CPR-numre", "Må ikke se navne"]
    assert describe_constraints({"kle": ["27.*"], "sensitivity": "VIP_SAGER", "org_units": [{"uuid": "a"}],
                                 "see_name": True}) == [
        "KLE-emner: 27.*", "Højeste følsomhed: VIP-sager", "Organisationsenheder: 1 (med underenheder)",
        "Må ikke se CPR-numre", "Må se navne"]
