"""Words and parties for indexes/synthetic.py: case topics with their legal basis, document types and titles,
benefit classes with their monthly amounts; citizens and companies.  Invented or common Danish words; no real
case, person or company is meant.

CPR numbers are fake by construction: real birth dates (never 1 January, up to 95 years back), the 7th digit
per the century rules, and FAILING the modulus-11 check that every number issued before 2007 passes.  CVR
numbers pass theirs (random, so they may exist; the names are invented).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from organisation import synthetic_names as names

DOCUMENTS = {  # type: (weight, titles)
    "indgaaende": (30, ["Ansøgning", "Henvendelse fra borger", "Lægeerklæring", "Klage", "Dokumentation"]),
    "udgaaende": (28, ["Afgørelse", "Partshøring", "Kvittering for modtagelse", "Indkaldelse til samtale"]),
    "notat": (22, ["Journalnotat", "Telefonnotat", "Samtalenotat", "Notat om hjemmebesøg"]),
    "intern": (8, ["Intern vurdering", "Mail til kollega", "Faglig sparring"]),
    "rapport": (4, ["Funktionsvurdering", "Statusrapport", "Børnefaglig undersøgelse"]),
    "faktura": (3, ["Faktura", "Kreditnota"]),
    "dagsorden": (2, ["Dagsorden til visitationsmøde", "Dagsorden til netværksmøde"]),
    "andet": (3, ["Bilag", "Foto", "Kort"]),
}
DOC_TYPES, DOC_WEIGHTS = list(DOCUMENTS), [w for w, _t in DOCUMENTS.values()]
TOPICS = [  # (case title, legal basis): a KLE code always gets the same topic
    ("Ansøgning om boligstøtte", "Lov om individuel boligstøtte § 1"), ("Hjemmehjælp", "Serviceloven § 83"),
    ("Byggetilladelse til carport", "Byggeloven § 16"), ("Skoleindskrivning", "Folkeskoleloven § 36"),
    ("Ansøgning om handicapbil", "Serviceloven § 114"), ("Hjælpemidler", "Serviceloven § 112"),
    ("Kontanthjælp", "Lov om aktiv socialpolitik § 11"), ("Opfølgning på sygedagpenge", "Sygedagpengeloven § 7"),
    ("Aktindsigt", "Forvaltningsloven § 9"), ("Klage over afgørelse", "Forvaltningsloven § 22"),
    ("Underretning", "Barnets lov § 133"), ("Visitation til plejebolig", "Almenboligloven § 54"),
    ("Parkeringstilladelse", "Færdselsloven § 92"), ("Helbredstillæg", "Pensionsloven § 14"),
    ("Personligt tillæg", "Pensionsloven § 14 a"), ("Ledsageordning", "Serviceloven § 97"),
    ("Merudgifter", "Serviceloven § 100"), ("Tabt arbejdsfortjeneste", "Serviceloven § 42"),
    ("Støttekontaktperson", "Serviceloven § 99"), ("Jobafklaring", "Lov om en aktiv beskæftigelsesindsats"),
    ("Dispensation fra lokalplan", "Planloven § 19"), ("Miljøgodkendelse", "Miljøbeskyttelsesloven § 33"),
    ("Tilskud til tandpleje", "Tandplejeloven"), ("Genoptræning", "Sundhedsloven § 140"),
]
ARCHIVE_CODES = ["B", "K5", "K10", "K20", "B5"]
CATEGORIES = ["Ansøgning", "Klage", "Tilsyn", "Visitation", "Opfølgning", "Underretning"]
LOCAL_STATUS = ["Afventer borger", "Under behandling", "Afventer lægeerklæring", "Til godkendelse", "Hvilende"]
BENEFITS = [  # (benefit class, name, monthly amount range, taxable, months or None, repayable share, weight)
    ("kontanthjaelp", "Kontanthjælp", (11000, 16500), True, None, 0.0, 20),
    ("uddannelseshjaelp", "Uddannelseshjælp", (6000, 12000), True, None, 0.0, 8),
    ("sygedagpenge", "Sygedagpenge", (14000, 19700), True, 12, 0.0, 12),
    ("ledighedsydelse", "Ledighedsydelse", (15000, 19000), True, None, 0.0, 5),
    ("boligstoette", "Boligstøtte", (800, 4200), False, None, 0.05, 20),
    ("boernetilskud", "Børnetilskud", (600, 6000), False, None, 0.0, 14),
    ("helbredstillaeg", "Helbredstillæg til medicin", (100, 900), False, None, 0.0, 6),
    ("merudgifter", "Dækning af merudgifter", (500, 4000), False, None, 0.0, 6),
    ("tabt_arbejdsfortjeneste", "Tabt arbejdsfortjeneste", (8000, 30000), True, None, 0.0, 3),
    ("enkeltydelse", "Enkeltydelse", (1000, 15000), False, 1, 0.5, 6),
]
COMPANY_SUFFIXES = ["ApS", "A/S", "& Søn ApS", "Tømrer ApS", "Rengøring I/S", "Holding ApS", "VVS A/S", "Byg ApS"]


def person(rng: random.Random, today: date, taken: set[str]) -> dict:
    """A citizen party (urn, name) with a CPR number not in `taken` (which gets it)."""
    last = rng.choice(names.LAST_NAMES) if rng.random() < 0.85 else " ".join(rng.sample(names.LAST_NAMES, 2))
    return {"urn": f"urn:oio:cpr-nr:{cpr(rng, today, taken)}", "name": f"{names.first_name(rng)} {last}"}


def cpr(rng: random.Random, today: date, taken: set[str]) -> str:
    while True:
        born = today - timedelta(days=rng.randint(1, 365 * 95))
        yy = born.year % 100
        digits = [d for d in range(10) if _century(d, yy) == born.year - yy]
        if not digits or (born.month, born.day) == (1, 1):
            continue
        number = f"{born:%d%m%y}{rng.choice(digits)}{rng.randrange(1000):03d}"
        if sum(int(d) * w for d, w in zip(number, (4, 3, 2, 7, 6, 5, 4, 3, 2, 1), strict=True)) % 11 == 0:
            continue  # passes modulus 11: could be a real number
        if number not in taken:
            taken.add(number)
            return number


def company(rng: random.Random) -> dict:
    """A company party (urn, name) with a random CVR number that passes its modulus-11 check."""
    while True:
        head = f"{rng.randint(1, 9)}{rng.randrange(10 ** 6):06d}"
        check = -sum(int(d) * w for d, w in zip(head, (2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        if check < 10:
            break
    if rng.random() < 0.7:
        name = f"{rng.choice(names.LAST_NAMES)} {rng.choice(COMPANY_SUFFIXES)}"
    else:
        name = f"{rng.choice(names.PLACES)} {rng.choice(['Tømrerforretning', 'Autoværksted', 'Bageri'])} ApS"
    return {"urn": f"urn:oio:cvr-nr:{head}{check}", "name": name}


def _century(seventh: int, yy: int) -> int:
    """The century of a CPR birth year from its 7th digit (0-3: 1900s; 4, 9: 2000s up to 36; 5-8: up to 57)."""
    if seventh <= 3:
        return 1900
    if seventh in (4, 9):
        return 2000 if yy <= 36 else 1900
    return 2000 if yy <= 57 else 1800
