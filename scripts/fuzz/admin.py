"""The admin web's pages with bad query parameters, as each of the three demo logins.

Schemathesis sees only the API; the admin pages read their own query parameters (periods, cursors,
searches, "open this node").  Every GET page without a path parameter is asked once per parameter
name the pages use and per bad value.  A finding is any 5xx answer.  It only reads.
"""

from __future__ import annotations

import json
import re

import requests

from scripts.fuzz.hooks import BASE

LOGINS = [("admin.aarhus", "demo-aarhus-password"), ("operator", "demo-operator-password"),
          ("vendor.demo", "demo-vendor-password")]
PAGES = ["/admin/", "/admin/adgang", "/admin/adgang/adgangslog", "/admin/adgang/roller", "/admin/adgang/roller/ny",
         "/admin/distribution", "/admin/forbrug", "/admin/forbrug.csv", "/admin/klassifikation",
         "/admin/klassifikation/classes/new", "/admin/klassifikation/kle", "/admin/klassifikation/lokale",
         "/admin/klassifikation/lokale/ny", "/admin/klassifikation/search", "/admin/klassifikation/sortimenter",
         "/admin/klassifikation/sortimenter/ny", "/admin/leverandoer", "/admin/organisation",
         "/admin/organisation/changes", "/admin/organisation/units/new"]
PARAMETERS = ["person", "system", "from", "to", "cursor", "open", "q", "facet", "parent", "valid_from", "date",
              "unit", "next", "registered_at", "valid_at", "kind", "service", "status"]
BAD_VALUES = ["", "x", " ", "-1", "%", "[]", "1e400", "<script>", "../../etc", "27.*", "x" * 5000,
              "99999999999999999999", "00000000-0000-0000-0000-000000000000", "0001-01-01", "9999-12-31",
              "2026-02-30", "2026-03-29T02:30", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-23:59", "a\x00b"]


class _Browser(requests.Session):
    """The admin's cookies are Secure; a browser sends them to 127.0.0.1 over http, so this does too."""

    def request(self, method, url, **kwargs):
        kwargs.setdefault("headers", {})["Cookie"] = "; ".join(f"{c.name}={c.value}" for c in self.cookies)
        return super().request(method, url, **kwargs)


def _logged_in(username: str, password: str) -> _Browser:
    browser = _Browser()
    form = browser.get(f"{BASE}/admin/login", timeout=30).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = browser.post(f"{BASE}/admin/login", timeout=30, allow_redirects=False,
                          data={"username": username, "password": password, "csrf_token": token})
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"admin login as {username} answered {answer.status_code}")
    return browser


def pages() -> list[dict]:
    findings, asked = [], 0
    for username, password in LOGINS:
        browser = _logged_in(username, password)
        for page in PAGES:
            for name in PARAMETERS:
                for value in BAD_VALUES:
                    answer = browser.get(f"{BASE}{page}", params={name: value}, timeout=60, allow_redirects=False)
                    asked += 1
                    if answer.status_code >= 500:
                        findings.append({"pass": "admin", "login": username, "page": page, "parameter": name,
                                         "value": value[:40], "status": answer.status_code})
    print(json.dumps({"pass": "admin pages", "requests": asked, "findings": len(findings)}), flush=True)
    return findings
