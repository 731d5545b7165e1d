"""Synthetic KLE subject plans of realistic size, in the "full" REST variant.

Why: KLE's real content is KL's copyrighted data; the project imports the files a municipality
downloads but ships none.  Benchmarks and tests of the KLE import still need files of the real
size (about 2,500 classes and 6,000 search words) and a series of editions that differ a little,
as KL's quarterly releases do.  `synthetic_emneplan()` makes them, deterministically from `seed`;
titles and texts are invented ("... (syntetisk)"), codes follow KLE's formats.

Edition 0 is the base.  Each later edition (1..4) applies one more step on top of the previous
one, published three months later: a few emner get a new title (and a `RettetDato`), a few are
retired (`UdgaaetDato`), a few are added, and one is moved (`Flyttet` with `AfloestAf` pointing at
an emne added in the same step).  Retired and moved emner stay in the file, as in KL's files.
Per step: `RETITLED`, `RETIRED`, `ADDED` and `MOVED` emner.

With the defaults (25 hovedgrupper x 9 grupper x 10 emner) edition 0 has 2,500 classes; every
class has `search_words_per` (2) `...Stikord` and every second emne one
`EmneOgHandlingsfacetStikord`: 6,125 search words in all.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date
from xml.etree import ElementTree as ET

RETITLED, RETIRED, ADDED, MOVED = 5, 3, 4, 1
EDITIONS = 5
_FIRST_PUBLISHED = date(2026, 1, 1)
_UUID_BASE = "https://example.invalid/kle-synthetic"

_TOPICS = [
    "vandløb", "cykelstier", "legepladser", "naturstier", "fritidsklubber", "seniorcaféer", "hjælpemidler",
    "væresteder", "boligstøtte", "skolemælk", "aktivering", "kørselsordninger", "havnebade", "skolehaver",
    "bydelsråd", "bibliotekslån", "vejtræer", "kolonihaver", "madordninger", "genbrugspladser", "lokalarkiver",
    "borgerbudgetter", "turistinformation", "skøjtebaner", "naboskab", "udeskoler", "strandrensning",
    "byhaver", "motionsruter", "kunstudlån",
]
_NOUNS = [
    "tilskud", "tilsyn", "puljer", "tilladelser", "aftaler", "registrering", "kontrol", "klager", "vejledning",
    "planlægning", "udbetalinger", "godkendelser", "dispensationer", "samarbejde", "indberetninger",
]
_MAIN_TOPICS = [
    "fritid", "forsyning", "natur", "bolig", "trafik", "kultur", "læring", "omsorg", "beskæftigelse", "miljø",
    "erhverv", "beredskab", "sundhed", "integration", "digitalisering",
]
_FACETS = ["G01", "G02", "K01", "K07", "S01"]


@dataclass
class _Class:
    level: str
    code: str
    title: str
    created: date
    search_words: list[str]
    changed: list[date] = field(default_factory=list)
    guidance: str | None = None
    legal_refs: list[tuple[str, str, str]] = field(default_factory=list)
    archive_code: str | None = None
    deletion: str | None = None
    filters: list[str] = field(default_factory=list)
    action_words: list[tuple[str, str]] = field(default_factory=list)
    retired: date | None = None
    moved: date | None = None
    replaced_by: list[str] = field(default_factory=list)
    children: list[_Class] = field(default_factory=list)


def published(edition: int) -> date:
    """The publication date of `edition` (0 = 2026-01-01, then every three months)."""
    year, month = divmod(_FIRST_PUBLISHED.month - 1 + 3 * edition, 12)
    return date(_FIRST_PUBLISHED.year + year, month + 1, 1)


def synthetic_emneplan(hovedgrupper: int = 25, grupper_per: int = 9, emner_per: int = 10, search_words_per: int = 2,
                       edition: int = 0, seed: int = 0) -> bytes:
    """A full-variant KLE-Emneplan file (UTF-8 bytes): see the module docstring for its content."""
    if not 1 <= hovedgrupper <= 100 or not 1 <= grupper_per <= 100:
        raise ValueError("hovedgrupper and grupper_per must be between 1 and 100")
    if not 1 <= emner_per <= 99 - ADDED * (EDITIONS - 1):
        raise ValueError(f"emner_per must be between 1 and {99 - ADDED * (EDITIONS - 1)} (room for added emner)")
    if hovedgrupper * grupper_per * emner_per < RETITLED + RETIRED + MOVED:
        raise ValueError(f"at least {RETITLED + RETIRED + MOVED} emner are needed for the changes between editions")
    if not 0 <= edition < EDITIONS:
        raise ValueError(f"edition must be between 0 and {EDITIONS - 1}")
    if search_words_per < 0:
        raise ValueError("search_words_per must not be negative")

    rng = random.Random(f"kle-synthetic:{seed}")
    plan = _base(rng, hovedgrupper, grupper_per, emner_per, search_words_per)
    for step in range(1, edition + 1):
        _apply_step(random.Random(f"kle-synthetic:{seed}:{step}"), plan, step, search_words_per)
    return _render(plan, published(edition), seed)


def _words(rng: random.Random, n: int, topic: str, noun: str) -> list[str]:
    choices = [f"{noun} til {topic}", f"{topic}", f"syntetisk {noun}", f"{noun} og {rng.choice(_NOUNS)}",
               f"{rng.choice(_TOPICS)} i {topic}", f"{topic} {noun}"]
    return [choices[i % len(choices)] if i < len(choices) else f"{topic} {i}" for i in range(n)]


def _base(rng: random.Random, hovedgrupper: int, grupper_per: int, emner_per: int,
          search_words_per: int) -> list[_Class]:
    spread = max(1, 100 // hovedgrupper)
    plan = []
    emne_index = 0
    for h in range(hovedgrupper):
        h_code = f"{h * spread:02d}"
        main_topic = _MAIN_TOPICS[h % len(_MAIN_TOPICS)]
        hg = _Class("Hovedgruppe", h_code, f"Syntetisk {main_topic} {h_code}", date(2001, 1, 1),
                    _words(rng, search_words_per, main_topic, "hovedgruppe"))
        if h % 4 == 0:
            hg.guidance = f"<p>Syntetisk hovedgruppe {h_code} om {main_topic}. Indholdet er opdigtet.</p>"
        plan.append(hg)
        for g in range(grupper_per):
            g_code = f"{h_code}.{g:02d}"
            topic = rng.choice(_TOPICS)
            gr = _Class("Gruppe", g_code, f"Syntetisk {topic} ({g_code})", date(2005, 1 + g % 12, 1),
                        _words(rng, search_words_per, topic, "gruppe"))
            if g % 3 == 1:
                gr.guidance = _guidance(g_code, topic)
            hg.children.append(gr)
            for e in range(1, emner_per + 1):
                emne_index += 1
                gr.children.append(_emne(rng, f"{g_code}.{e:02d}", topic, emne_index, search_words_per,
                                         date(2008 + emne_index % 15, 1 + emne_index % 12, 1)))
    return plan


def _guidance(code: str, topic: str) -> str:
    return (f"<p>Syntetisk vejledning til {code}: opdigtede sager om {topic}.</p>"
            f"<p>Eksempler:<ul><li>ansøgning om {topic}</li><li>afgørelse &amp; opfølgning</li></ul></p>")


def _emne(rng: random.Random, code: str, topic: str, index: int, search_words_per: int, created: date) -> _Class:
    noun = rng.choice(_NOUNS)
    emne = _Class("Emne", code, f"{noun.capitalize()} vedrørende {topic} (syntetisk)", created,
                  _words(rng, search_words_per, topic, noun))
    emne.archive_code = "B" if index % 3 == 0 else "K"
    emne.deletion = ["P5Y", "P10Y", "P3Y6M", "P1Y", "P20Y"][index % 5]
    if index % 4 == 0:
        emne.guidance = _guidance(code, topic)
    if index % 2 == 0:
        nr = 9_000_000 + index
        emne.legal_refs.append((f"Syntetisk lov om {topic}", f"§ {index % 97 + 1}", f"A2026{nr:07d}"))
        emne.action_words.append((f"{rng.choice(['klage', 'aktindsigt', 'opfølgning'])} om {noun}",
                                  rng.choice(_FACETS)))
    if index % 10 == 0:
        emne.filters.append("Syntetisk delplan A")
    return emne


def _apply_step(rng: random.Random, plan: list[_Class], step: int, search_words_per: int) -> None:
    when = published(step)
    grupper = [gr for hg in plan for gr in hg.children]
    active = [e for gr in grupper for e in gr.children if e.retired is None and e.moved is None]
    chosen = rng.sample(active, RETITLED + RETIRED + MOVED)
    retitled, retired, moved = chosen[:RETITLED], chosen[RETITLED:RETITLED + RETIRED], chosen[RETITLED + RETIRED:]

    for emne in retitled:
        emne.title = emne.title.partition(" (syntetisk")[0] + f" (syntetisk, revideret {when:%Y-%m})"
        emne.changed.append(when)
    for emne in retired:
        emne.retired = when
    added = []
    for gruppe in [rng.choice(grupper) for _ in range(ADDED)]:
        last = int(gruppe.children[-1].code[-2:]) if gruppe.children else 0
        topic = gruppe.title.split()[1]
        emne = _emne(rng, f"{gruppe.code}.{last + 1:02d}", topic, 1000 * step + len(added), search_words_per, when)
        emne.title = f"Ny syntetisk ordning for {topic} {step}"
        gruppe.children.append(emne)
        added.append(emne)
    for emne, target in zip(moved, added, strict=False):
        emne.moved = when
        emne.replaced_by = [target.code]


def _render(plan: list[_Class], publication: date, seed: int) -> bytes:
    root = ET.Element("KLE-Emneplan")
    ET.SubElement(root, "UdgivelsesDato").text = publication.isoformat()
    guidance: list[tuple[ET.Element, str]] = []
    for hg in plan:
        _render_class(root, hg, seed, guidance)
    ET.indent(root)
    for elem, markup in guidance:  # after indenting, which would add whitespace to the mixed content
        elem.text = None
        elem.extend(ET.fromstring(f"<x>{markup}</x>"))  # our own constant markup, not input
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _leaf(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, tag).text = text


def _render_class(parent: ET.Element, cls: _Class, seed: int, guidance: list[tuple[ET.Element, str]]) -> None:
    p = cls.level
    elem = ET.SubElement(parent, p)
    _leaf(elem, f"{p}Nr", cls.code)
    _leaf(elem, f"{p}Titel", cls.title)
    _leaf(elem, "UUID", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{_UUID_BASE}/{seed}/{cls.code}")))
    if cls.guidance:
        guidance.append((ET.SubElement(ET.SubElement(elem, f"{p}Vejledning"), "VejledningTekst"), cls.guidance))
    for title, paragraph, accession in cls.legal_refs:
        ref = ET.SubElement(elem, f"{p}RetskildeReference")
        _leaf(ref, "RetskildeTitel", title)
        _leaf(ref, "ParagrafEllerKapitel", paragraph)
        _leaf(ref, "RetsinfoAccessionsNr", accession)
        _leaf(ref, "RetsinfoURL", f"https://retsinformation.example/eli/accn/{accession}")
    admin = ET.SubElement(elem, f"{p}AdministrativInfo")
    _leaf(admin, "OprettetDato", cls.created.isoformat())
    for changed in cls.changed:
        _leaf(admin, "RettetDato", changed.isoformat())
    if cls.retired or cls.moved:
        historic = ET.SubElement(admin, "Historisk")
        if cls.retired:
            _leaf(historic, "UdgaaetDato", cls.retired.isoformat())
        if cls.moved:
            moved = ET.SubElement(historic, "Flyttet")
            _leaf(moved, "FlyttetDato", cls.moved.isoformat())
            for code in cls.replaced_by:
                _leaf(ET.SubElement(moved, "AfloestAf"), "EmneNr", code)
    if cls.archive_code:
        _leaf(elem, "BevaringJaevnfoerArkivloven", cls.archive_code)
    if cls.deletion:
        _leaf(elem, "SletningJaevnfoerPersondataloven", cls.deletion)
    if cls.filters:
        filters = ET.SubElement(elem, f"{p}Filter")
        for title in cls.filters:
            _leaf(filters, "FilterTitel", title)
    for order, text in enumerate(cls.search_words, start=1):
        word = ET.SubElement(elem, f"{p}Stikord")
        _leaf(word, "Orden", str(order))
        _leaf(word, "Tekst", text)
    for order, (text, facet) in enumerate(cls.action_words, start=1):
        word = ET.SubElement(elem, "EmneOgHandlingsfacetStikord")
        _leaf(word, "Orden", str(order))
        _leaf(word, "Tekst", text)
        _leaf(word, "HandlingsfacetNr", facet)
    for child in cls.children:
        _render_class(elem, child, seed, guidance)
