"""Shared set-up of the index tests: an organisation and KLE plan, sender and reader systems, and
record builders in the wire format (docs/indexes.md)."""

from __future__ import annotations

import json
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.test_organisation_search import KLE_FILE, build_org
from tests.world import World, bearer

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CPR_A, CPR_B = "0101801234", "0202802345"  # valid date parts (1980)
HANDLINGSFACETTER = KLE_FILE.parent / "handlingsfacetter-2026-01.xml"


def stamp(minutes: int = 0) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def new_uuid(name: str) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"urn:test:indexes:{name}"))


@dataclass
class IndexWorld:
    app: Any
    org: Any
    w: World
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def ids(self) -> dict[str, str]:
        return {**self.org.ids, **self.w.ids}

    def system(self, name: str, service: str, roles=("read", "edit"), municipality: int = 751, **constraints) -> str:
        if name not in self.w.ids:
            self.w.system(name, "Vendor A")
        self.w.agreement(name, service, municipality, roles=roles, constraints=constraints)
        self.tokens[(name, service, municipality)] = self.w.token(name, service, municipality)
        return self.tokens[(name, service, municipality)]

    def token(self, name: str, service: str, municipality: int = 751) -> str:
        return self.tokens[(name, service, municipality)]

    def call(self, method: str, path: str, token: str, **kw):
        return getattr(self.app.test_client(), method)(path, headers=bearer(token), **kw)

    def bulk(self, service: str, token: str, records: list, path: str = "bulk"):
        body = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records)
        return self.call("post", f"/api/v1/{service}/{path}", token, data=body.encode(),
                         content_type="application/x-ndjson")

    # -- records -------------------------------------------------------------------------------

    def case(self, name: str, *, master: str = "fag", minutes: int = 0, **over) -> dict:
        rec = {"uuid": new_uuid(name), "changed_at": stamp(minutes), "case_number": f"27.01.02-G01-{name}",
               "title": f"Sag {name}", "sensitivity": "IKKE_FORTROLIGE_DATA", "master_system": self.ids[master],
               "responsible_unit": self.org.ids["A"], "primary_class": "27.01.02", "action_facet": "G01",
               "progress": [{"state": "Opstaaet", "from": "2026-02-01T08:00:00+00:00", "to": None}],
               "parties": [{"urn": f"urn:oio:cpr-nr:{CPR_A}", "role": "primaer", "name": "Søren Østergård"}]}
        return {**rec, **over}

    def document(self, name: str, case: dict, *, master: str = "fag", minutes: int = 0, **over) -> dict:
        rec = {"uuid": new_uuid(name), "changed_at": stamp(minutes), "title": f"Brev {name}",
               "document_type": "udgaaende", "letter_date": "2026-02-10", "sensitivity": case["sensitivity"],
               "master_system": self.ids[master], "cases": [case["uuid"]],
               "parties": [{**p, "role": "part"} for p in case["parties"]]}
        return {**rec, **over}

    def grant(self, name: str, *, master: str = "fag", minutes: int = 0, **over) -> dict:
        rec = {"uuid": new_uuid(name), "changed_at": stamp(minutes), "user_key": f"B-{name}",
               "sensitivity": "FORTROLIGE_PERSONOPLYSNINGER", "master_system": self.ids[master],
               "responsible_unit": self.org.ids["C"],
               "benefits": [{"id": "1", "name": "Kontanthjælp", "start": "2026-01-01", "end": None,
                             "repayable": False, "benefit_class": "kontanthjaelp"}],
               "parties": [{"urn": f"urn:oio:cpr-nr:{CPR_A}", "role": "modtager", "name": "Søren Østergård"}]}
        return {**rec, **over}

    def payment(self, name: str, grant: dict, month: int, amount: str = "1000.00", *, master: str = "fag",
                minutes: int = 0, **over) -> dict:
        start, end = f"2026-{month:02d}-01", f"2026-{month + 1:02d}-01"
        rec = {"uuid": new_uuid(name), "changed_at": stamp(minutes), "sensitivity": grant["sensitivity"],
               "master_system": self.ids[master], "paying_unit": self.org.ids["C"], "grant": grant["uuid"],
               "period": {"from": start, "to": end}, "gross_amount": amount, "net_amount": amount,
               "amount_sent": amount, "amount_paid": amount, "disposition_date": start,
               "lines": [{"grant": grant["uuid"], "benefit_id": "1", "period": {"from": start, "to": end},
                          "amount": amount}],
               "parties": grant["parties"]}
        return {**rec, **over}


def index_world(app) -> IndexWorld:
    """751's organisation (units R, F, A, B, C; 101: K, KB), the sample KLE plan and action facets;
    system `fag` (sdi and yi, read and edit) and `other` (sdi edit, not master of anything)."""
    org = build_org(app)
    result = app.test_cli_runner().invoke(args=["klassifikation", "import-kle", str(HANDLINGSFACETTER)])
    assert result.exit_code == 0, result.output
    w = World(app)
    w.vendor("Vendor A")
    iw = IndexWorld(app, org, w)
    iw.system("fag", "sdi", see_cpr=True, see_name=True)
    iw.system("fag", "yi", see_cpr=True, see_name=True)
    iw.system("other", "sdi")
    return iw
