"""The admin web's security, through its pages with Flask's test client (no browser needed):
login and its cookie, CSRF, role and tenancy rules, escaping of user input, lockout, idle
timeout, logout; and that API refusals come back as Danish messages next to their fields."""

from __future__ import annotations

import html

import pytest
from flask import Flask
from markupsafe import escape

from tests.admin_world import csrf_token, login, next_month, seed
from tests.world import bearer

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


@pytest.fixture
def site(app):
    return seed(app)


def page(client, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (r.status_code, r.headers.get("Location"), r.get_data(as_text=True)[:500])
    return r.get_data(as_text=True)


def logged_in(app, username: str):
    client = app.test_client()
    r = login(client, username)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def test_login_sets_a_locked_down_session_cookie_and_lands_on_the_start_page(app, site):
    client = app.test_client()
    r = login(client, "admin751")
    assert (r.status_code, r.headers["Location"]) == (302, "/admin/")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("sts_admin=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/admin"):
        assert attribute in cookie, cookie
    home = page(client, "/admin/")
    assert '<html lang="da">' in home and "Kommuneadministrator" in home and "Organisation" in home
    r = client.get("/admin/")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Cache-Control"] == "no-store" and r.headers["X-Frame-Options"] == "DENY"


def test_wrong_password_and_the_page_asked_for_before_login(app, site):
    client = app.test_client()
    r = client.get("/admin/organisation?as_of=2020-01-01")
    assert r.headers["Location"] == "/admin/login?next=/admin/organisation?as_of%3D2020-01-01"
    wrong = login(client, "admin751", "not the password")
    assert wrong.status_code == 401 and "Forkert brugernavn eller adgangskode" in wrong.get_data(as_text=True)
    form = page(client, "/admin/login?next=/admin/organisation?as_of%3D2020-01-01")
    r = client.post("/admin/login", data={"username": "admin751", "password": "correct horse battery staple",
                                          "next": "/admin/organisation?as_of=2020-01-01",
                                          "csrf_token": csrf_token(form)})
    assert r.headers["Location"] == "/admin/organisation?as_of=2020-01-01"
    # A `next` outside the admin web is not followed.
    other = app.test_client()
    form = page(other, "/admin/login")
    r = other.post("/admin/login", data={"username": "admin751", "password": "correct horse battery staple",
                                         "next": "//evil.example/admin", "csrf_token": csrf_token(form)})
    assert r.headers["Location"] == "/admin/"


def test_a_form_without_its_csrf_token_is_refused(app, site, today):
    client = logged_in(app, "admin751")
    body = {"name": "Uden token", "user_key": "UT", "unit_type": "afdeling",
            "parent": site.units["Testkommune"], "valid_from": today.isoformat()}
    r = client.post("/admin/organisation/units/new", data=body)
    assert r.status_code == 400
    assert "sikkerhedstegn (CSRF)" in r.get_data(as_text=True)
    r = client.post("/admin/organisation/units/new", data={**body, "csrf_token": "forged"})
    assert r.status_code == 400
    assert "Uden token" not in page(client, "/admin/organisation")
    # The login form too, and logging out (a cross-site logout is a nuisance, still refused).
    assert app.test_client().post("/admin/login", data={"username": "admin751", "password": "x"}).status_code == 400
    assert client.post("/admin/logout").status_code == 400
    # With the token the same form works.
    form = page(client, "/admin/organisation/units/new")
    r = client.post("/admin/organisation/units/new", data={**body, "csrf_token": csrf_token(form)})
    assert r.status_code == 302
    assert "Uden token" in page(client, r.headers["Location"])


def test_a_vendor_admin_cannot_reach_municipality_pages(app, site):
    client = logged_in(app, "vendora")
    home = page(client, "/admin/")
    assert "Leverandøradministrator" in home and 'href="/admin/organisation"' not in home
    for url in ("/admin/organisation", f"/admin/organisation/units/{site.units['Borgerservice']}",
                "/admin/organisation/changes", "/admin/organisation/units/new"):
        text = page(client, url, 403)
        assert "Ingen adgang" in text and "Borgerservice" not in text
    form = csrf_token(home)
    r = client.post("/admin/organisation/units/new", data={"name": "X", "user_key": "X", "unit_type": "afdeling",
                                                           "csrf_token": form})
    assert r.status_code == 403


def test_one_municipality_admin_cannot_see_another_municipality_unit(app, site):
    client = logged_in(app, "admin751")
    secret = site.units["Hemmelig enhed"]
    text = page(client, f"/admin/organisation/units/{secret}", 404)
    assert "Siden findes ikke" in text and "Hemmelig enhed" not in text
    assert "Hemmelig enhed" not in page(client, "/admin/organisation")
    edit = client.get(f"/admin/organisation/units/{secret}/edit")
    assert edit.status_code == 302 and client.get(edit.headers["Location"]).status_code == 404
    # The other municipality's admin sees it.
    other = logged_in(app, "admin101")
    assert "Hemmelig enhed" in page(other, f"/admin/organisation/units/{secret}")


def test_user_input_is_escaped_everywhere(app, site, today):
    client = logged_in(app, "admin751")
    for n, probe in enumerate(XSS):
        form = page(client, "/admin/organisation/units/new")
        r = client.post("/admin/organisation/units/new", data={
            "name": probe, "user_key": f"X{n}", "unit_type": "afdeling", "parent": site.units["Testkommune"],
            "valid_from": today.isoformat(), "csrf_token": csrf_token(form)})
        assert r.status_code == 302, r.get_data(as_text=True)
        unit_page = page(client, r.headers["Location"])
        pages = [unit_page, page(client, "/admin/organisation"),
                 page(client, f"/admin/organisation/changes?date={today.isoformat()}")]
        for text in pages:
            assert probe not in text
            assert str(escape(probe)) in text
    # A refused form shows the values sent back escaped too.
    form = page(client, "/admin/organisation/units/new")
    r = client.post("/admin/organisation/units/new", data={"name": XSS[1], "user_key": "", "unit_type": "afdeling",
                                                           "csrf_token": csrf_token(form)})
    assert r.status_code == 422
    assert XSS[1] not in r.get_data(as_text=True) and str(escape(XSS[1])) in r.get_data(as_text=True)


def test_lockout_after_repeated_failures_shows_the_lockout_message(make_app):
    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_LOCKOUT_MINUTES=10)
    seed(app)
    client = app.test_client()
    for _ in range(3):
        assert login(client, "admin751", "wrong").status_code == 401
    r = login(client, "admin751")  # the right password, but the account is locked now
    assert r.status_code == 429
    text = r.get_data(as_text=True)
    assert "midlertidigt låst" in text and "10 minutter" in text


def test_idle_timeout_logs_out_and_revokes_the_token(app, site):
    client = logged_in(app, "admin751")
    page(client, "/admin/organisation")
    with client.session_transaction("/admin/") as session:
        token = session["token"]
        session["seen"] -= app.config["ADMIN_IDLE_MINUTES"] * 60 + 1  # as if the user had left
    r = client.get("/admin/organisation")
    assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login")
    assert "ikke har været aktiv i 30 minutter" in page(client, r.headers["Location"])
    assert app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/admin/").status_code == 302  # the session is gone


def test_logout_revokes_the_token(app, site):
    client = logged_in(app, "admin751")
    with client.session_transaction("/admin/") as session:
        token = session["token"]
    r = client.post("/admin/logout", data={"csrf_token": csrf_token(page(client, "/admin/"))})
    assert r.headers["Location"] == "/admin/login"
    assert "Du er logget ud" in page(client, "/admin/login")
    assert app.test_client().get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert client.get("/admin/").status_code == 302


def test_a_revoked_token_ends_the_session(app, site):
    client = logged_in(app, "admin751")
    with client.session_transaction("/admin/") as session:
        token = session["token"]
    assert app.test_client().post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    r = client.get("/admin/organisation")
    assert r.status_code == 302
    assert "Din session er udløbet" in page(client, r.headers["Location"])


def test_an_operator_chooses_the_municipality_first(app, site):
    client = logged_in(app, "operator")
    r = client.get("/admin/organisation")
    assert r.headers["Location"] == "/admin/"
    home = page(client, "/admin/")
    assert "Vælg først den kommune" in home
    bad = client.post("/admin/kommune", data={"code": "999", "csrf_token": csrf_token(home)})
    assert bad.status_code == 422 and "gyldig kommunekode" in bad.get_data(as_text=True)
    r = client.post("/admin/kommune", data={"code": "751", "csrf_token": csrf_token(home)})
    assert r.status_code == 302
    tree = page(client, "/admin/organisation")
    assert "Borgerservice" in tree and "Hemmelig enhed" not in tree


def test_api_refusals_are_shown_next_to_their_fields(app, site, today):
    client = logged_in(app, "admin751")
    form = page(client, "/admin/organisation/units/new")
    r = client.post("/admin/organisation/units/new", data={
        "name": "", "user_key": "Z", "unit_type": "afdeling", "parent": "", "valid_from": "i morgen",
        "csrf_token": csrf_token(form)})
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert 'id="name-error"' in text and 'aria-invalid="true"' in text and 'id="valid_from-error"' in text
    # A second root: the API's hierarchy rule, in Danish, on the parent field.
    r = client.post("/admin/organisation/units/new", data={
        "name": "Rod nr. 2", "user_key": "R2", "unit_type": "kommune", "parent": "",
        "valid_from": today.isoformat(), "csrf_token": csrf_token(form)})
    assert r.status_code == 422 and "ekstra rodenhed" in r.get_data(as_text=True)
    assert 'id="parent-error"' in r.get_data(as_text=True)


def test_a_stale_edit_form_is_refused_instead_of_overwriting(app, site):
    client = logged_in(app, "admin751")
    unit = site.units["Ydelseskontor"]
    first = page(client, f"/admin/organisation/units/{unit}/edit")
    second = page(client, f"/admin/organisation/units/{unit}/edit")

    def send(form: str, name: str):
        etag = html.unescape(form.split('name="etag" value="', 1)[1].split('"', 1)[0])
        return client.post(f"/admin/organisation/units/{unit}/edit", data={
            "csrf_token": csrf_token(form), "etag": etag, "valid_from": next_month().isoformat(), "name": name,
            "user_key": "YK", "unit_type": "kontor", "parent": site.units["Testkommune"],
            "original_name": "Ydelseskontor", "original_user_key": "YK", "original_unit_type": "kontor",
            "original_parent": site.units["Testkommune"]})

    assert send(first, "Ydelser").status_code == 302
    stale = send(second, "Ydelser og pension")
    assert stale.status_code == 422
    assert "ændret af en anden" in stale.get_data(as_text=True)


def test_adding_an_employee_and_a_manager_to_a_unit(app, site, today):
    client = logged_in(app, "admin751")
    unit = site.units["Ydelseskontor"]
    form = page(client, f"/admin/organisation/units/{unit}/users/new")
    refused = client.post(f"/admin/organisation/units/{unit}/users/new", data={
        "person_name": "", "user_key": "", "job_title": "Konsulent", "start": today.isoformat(),
        "csrf_token": csrf_token(form)})
    assert refused.status_code == 422
    assert 'id="person_name-error"' in refused.get_data(as_text=True)
    assert 'id="user_key-error"' in refused.get_data(as_text=True)
    r = client.post(f"/admin/organisation/units/{unit}/users/new", data={
        "person_name": "Bo Hansen", "user_key": "boha", "job_title": "Konsulent", "start": today.isoformat(),
        "csrf_token": csrf_token(form)})
    assert r.status_code == 302, r.get_data(as_text=True)
    text = page(client, r.headers["Location"])
    assert "Bo Hansen" in text and "Konsulent" in text and "oprettet og ansat" in text
    form = page(client, f"/admin/organisation/units/{unit}/functions/new")
    assert "Bo Hansen (boha)" in form  # the unit's users to choose from
    user = form.split('">Bo Hansen (boha)', 1)[0].rsplit('value="', 1)[1]
    r = client.post(f"/admin/organisation/units/{unit}/functions/new", data={
        "function_type": "leder", "name": "Kontorchef", "user": user, "valid_from": next_month().isoformat(),
        "valid_to": "", "csrf_token": csrf_token(form)})
    assert r.status_code == 302, r.get_data(as_text=True)
    later = page(client, f"/admin/organisation/units/{unit}?as_of={next_month().isoformat()}")
    assert "Leder" in later and "Kontorchef" in later
    assert "Kontorchef" not in page(client, f"/admin/organisation/units/{unit}")  # planned, not yet


def test_pages_give_back_every_database_connection(app, site, today):
    """A page's own connection is released after authentication; each API sub-request borrows and returns
    its own (committed or rolled back at its edge): nothing stays checked out."""
    client = logged_in(app, "admin751")
    unit = site.units["Borgerservice"]
    for url in ("/admin/", "/admin/organisation", f"/admin/organisation/units/{unit}",
                f"/admin/organisation/changes?date={today.isoformat()}", f"/admin/organisation/units/{unit}/edit"):
        page(client, url)
    form = page(client, "/admin/organisation/units/new")
    client.post("/admin/organisation/units/new", data={"name": "Rod nr. 2", "user_key": "R2", "unit_type": "kommune",
                                                       "parent": "", "csrf_token": csrf_token(form)})
    stats = app.extensions["sts.db"].pool.get_stats()
    assert stats["pool_size"] == stats["pool_available"], stats
    assert "Rod nr. 2" not in page(client, "/admin/organisation")  # the refused write was rolled back


def test_the_admin_web_refuses_to_start_without_a_secret_key():
    import admin
    from app.config import ConfigError, load_config

    bare = Flask("no-secret")
    bare.config.update(load_config({"SECRET_KEY": None}, environ={}))
    with pytest.raises(ConfigError, match="SECRET_KEY: required"):
        admin.init_app(bare, None)
    with pytest.raises(ConfigError, match="SECRET_KEY: at least 32 characters"):
        load_config({"SECRET_KEY": "short"}, environ={})
