"""Schemathesis auth for `make fuzz`: a fresh token before it expires (system tokens live 5 minutes).

STS_FUZZ_AUTH says whose: `system:<audience>` (the demo fagsystem's client-credentials token for the
demo municipality) or `login:<username>:<password>` (a platform user's session token).
"""

from __future__ import annotations

import os

import requests
import schemathesis

BASE = os.environ.get("STS_FUZZ_BASE", "http://127.0.0.1:8000")
CLIENT = ("demo-fagsystem", "demo-secret-not-for-production")
MUNICIPALITY_CVR = "55133018"


def fetch_token(auth: str) -> str:
    kind, _, rest = auth.partition(":")
    if kind == "system":
        r = requests.post(f"{BASE}/api/v1/auth/token", auth=CLIENT, timeout=30, data={
            "grant_type": "client_credentials", "municipality": MUNICIPALITY_CVR, "audience": rest})
    else:
        username, _, password = rest.partition(":")
        r = requests.post(f"{BASE}/api/v1/auth/login", json={"username": username, "password": password}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


@schemathesis.auth(refresh_interval=120)
class DemoToken:
    def get(self, case, ctx):
        return fetch_token(os.environ["STS_FUZZ_AUTH"])

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
