"""Synthetic records for the case and document index (sdi) and the benefit index (yi): seeded, reproducible.

Why: real case metadata and payments (CPR numbers, names, case titles) are personal data we must not ship,
yet the demo, the benchmarks and the tests need a municipality's worth of them, of realistic shape.
`generate(seed, municipality_code=..., citizens=..., kle_codes=..., ...)` yields records in the wire format
of docs/indexes.md (indexes/records.py) plus "kind" ("sag", "dokument", "bevilling", "effektuering"), with
JSON-able values only (datetimes RFC 3339 with the Danish offset, amounts strings with 2 decimals); the same
arguments give the same records: one `random.Random(seed)` and no clock but `today`.

Shape (counts: `sizes`): citizens and `companies` (default citizens // 20) have about 2.5 cases each,
heavy-tailed (a discrete Pareto draw capped at `MAX_CASES`: 44% have none, the median is 1, 3 in 1,000 have
50+).  KLE subjects, action facets, units, master systems and case workers are drawn Zipf-like (the seed
decides which are popular).  A case has 0-10 documents (about 3) dated within its life, a progress history
Opstaaet → Oplyst → Afgjort → Afsluttet (consecutive half-open periods, the last open), a sensitivity skewed
to the two lower levels, 1-2 case workers, sometimes a second party, other classes, related cases.  About
20% of the citizens get 1-2 grants of 1-3 benefits, paid monthly in advance for the last `MAX_PAYMENTS`
months of the grant's life up to `today`, a line per active benefit, tax withheld on taxable benefits.
Order: every record after what it refers to (a case before its documents, a grant before its payments).

CPR numbers are fake (see indexes/synthetic_words.py).  Uuids mix in the municipality code, so two
municipalities generated with one seed do not collide (their CPR numbers do: use different seeds).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import random
import uuid as uuidlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from indexes import synthetic_words as words

MAX_CASES = 200
CASE_ALPHA, CASE_SCALE = 2.0, 3.0           # n = floor(scale * (Pareto(alpha) - 1)): mean ≈ 2.5
CASES_PER_OWNER = 2.5
DOCUMENT_WEIGHTS = (12, 18, 18, 15, 12, 8, 6, 4, 3, 2, 2)    # 0..10 documents, mean ≈ 3.1
DOCUMENTS_PER_CASE = 3.13
GRANT_SHARE, SECOND_GRANT = 0.2, 0.2
MAX_PAYMENTS = 24
PAYMENTS_PER_GRANT = 13.2                   # measured: months of a grant's life within the last 24
STATES = ("Opstaaet", "Oplyst", "Afgjort", "Afsluttet")
SENSITIVITIES = ("IKKE_FORTROLIGE_DATA", "FORTROLIGE_PERSONOPLYSNINGER", "FOELSOMME_PERSONOPLYSNINGER", "VIP_SAGER")
_CASE_SENSITIVITY = (46, 44, 9.5, 0.5)
_GRANT_SENSITIVITY = (0, 85, 14.5, 0.5)
_NAMESPACE = uuidlib.uuid5(uuidlib.NAMESPACE_URL, "urn:stoettesystemerne:indexes:synthetic")
_CENT = Decimal("0.01")


def sizes(citizens: int, companies: int | None = None) -> dict[str, int]:
    """The expected (approximate, ±10-20% by seed) record counts per kind for `generate(citizens=...)`."""
    owners = citizens + _companies(citizens, companies)
    cases = round(CASES_PER_OWNER * owners)
    grants = round(GRANT_SHARE * (1 + SECOND_GRANT) * citizens)
    return {"sag": cases, "dokument": round(DOCUMENTS_PER_CASE * cases), "bevilling": grants,
            "effektuering": round(PAYMENTS_PER_GRANT * grants)}


def lines(records: Iterable[dict]) -> Iterator[str]:
    """Records as compact JSON lines."""
    return (json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)


def generate(seed: int, *, municipality_code: int, citizens: int, kle_codes: Sequence[str],
             action_facets: Sequence[str], units: Sequence[str], master_systems: Sequence[str], today: date,
             years: int = 5, companies: int | None = None) -> Iterator[dict]:
    """The records of a synthetic municipality's case, document and benefit indexes (see the module docstring)."""
    if citizens < 0 or years < 1:
        raise ValueError("citizens must be at least 0 and years at least 1")
    if not kle_codes or not units or not master_systems:
        raise ValueError("kle_codes, units and master_systems must not be empty")
    plan = _Plan(random.Random(seed), municipality_code, kle_codes, action_facets, units, master_systems, today,
                 years)
    return plan.records(citizens, _companies(citizens, companies))


def _companies(citizens: int, companies: int | None) -> int:
    return citizens // 20 if companies is None else companies


class _Zipf:
    """Values drawn Zipf-like: the k-th most popular (a seeded shuffle decides which) has weight 1/k^s."""

    def __init__(self, rng: random.Random, values: Sequence, s: float = 1.1):
        self.rng, self.values = rng, list(values)
        rng.shuffle(self.values)
        self.cum = list(itertools.accumulate(1 / (i + 1) ** s for i in range(len(self.values))))

    def __call__(self):
        return self.rng.choices(self.values, cum_weights=self.cum)[0]


class _Plan:
    """Owners (citizens and companies) one by one: each one's cases with their documents, then grants with
    their payments; only what later records refer to is remembered."""

    def __init__(self, rng: random.Random, municipality_code: int, kle_codes: Sequence[str],
                 action_facets: Sequence[str], units: Sequence[str], master_systems: Sequence[str], today: date,
                 years: int):
        self.rng, self.today, self.code = rng, today, municipality_code
        self.start = today - timedelta(days=round(365.25 * years))
        self.end = datetime.combine(today, time(0, 0)) - timedelta(seconds=1)  # every stamp before today
        self.mask = int.from_bytes(hashlib.sha256(f"municipality:{municipality_code}".encode()).digest()[:16])
        self.topic_of = {code: i % len(words.TOPICS) for i, code in enumerate(sorted(kle_codes))}
        self.kle, self.unit, self.system = _Zipf(rng, kle_codes), _Zipf(rng, units), _Zipf(rng, master_systems)
        self.facet = _Zipf(rng, action_facets) if action_facets else None
        self.cprs: set[str] = set()   # membership only: set order never reaches the output
        self.parties: list[dict] = []   # second parties and grantees: any citizen or company
        self.recent: deque[str] = deque(maxlen=500)   # recent case uuids, for related cases of other owners
        self.case_seq = self.grant_seq = 0

    # -- small helpers -------------------------------------------------------------------------------------

    def uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128) ^ self.mask, version=4))

    def day(self, a: date, b: date) -> date:
        return a + timedelta(days=self.rng.randint(0, max(0, (b - a).days)))

    def at_work(self, d: date) -> datetime:
        return datetime.combine(d, time(7, 30)) + timedelta(minutes=self.rng.randrange(9 * 60))

    def stamp_after(self, moment: datetime) -> datetime:
        """A version stamp a little after `moment`, before `today`."""
        return min(self.end, moment + timedelta(minutes=self.rng.randint(1, 3 * 24 * 60)))

    # -- records -------------------------------------------------------------------------------------------

    def records(self, citizens: int, companies: int) -> Iterator[dict]:
        rng = self.rng
        people = [words.person(rng, self.today, self.cprs) for _ in range(citizens)]
        firms = [words.company(rng) for _ in range(companies)]
        self.parties = people + firms
        workers = [str(uuidlib.uuid5(_NAMESPACE, f"sagsbehandler/{self.code}/{n}"))
                   for n in range(max(5, (citizens + companies) // 40))]
        self.worker = _Zipf(rng, workers)
        owners = [(p, True) for p in people] + [(f, False) for f in firms]
        rng.shuffle(owners)
        for owner, is_person in owners:
            cases: list[dict] = []
            for _ in range(min(MAX_CASES, int(CASE_SCALE * (rng.paretovariate(CASE_ALPHA) - 1)))):
                case, documents = self.case(owner, cases)
                cases.append(case)
                yield case
                yield from documents
            self.recent.extend(c["uuid"] for c in cases[-3:])
            if is_person and rng.random() < GRANT_SHARE:
                for _ in range(2 if rng.random() < SECOND_GRANT else 1):
                    grant, payments = self.grant(owner, cases)
                    yield grant
                    yield from payments

    def case(self, owner: dict, earlier: list[dict]) -> tuple[dict, list[dict]]:
        rng = self.rng
        self.case_seq += 1
        kle = self.kle()
        facet = self.facet() if self.facet is not None and rng.random() < 0.9 else None
        opened = self.at_work(self.day(self.start, self.today - timedelta(days=1)))
        progress = [{"state": STATES[0], "from": opened}]
        for state in STATES[1:]:
            step = self.at_work(progress[-1]["from"].date() + timedelta(days=max(1, round(rng.lognormvariate(3, 1)))))
            if step > self.end:
                break
            progress[-1]["to"] = step
            progress.append({"state": state, "from": step})
        progress[-1]["to"] = None
        closed = progress[-1]["from"].date() if progress[-1]["state"] == "Afsluttet" else self.today
        sensitivity = rng.choices(SENSITIVITIES, weights=_CASE_SENSITIVITY)[0]
        topic, legal_basis = words.TOPICS[self.topic_of.get(kle, 0)]
        number = "-".join([kle, *([facet] if facet else []), f"{self.case_seq:06d}", f"{opened:%y}"])
        record = {"kind": "sag", "uuid": self.uuid(), "changed_at": None, "sensitivity": sensitivity,
                  "master_system": self.system(), "parties": [{**owner, "role": "primaer"}],
                  "responsible_unit": self.unit(), "primary_class": kle, "case_number": number,
                  "title": f"{topic} - {owner['name']}" if rng.random() < 0.5 else topic}
        if facet:
            record["action_facet"] = facet
        if rng.random() < 0.4:
            record["description"] = f"{topic} for {owner['name']}, oprettet {opened:%d.%m.%Y}."
        for key, share, values in (("archive_code", 0.5, words.ARCHIVE_CODES), ("category", 0.3, words.CATEGORIES),
                                   ("local_status", 0.3, words.LOCAL_STATUS)):
            if rng.random() < share:
                record[key] = rng.choice(values)
        if rng.random() < 0.7:
            record["legal_basis"] = legal_basis
        record["progress"] = [{"state": p["state"], "from": _rfc3339(p["from"]),
                               "to": p["to"] and _rfc3339(p["to"])} for p in progress]
        workers = list(dict.fromkeys(self.worker() for _ in range(1 if rng.random() < 0.7 else 2)))
        record["case_workers"] = [{"user": w, "primary": i == 0} for i, w in enumerate(workers)]
        if rng.random() < 0.12:
            other = rng.choice(self.parties)
            if other["urn"] != owner["urn"]:
                record["parties"].append({**other, "role": "sekundaer"})
        if rng.random() < 0.15:
            record["other_classes"] = sorted({self.kle() for _ in range(rng.randint(1, 2))} - {kle})
        if rng.random() < 0.08 and (earlier or self.recent):
            pick_earlier = earlier and (rng.random() < 0.8 or not self.recent)
            related = rng.choice(earlier)["uuid"] if pick_earlier else rng.choice(self.recent)
            record["related_cases"] = [related]
        if rng.random() < 0.1:
            record["sending_system"] = self.system()
        if sensitivity == "VIP_SAGER":
            record["access_list"] = [*workers, self.worker()]
        documents = self.documents(record, owner, opened.date(), closed)
        record["documents"] = [d["uuid"] for d in documents]
        last = max([p["from"] for p in progress] + [_parse(d["changed_at"]) for d in documents])
        record["changed_at"] = _rfc3339(self.stamp_after(last))
        return record, documents

    def documents(self, case: dict, owner: dict, opened: date, closed: date) -> list[dict]:
        rng = self.rng
        count = rng.choices(range(len(DOCUMENT_WEIGHTS)), weights=DOCUMENT_WEIGHTS)[0]
        dates = sorted(self.day(opened, min(closed, self.today - timedelta(days=1))) for _ in range(count))
        out: list[dict] = []
        for i, letter_date in enumerate(dates):
            doc_type = rng.choices(words.DOC_TYPES, weights=words.DOC_WEIGHTS)[0]
            sensitivity = case["sensitivity"]
            if rng.random() < 0.2:
                sensitivity = SENSITIVITIES[max(0, SENSITIVITIES.index(sensitivity) - 1)]
            doc = {"kind": "dokument", "uuid": self.uuid(),
                   "changed_at": _rfc3339(self.stamp_after(datetime.combine(letter_date, time(17, 0)))),
                   "sensitivity": sensitivity, "master_system": case["master_system"], "parties": [],
                   "number": f"{case['case_number']}/{i + 1}", "title": rng.choice(words.DOCUMENTS[doc_type][1]),
                   "letter_date": letter_date.isoformat(), "document_type": doc_type, "cases": [case["uuid"]]}
            role = {"indgaaende": "afsender", "udgaaende": "modtager"}.get(doc_type, "part")
            if role != "part" or rng.random() < 0.5:
                doc["parties"].append({**owner, "role": role})
            if rng.random() < 0.7:
                doc["responsible_unit"] = case["responsible_unit"]
            if rng.random() < 0.5:
                doc["primary_class"] = case["primary_class"]
            if rng.random() < 0.3:
                doc["progress"] = rng.choice(STATES)
            if out and rng.random() < 0.25:
                relation = "svar" if doc_type == "udgaaende" else rng.choice(["bilag", "bilag", "ny_revision"])
                doc["related_documents"] = [{"uuid": rng.choice(out)["uuid"], "relation": relation}]
            out.append(doc)
        return out

    def grant(self, owner: dict, cases: list[dict]) -> tuple[dict, Iterator[dict]]:
        rng = self.rng
        self.grant_seq += 1
        start = self.day(self.start, self.today - timedelta(days=1))
        first = self.benefit(rng.choices(words.BENEFITS, weights=[b[-1] for b in words.BENEFITS])[0], start, None)
        benefits = [first]
        for kind in rng.sample(words.BENEFITS, 2)[: rng.choice([0, 0, 1, 2])]:
            if kind[0] not in {b["benefit_class"] for b in benefits}:
                later = self.day(start, min(first["_end"] or self.today, self.today) - timedelta(days=1))
                benefits.append(self.benefit(kind, max(start, later), first["_end"]))
        for i, b in enumerate(benefits):
            b["id"] = f"Y{self.grant_seq:06d}-{i + 1}"
        sensitivity = rng.choices(SENSITIVITIES, weights=_GRANT_SENSITIVITY)[0]
        latest = max(date.fromisoformat(b["start"]) for b in benefits)
        record = {"kind": "bevilling", "uuid": self.uuid(),
                  "changed_at": _rfc3339(self.stamp_after(self.at_work(latest))),
                  "sensitivity": sensitivity, "master_system": self.system(),
                  "parties": [{**owner, "role": "modtager"}], "responsible_unit": self.unit(),
                  "user_key": f"BEV-{self.code}-{self.grant_seq:07d}",
                  "benefits": [{k: v for k, v in b.items() if not k.startswith("_")} for b in benefits]}
        if rng.random() < 0.1:
            grantee = rng.choice(self.parties)
            if grantee["urn"].startswith("urn:oio:cpr-nr:") and grantee["urn"] != owner["urn"]:
                record["parties"].append({**grantee, "role": "bevillingsmodtager"})
        if cases and rng.random() < 0.6:
            case = rng.choice(cases)
            record["case"], record["primary_class"] = case["uuid"], case["primary_class"]
        return record, self.payments(record, owner, benefits)

    def benefit(self, kind: tuple, start: date, not_after: date | None) -> dict:
        rng = self.rng
        benefit_class, name, (low, high), taxable, months, repayable, _weight = kind
        end = not_after
        if months is not None:
            end = _add_months(start, rng.randint(1, months))
        elif rng.random() < 0.5:
            end = start + timedelta(days=round(rng.lognormvariate(5.5, 0.8)) + 14)
        if not_after is not None and end is not None:
            end = min(end, not_after)
        return {"id": "", "name": name, "start": start.isoformat(), "end": end and end.isoformat(),
                "repayable": rng.random() < repayable, "benefit_class": benefit_class,
                "_end": end, "_monthly": Decimal(rng.randint(low * 100, high * 100)) / 100, "_taxable": taxable}

    def payments(self, grant: dict, owner: dict, benefits: list[dict]) -> Iterator[dict]:
        """Monthly payments in advance for the last `MAX_PAYMENTS` months of the grant's life up to today."""
        rng = self.rng
        first = benefits[0]
        last_day = min(self.today, (first["_end"] or self.today + timedelta(days=1)) - timedelta(days=1))
        granted = date.fromisoformat(first["start"])
        count = (last_day.year - granted.year) * 12 + last_day.month - granted.month + 1
        months = [_add_months(granted.replace(day=1), k) for k in range(max(0, count - MAX_PAYMENTS), count)]
        tax_rate = Decimal(rng.randint(30, 42)) / 100
        paying_unit = grant["responsible_unit"] if rng.random() < 0.7 else self.unit()
        for month in months:
            upto = _add_months(month, 1)
            out_lines, gross, taxable = [], Decimal(0), Decimal(0)
            for b in benefits:
                a, z = max(month, date.fromisoformat(b["start"])), min(upto, b["_end"] or upto)
                if a >= z:
                    continue
                amount = (b["_monthly"] * (z - a).days / (upto - month).days).quantize(_CENT)
                gross += amount
                taxable += amount if b["_taxable"] else 0
                out_lines.append({"grant": grant["uuid"], "benefit_id": b["id"],
                                  "period": {"from": a.isoformat(), "to": z.isoformat()}, "amount": str(amount)})
            if not out_lines:
                continue
            net = gross - (taxable * tax_rate).quantize(_CENT)
            disposed = max(month - timedelta(days=rng.randint(1, 4)), granted)
            disposed = min(disposed, self.today - timedelta(days=1))
            yield {"kind": "effektuering", "uuid": self.uuid(),
                   "changed_at": _rfc3339(self.stamp_after(datetime.combine(disposed, time(6, 0)))),
                   "sensitivity": grant["sensitivity"], "master_system": grant["master_system"],
                   "parties": [{**owner, "role": "modtager"}],
                   "period": {"from": month.isoformat(), "to": upto.isoformat()},
                   "gross_amount": str(gross), "net_amount": str(net), "amount_sent": str(net),
                   "amount_paid": str(net), "disposition_date": disposed.isoformat(), "paying_unit": paying_unit,
                   "grant": grant["uuid"], "lines": out_lines}


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, min(d.day, 28))


@functools.lru_cache(maxsize=256)
def _summer(year: int) -> tuple[datetime, datetime]:
    """Danish summer time (wall clock): from 02:00 on the last Sunday of March to 03:00 on that of October."""
    march, october = date(year, 3, 31), date(year, 10, 31)
    return (datetime.combine(march - timedelta(days=(march.weekday() + 1) % 7), time(2)),
            datetime.combine(october - timedelta(days=(october.weekday() + 1) % 7), time(3)))


def _rfc3339(local: datetime) -> str:
    """A Danish wall-clock time with its offset."""
    start, end = _summer(local.year)
    return local.isoformat(timespec="seconds") + ("+02:00" if start <= local < end else "+01:00")


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp[:19])
