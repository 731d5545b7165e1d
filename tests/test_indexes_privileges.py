"""Privilege filtering of the index services' reads, property-based (issue 6 acceptance).

One world per module: 751's organisation (R ─ F ─ A; R ─ B ─ C), three master systems, and a
few hundred seeded-random cases, documents, grants and payments over KLE codes, units,
sensitivity levels, masters and a handful of parties, written through the bulk API (some
updated, some removed) and delivered to Elasticsearch; a few records of municipality 101 share
the parties.  Hypothesis then draws privileges: an agreement's constraints (KLE patterns, org
units with or without subtrees, a sensitivity level, IT systems; keys missing, lists sometimes
empty) and sometimes a user's privilege sets as well (a system acting for a user).  For each
draw a fresh reader system gets a token, and every read is compared with a plain-Python
reference built on `authz.constraints.allows`: overviews (items over all pages, their order,
`total`, `kinds`, payment totals), search (items, total, every facet; with and without a
narrowing filter), single records with their related records, and "changed since".  No record
outside the privileges may appear anywhere, and none inside may be missing."""

from __future__ import annotations

import itertools
import random
import re
import time
import uuid as uuidlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from argon2 import PasswordHasher
from hypothesis import event, example, given, note, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from authz.catalogue import Sensitivity
from authz.constraints import allows
from tests.conftest import AppFactory
from tests.indexes_world import IndexWorld, index_world, new_uuid, stamp
from tests.test_organisation_search import deliver_now

PARENT = {"R": None, "F": "R", "A": "F", "B": "R", "C": "B"}
CODES = ("17", "17.00.01", "17.02.01", "27.01", "27.01.02", "27.00.01", "27.02.01", "32.00.01", "32.01.02")
LEVELS = [s.value for s in Sensitivity]
MASTERS = ("fag", "m2", "m3")
PARTIES = [f"urn:oio:cpr-nr:{n}" for n in ("0101801234", "0202802345", "0303803456", "0404804567", "0505805678")] \
    + ["urn:oio:p-nr:1012345678"]
WORDS = ("skole", "pleje", "bolig", "tilsyn")
STATES = ("Opstaaet", "Oplyst", "Afgjort", "Afsluttet")
SERVICE = {"sag": "sdi", "dokument": "sdi", "bevilling": "yi", "effektuering": "yi"}
PLURAL = {"sag": "cases", "dokument": "documents", "bevilling": "grants", "effektuering": "payments"}
AMOUNTS = ("gross_amount", "net_amount", "amount_paid")
_readers = itertools.count()
# Reader systems share one secret, hashed with cheap argon2 parameters (a verify reads them from the
# hash): a token per example then costs milliseconds rather than the production hash's ~0.3 s.
READER_SECRET = "secret-of-the-readers"
READER_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(READER_SECRET)


# -- the world -------------------------------------------------------------------------------------


@dataclass
class Ref:
    """One record as sent last, with the values the reference filters on (as the index stores them)."""

    kind: str
    body: dict
    municipality: int = 751
    removed: bool = False
    path: list[str] = field(default_factory=list)  # the unit's path from the root

    @property
    def uuid(self) -> str:
        return self.body["uuid"]

    @property
    def service(self) -> str:
        return SERVICE[self.kind]

    @property
    def kle(self) -> str | None:
        return self.body.get("primary_class")

    @property
    def unit(self) -> str | None:
        return self.body.get("responsible_unit") or self.body.get("paying_unit")

    @property
    def case(self) -> dict:
        return {"kle": self.kle, "unit_path": self.path, "sensitivity": self.body["sensitivity"],
                "it_system": self.body["master_system"]}

    @property
    def parties(self) -> set[str]:
        return {p["urn"] for p in self.body.get("parties") or []}

    @property
    def sort_date(self) -> date:
        b = self.body
        if self.kind == "sag":
            return date.fromisoformat(b["progress"][0]["from"][:10])  # 08:00 UTC: the same day in Copenhagen
        if self.kind == "dokument":
            return date.fromisoformat(b.get("letter_date") or b["changed_at"][:10])
        if self.kind == "bevilling":
            return min(date.fromisoformat(x["start"]) for x in b["benefits"])
        return date.fromisoformat(b["disposition_date"])

    @property
    def state(self) -> str | None:
        if self.kind == "sag":
            return self.body["progress"][-1]["state"]  # every period but the last (open) one has ended
        return self.body.get("progress") if self.kind == "dokument" else None

    @property
    def words(self) -> set[str]:
        b = self.body
        title = b.get("title") or " ".join([b.get("user_key", ""), *(x["name"] for x in b.get("benefits", []))])
        return set(re.findall(r"\w+", title.lower()))

    def facet_values(self) -> dict[str, str | None]:
        return {"kle_main": self.kle.split(".")[0] if self.kle else None, "state": self.state,
                "sensitivity": self.body["sensitivity"], "unit": self.unit, "kind": self.kind,
                "year": str(self.sort_date.year)}

    def amount(self, name: str) -> Decimal:
        value = self.body.get(name)
        return Decimal(value) if value is not None else Decimal(0)


class Universe:
    """The app, its world and the records (a plain class: hypothesis prints only its repr)."""

    def __init__(self, app, iw: IndexWorld, records: list[Ref], units: dict[str, str]):
        self.app, self.iw, self.records, self.units = app, iw, records, units  # units: name → uuid

    def __repr__(self) -> str:
        return f"<{len(self.records)} records>"

    def id(self, name: str) -> str:
        return self.units[name] if name in self.units else self.iw.ids[name]


def _day(rng: random.Random, first: date = date(2024, 1, 1), days: int = 780) -> date:
    return first + timedelta(days=rng.randrange(days))


def _parties(rng: random.Random, roles: tuple[str, ...], low: int = 0) -> list[dict]:
    return [{"urn": urn, "role": rng.choice(roles), "name": f"Person {urn[-4:]}"}
            for urn in rng.sample(PARTIES, rng.randint(low, 2))]


def _common(rng: random.Random, iw: IndexWorld, kind: str, n: int, units: list[str]) -> dict:
    return {"uuid": new_uuid(f"privileges:{kind}:{n}"), "changed_at": stamp(n % 60),
            "sensitivity": rng.choice(LEVELS), "master_system": iw.ids[rng.choice(MASTERS)],
            "responsible_unit": iw.org.ids[rng.choice(units)]}


def _case(rng, iw, n, units=tuple(PARENT)) -> dict:
    start = datetime.combine(_day(rng, days=600), datetime.min.time(), UTC) + timedelta(hours=8)
    progress = []
    for state in rng.sample(STATES, rng.randint(1, 3)):
        end = start + timedelta(days=rng.randint(1, 60))
        progress.append({"state": state, "from": start.isoformat(), "to": end.isoformat()})
        start = end
    progress[-1]["to"] = None
    return {**_common(rng, iw, "sag", n, list(units)), "case_number": f"S-{n:04d}",
            "title": f"Sag om {rng.choice(WORDS)} nr {n}", "primary_class": rng.choice(CODES), "progress": progress,
            "parties": _parties(rng, ("primaer", "sekundaer"))}


def _document(rng, iw, n, cases: list[dict]) -> dict:
    rec = {**_common(rng, iw, "dokument", n, list(PARENT)), "title": f"Brev om {rng.choice(WORDS)}",
           "document_type": rng.choice(("indgaaende", "udgaaende", "notat")),
           "cases": [rng.choice(cases)["uuid"]], "parties": _parties(rng, ("afsender", "modtager", "part"))}
    if rng.random() < 0.3:
        del rec["responsible_unit"]  # a document need not have a unit: then no org-unit privilege allows it
    for name, value in (("primary_class", rng.choice(CODES)), ("letter_date", _day(rng).isoformat()),
                        ("progress", rng.choice(STATES))):
        if rng.random() < 0.7:
            rec[name] = value
    return rec


def _grant(rng, iw, n, cases: list[dict], units=tuple(PARENT)) -> dict:
    benefits = []
    for i in range(rng.randint(1, 2)):
        start = _day(rng)
        end = None if rng.random() < 0.5 else (start + timedelta(days=rng.randint(30, 400))).isoformat()
        benefits.append({"id": str(i + 1), "name": f"Støtte til {rng.choice(WORDS)}", "start": start.isoformat(),
                         "end": end, "repayable": False, "benefit_class": "kontanthjaelp"})
    rec = {**_common(rng, iw, "bevilling", n, list(units)), "user_key": f"B-{n:04d}", "benefits": benefits,
           "parties": _parties(rng, ("modtager",), low=1)}
    if rng.random() < 0.5:
        rec["primary_class"] = rng.choice(CODES)
    if cases and rng.random() < 0.3:
        rec["case"] = rng.choice(cases)["uuid"]
    return rec


def _payment(rng, iw, n, grant: dict) -> dict:
    year, month = divmod(rng.randrange(14), 12)
    start = date(2025 + year, month + 1, 1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    gross = Decimal(rng.randint(-50_000, 900_000)) / 100
    rec = {**_common(rng, iw, "effektuering", n, list(PARENT)), "grant": grant["uuid"],
           "period": {"from": start.isoformat(), "to": end.isoformat()}, "gross_amount": str(gross),
           "net_amount": str(gross - Decimal(rng.randint(0, 10_000)) / 100), "amount_sent": str(gross),
           "disposition_date": (start + timedelta(days=rng.randint(0, 9))).isoformat(),
           "lines": [{"grant": grant["uuid"], "benefit_id": "1", "period": {"from": start.isoformat(),
                                                                            "to": end.isoformat()},
                      "amount": str(gross)}],
           "parties": [{**p, "role": "modtager"} for p in grant["parties"] if p["role"] == "modtager"]}
    rec["paying_unit"] = rec.pop("responsible_unit")
    if rng.random() < 0.8:
        rec["amount_paid"] = str(gross)
    if rng.random() < 0.4:
        rec["primary_class"] = rng.choice(CODES)
    return rec


def _write(iw: IndexWorld, lines: list[tuple[Ref, dict]]) -> None:
    """Bulk per service, master system and municipality; every line must be accepted."""
    by_sender: dict[tuple, list[dict]] = {}
    names = {iw.ids[m]: m for m in MASTERS}
    for ref, line in lines:
        key = (ref.service, names[ref.body["master_system"]], ref.municipality)
        by_sender.setdefault(key, []).append(line)
    for (service, master, municipality), batch in by_sender.items():
        r = iw.bulk(service, iw.token(master, service, municipality), batch)
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        assert body["rejected"] == 0, [x for x in body["records"] if x["status"] == "rejected"][:3]


@pytest.fixture(scope="module")
def universe(admin_conn, service_urls, template_db):
    """The records, written once for the module's examples (which only read)."""
    factory = AppFactory(admin_conn, service_urls, template_db)
    app = factory()
    iw = index_world(app)
    for master in ("m2", "m3"):
        for service in ("sdi", "yi"):
            iw.system(master, service)
    for service in ("sdi", "yi"):
        iw.system("fag", service, municipality=101)
    units = {name: iw.org.ids[name] for name in PARENT}
    rng = random.Random(6)
    cases = [_case(rng, iw, n) for n in range(50)]
    records = [("sag", c) for c in cases]
    records += [("dokument", _document(rng, iw, n, cases)) for n in range(60)]
    grants = [_grant(rng, iw, n, cases) for n in range(40)]
    records += [("bevilling", g) for g in grants]
    records += [("effektuering", _payment(rng, iw, n, rng.choice(grants))) for n in range(90)]
    refs = [Ref(kind, body) for kind, body in records]
    # Municipality 101 holds records about the same parties: never an answer in 751.
    other = [Ref("sag", {**_case(rng, iw, 900 + n, units=("KB",)), "master_system": iw.ids["fag"]}, 101)
             for n in range(4)]
    other += [Ref("bevilling", {**_grant(rng, iw, 900 + n, [], units=("KB",)), "master_system": iw.ids["fag"]}, 101)
              for n in range(3)]
    _write(iw, [(r, {"kind": r.kind, **r.body}) for r in refs + other])
    # Later versions move some records (unit, sensitivity, KLE code); removals take others out.
    second = []
    for n, ref in enumerate(rng.sample(refs, 40)):
        if n < 12:
            ref.removed = True
            second.append((ref, {"kind": ref.kind, "op": "remove", "uuid": ref.uuid, "changed_at": stamp(200)}))
            continue
        unit_key = "paying_unit" if ref.kind == "effektuering" else "responsible_unit"
        ref.body = {**ref.body, "changed_at": stamp(100 + n), "sensitivity": rng.choice(LEVELS),
                    unit_key: units[rng.choice(list(PARENT))], "primary_class": rng.choice(CODES)}
        second.append((ref, {"kind": ref.kind, **ref.body}))
    _write(iw, second)
    deliver_now(app)
    names = {v: k for k, v in units.items()}
    for ref in refs:
        unit = names.get(ref.unit)
        while unit is not None:
            ref.path.insert(0, units[unit])
            unit = PARENT[unit]
    yield Universe(app, iw, refs + other, units)
    factory.cleanup()


# -- privileges -------------------------------------------------------------------------------------


def _rarely_empty(strategy):
    """Mostly non-empty lists; now and then [] (which allows nothing)."""
    return st.integers(0, 9).flatmap(lambda n: st.just([]) if n == 4 else strategy)


KLE_PATTERNS = ("*", "27.*", "27.01.*", "27.01.02", "27.01", "27", "17.*", "17.00.01", "32.*", "33.*")
org_unit = st.fixed_dictionaries({"uuid": st.sampled_from([*PARENT, "KB"])}, optional={"subtree": st.booleans()})
DIMENSIONS = {
    "kle": _rarely_empty(st.lists(st.sampled_from(KLE_PATTERNS), min_size=1, max_size=3)),
    "org_units": _rarely_empty(st.lists(org_unit, min_size=1, max_size=3)),
    "sensitivity": st.sampled_from(LEVELS),
    "it_systems": _rarely_empty(st.lists(st.sampled_from([*MASTERS, "other"]), min_size=1, max_size=3, unique=True)),
}
# Which keys a privilege has (a missing key does not restrict): each with probability 1/3, as every
# dimension narrows the few hundred records a lot; shrinking drops keys.  `see_cpr` selects nothing;
# it matters in a user's privileges (the agreement's is always true here).
privilege = st.lists(st.sampled_from([False, True, False]), min_size=4, max_size=4).flatmap(
    lambda flags: st.fixed_dictionaries({k: DIMENSIONS[k] for k, on in zip(sorted(DIMENSIONS), flags, strict=True)
                                         if on}, optional={"see_cpr": st.booleans()}))
users = st.none() | st.lists(privilege, min_size=1, max_size=2)  # no privileges at all: an @example
windows = st.sampled_from([{}, {"from": "2025-01-01", "to": "2026-01-01"}, {"from": "2026-01-01"},
                           {"to": "2025-06-01"}])
narrowings = st.one_of(
    st.fixed_dictionaries({"kle": st.sampled_from(["27", "27.*", "27.01", "27.01.02", "17.*", "32.01.*"])}),
    st.fixed_dictionaries({"state": st.sampled_from(STATES)}),
    st.fixed_dictionaries({"sensitivity": st.sampled_from(LEVELS)}),
    st.fixed_dictionaries({"unit": st.sampled_from(list(PARENT))}),
    st.fixed_dictionaries({"under": st.sampled_from(list(PARENT))}),
    st.fixed_dictionaries({"q": st.sampled_from(WORDS)}),
    windows,
)


def resolve(u: Universe, privilege: dict) -> dict:
    """A drawn privilege with unit and system names replaced by their UUIDs."""
    out = dict(privilege)
    if "org_units" in out:
        out["org_units"] = [{**e, "uuid": u.id(e["uuid"])} for e in out["org_units"]]
    if "it_systems" in out:
        out["it_systems"] = [u.id(s) for s in out["it_systems"]]
    return out


def reader(u: Universe, agreement: dict, user: list[dict] | None) -> dict[str, str]:
    """A new system with sdi and yi read agreements under `agreement`, acting for a new user with
    `user` privilege sets if given; its token per service."""
    w, name = u.iw.w, f"reader{next(_readers)}"
    [row] = w.sql("INSERT INTO it_system (vendor_id, name, client_id, secret_hash) VALUES (%(v)s, %(n)s, %(n)s, "
                  "%(h)s) RETURNING id", {"v": w.ids["Vendor A"], "n": name, "h": READER_HASH})
    w.ids[name], w.secrets[name] = str(row["id"]), READER_SECRET
    for service in ("sdi", "yi"):
        w.agreement(name, service, 751, roles=("read",), constraints={**agreement, "see_cpr": True, "see_name": True})
    extra = {}
    if user is not None:
        extra["user"] = str(uuidlib.uuid4())
        [role] = w.sql("INSERT INTO user_system_role (system_id, key, name) VALUES (%(s)s, 'urn:test:idx:read', "
                       "'Læs') RETURNING id", {"s": w.ids[name]})
        for i, constraints in enumerate(user):
            [job] = w.sql("INSERT INTO job_function_role (municipality_code, name, constraints) "
                          "VALUES (751, %(n)s, %(c)s) RETURNING id", {"n": f"{name}-{i}", "c": Jsonb(constraints)})
            w.sql("INSERT INTO job_function_role_member VALUES (%(j)s, %(r)s)", {"j": job["id"], "r": role["id"]})
            w.sql("INSERT INTO role_assignment (job_function_role_id, user_uuid, validity) "
                  "VALUES (%(j)s, %(u)s, daterange(NULL, NULL))", {"j": job["id"], "u": extra["user"]})
    return {service: w.token(name, service, 751, **extra) for service in ("sdi", "yi")}


# -- reads and their references -----------------------------------------------------------------------


def newest_first(refs: list[Ref]) -> list[str]:
    return [r.uuid for r in sorted(refs, key=lambda r: (-r.sort_date.toordinal(), r.uuid))]


def in_window(ref: Ref, window: dict) -> bool:
    return ((not window.get("from") or ref.sort_date >= date.fromisoformat(window["from"]))
            and (not window.get("to") or ref.sort_date < date.fromisoformat(window["to"])))


def pages(u: Universe, path: str, token: str, body: dict) -> tuple[list[dict], list[dict]]:
    """Every item over all pages, and every page's answer."""
    items, answers, cursor = [], [], None
    while True:
        r = u.iw.call("post", path, token, json={**body, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.get_json()
        answers.append(r.get_json())
        items += answers[-1]["items"]
        cursor = answers[-1]["next_cursor"]
        if cursor is None:
            return items, answers
        assert len(answers) < 200, "paging does not end"


def totals(payments: list[Ref], per: str) -> dict:
    def sums(refs):
        return {name: f"{sum((r.amount(name) for r in refs), Decimal(0)):.2f}" for name in AMOUNTS}

    fmt = "%Y-%m" if per == "month" else "%Y"
    periods = sorted({r.sort_date.strftime(fmt) for r in payments})
    return {**sums(payments), "payments": len(payments), "per_period": [
        {"period": p, "payments": len(group), **sums(group)}
        for p in periods for group in [[r for r in payments if r.sort_date.strftime(fmt) == p]]]}


def check_overview(u: Universe, token: str, service: str, party: str, limit: int, window: dict, kinds: str,
                   per: str, visible: list[Ref], shows_cpr: bool) -> None:
    """`kinds`: "all", "first" or "second" of the service's kinds; `per`: the totals' period (yi)."""
    asked = {"all": None, "first": 0, "second": 1}[kinds]
    service_kinds = [k for k, s in SERVICE.items() if s == service]
    expected = [r for r in visible if r.service == service and party in r.parties and in_window(r, window)
                and (asked is None or r.kind == service_kinds[asked])]
    body = {"party": party, "limit": limit, **window, **({"totals": per} if service == "yi" else {}),
            **({"kinds": [service_kinds[asked]]} if asked is not None else {})}
    items, answers = pages(u, f"/api/v1/{service}/overview", token, body)
    assert [i["uuid"] for i in items] == newest_first(expected)
    shown = shows_cpr or not party.startswith("urn:oio:cpr-nr:")
    assert all((party in {p["urn"] for p in i["parties"]}) == shown for i in items)
    for answer in answers:  # every page counts the whole allowed answer
        assert answer["total"] == len(expected)
        assert answer["kinds"] == dict(Counter(r.kind for r in expected))
        if service == "yi":
            assert answer["totals"] == totals([r for r in expected if r.kind == "effektuering"], per)


def check_search(u: Universe, token: str, service: str, narrowing: dict, limit: int, visible: list[Ref]) -> None:
    args = {k: (u.id(v) if k in ("unit", "under") else v) for k, v in narrowing.items()}

    def wanted(r: Ref) -> bool:
        code = args.get("kle", "").removesuffix(".*")
        return (r.service == service and in_window(r, args)
                and (not code or (r.kle is not None and (r.kle == code or r.kle.startswith(code + "."))))
                and all(args[k] == v for k, v in (("state", r.state), ("unit", r.unit),
                                                  ("sensitivity", r.body["sensitivity"])) if k in args)
                and ("under" not in args or args["under"] in r.path)
                and ("q" not in args or args["q"] in r.words))

    expected = [r for r in visible if wanted(r)]
    items, answers = pages(u, f"/api/v1/{service}/search", token, {"limit": limit, **args})
    got = [i["uuid"] for i in items]
    if "q" in args:  # by relevance first: compare as a set, but without repeats
        assert sorted(got) == sorted(r.uuid for r in expected)
    else:
        assert got == newest_first(expected)
    for answer in answers:
        assert answer["total"] == len(expected)
        facets = {name: {b["value"]: b["count"] for b in buckets} for name, buckets in answer["facets"].items()}
        assert facets == {name: dict(Counter(v for r in expected if (v := r.facet_values()[name]) is not None))
                          for name in ("kle_main", "state", "sensitivity", "unit", "kind", "year")}


RELATED = {"sag": ("documents", "dokument"), "bevilling": ("payments", "effektuering"), "dokument": ("cases", "sag")}


def related(ref: Ref, other: Ref) -> bool:
    """A case's documents name it; a payment names its grant; a document names its cases."""
    if ref.kind == "dokument":
        return other.uuid in ref.body["cases"]
    return ref.uuid in other.body.get("cases", []) or ref.uuid == other.body.get("grant")


def check_reads(u: Universe, tokens: dict[str, str], picks: list[int], visible: list[Ref]) -> None:
    seen = {r.uuid for r in visible}
    for pick in picks:
        ref = u.records[pick % len(u.records)]
        r = u.iw.call("get", f"/api/v1/{ref.service}/{PLURAL[ref.kind]}/{ref.uuid}", tokens[ref.service])
        assert r.status_code == (200 if ref.uuid in seen else 404), (ref.kind, ref.uuid, r.get_json())
        if r.status_code != 200:
            continue
        body = r.get_json()
        assert body["uuid"] == ref.uuid and body["record"]["sensitivity"] == ref.body["sensitivity"]
        if ref.kind in RELATED:  # only the related records the caller may see
            name, kind = RELATED[ref.kind]
            expected = sorted(x.uuid for x in visible if x.kind == kind and related(ref, x))
            assert sorted(x["uuid"] for x in body[name]) == expected, name


def check_changes(u: Universe, token: str, service: str, visible: list[Ref]) -> None:
    """Every allowed record once; removals of the service's records (no data) whatever the privileges."""
    expected = {r.uuid for r in visible if r.service == service}
    removed = {r.uuid for r in u.records if r.removed and r.service == service and r.municipality == 751}
    got, gone, cursor, deadline = [], set(), None, time.monotonic() + 20
    while True:
        r = u.iw.call("get", f"/api/v1/{service}/changes", token,
                      query_string={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.get_json()
        page = r.get_json()
        got += [i["uuid"] for i in page["items"] if not i["removed"]]
        gone |= {i["uuid"] for i in page["items"] if i["removed"]}
        assert all("record" not in i for i in page["items"] if i["removed"])
        cursor = page["next_cursor"]
        assert set(got) <= expected, f"not allowed: {sorted(set(got) - expected)[:5]}"
        if not page["items"]:
            # A transaction still running elsewhere on the server holds back what came after it.
            if (set(got) == expected and gone == removed) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert len(got) == len(set(got))
    assert set(got) == expected
    assert gone == removed


# -- the property -------------------------------------------------------------------------------------


BASE = {"parties": [PARTIES[0]], "limit": 7, "window": {}, "kinds": "all", "per": "month", "narrowing": {},
        "service": "sdi", "picks": [0, 60, 110, 150, 200, 246]}


@settings(max_examples=30, deadline=None)
@given(agreement=privilege, user=users, parties=st.lists(st.sampled_from(PARTIES), min_size=1, max_size=2, unique=True),
       limit=st.sampled_from([4, 7, 60]), window=windows, kinds=st.sampled_from(["all", "first", "second"]),
       per=st.sampled_from(["month", "year"]), narrowing=narrowings, service=st.sampled_from(["sdi", "yi"]),
       picks=st.lists(st.integers(0, 10_000), min_size=3, max_size=6))
@example(**BASE, agreement={}, user=None)  # everything
@example(**{**BASE, "narrowing": {"under": "R"}, "service": "yi", "parties": PARTIES[:2], "per": "year"},
         agreement={"kle": ["27.*"], "org_units": [{"uuid": "F", "subtree": True}]},
         user=[{"sensitivity": "FORTROLIGE_PERSONOPLYSNINGER"}, {"it_systems": ["m2"]}])
@example(**BASE, agreement={"kle": []}, user=None)  # an empty list allows nothing
@example(**{**BASE, "service": "yi", "kinds": "second"}, agreement={}, user=[])  # a user without privileges
def test_every_read_returns_exactly_what_the_privileges_allow(universe, agreement, user, parties, limit, window,
                                                              kinds, per, narrowing, service, picks):
    u = universe
    agreement_c = resolve(u, agreement)
    user_c = None if user is None else [resolve(u, p) for p in user]
    visible = [r for r in u.records if r.municipality == 751 and not r.removed and allows([agreement_c], r.case)
               and (user_c is None or allows(user_c, r.case))]
    note(f"agreement {agreement_c}; user {user_c}; {len(visible)} of {len(u.records)} records visible")
    live = sum(r.municipality == 751 and not r.removed for r in u.records)
    event("visible: " + ("none" if not visible else "all" if len(visible) == live else "some"))
    tokens = reader(u, agreement_c, user_c)
    # CPR numbers show with the agreement's see_cpr (always here) and, acting for a user, the user's too.
    shows_cpr = user_c is None or any(p.get("see_cpr") is True for p in user_c)
    for svc in ("sdi", "yi"):
        for party in parties:
            check_overview(u, tokens[svc], svc, party, limit, window, kinds, per, visible, shows_cpr)
        check_search(u, tokens[svc], svc, {}, 60, visible)
        check_changes(u, tokens[svc], svc, visible)
    check_search(u, tokens[service], service, narrowing, limit, visible)
    check_reads(u, tokens, picks, visible)
