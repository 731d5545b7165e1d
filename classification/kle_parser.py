"""Parse KL's KLE files (the subject plan and the action facets) into plain dataclasses.

Why: KLE is published by KL as XML four times a year, and each municipality imports the files it
downloads.  This module only turns one file into data (`KleEdition` with `KleClass` rows); the
import into the bitemporal store is someone else's job and works from this output.  It touches no
database.

Formats (DOMAIN.md section 4):

- "KLE-Emneplan XML version 2.0": root `KLE-Emneplan` -> `Hovedgruppe` (code `NN`) -> `Gruppe`
  (`NN.NN`) -> `Emne` (`NN.NN.NN`).
- the "full" REST variant of the same tree: it adds `UUID`, `<Level>Stikord` (`Orden`, `Tekst`),
  `EmneOgHandlingsfacetStikord` (`Orden`, `Tekst`, `HandlingsfacetNr`) and `RetsinfoURL`.  A file is
  "full" when it holds any `UUID` or `...Stikord` element, otherwise "xml2".
- the action facets: root `KLE-Handlingsfacetter` -> `HandlingsfacetKategori` -> `Handlingsfacet`.
  The real file carries UUIDs, so it is detected as the "full" variant.

Decisions:

- Safety.  The XML goes through defusedxml's parser with DTDs forbidden outright (KLE files have
  none), so DOCTYPEs, entity declarations (billion laughs) and external entities/references are
  refused before anything is read.  The size limit (`max_bytes`, 50 MB by default) is checked
  before parsing: from the file's size for a path (and again while reading, in case it grows),
  from the length for bytes.
- Line numbers.  `xml.etree` elements do not keep positions.  defusedxml uses the pure-Python
  `XMLParser`, which calls its target's `start()` synchronously from expat's start-element
  handler; at that moment the expat parser's `CurrentLineNumber` is the line of the start tag.  So
  the parser gets a small target (`_LineNumberingTarget`) that wraps a `TreeBuilder` building
  `_Element`s (an `Element` subclass) and stamps `.line` on each.  Malformed XML reports expat's
  own position.
- Namespaces.  Element and attribute names are reduced to their local names everywhere, so a file
  with or without a default namespace reads the same (the guidance XHTML too: `<p>` comes out as
  `<p>` whether or not it was in the XHTML namespace).
- Codes are strict: hovedgruppe `NN`, gruppe `NN.NN`, emne `NN.NN.NN`, each extending its parent's
  code (`27` -> `27.35` -> `27.35.04`); action facet = a capital letter and two digits (`G01`); an
  action facet category (`HandlingsfacetKategoriNr`) is the single capital letter its facets start
  with (category `K` holds `K01`, `K02`...; KL's own texts speak of "handlingsfacet K" for the
  complaint facets), and every facet must start with its category's letter.  Digits are ASCII only.
- Everything else is liberal: optional elements may be missing, unknown elements are ignored.  But
  a class element (`Gruppe`, `Emne`...) outside its proper parent is an error rather than silently
  skipped, and a file without any class is an error (importing it would retire everything).
- All semantic problems of a file are collected and raised together in one `KleParseError`
  (`.errors` is a list of `(line, message)` sorted by line), so a file can be fixed in one go.
  Nothing is returned when there is any error: no partial import.
- `AfloestAf` ("replaced by", inside `Historisk/Flyttet`) holds codes (`EmneNr`, `GruppeNr`...).  A
  code with a wrong format is an error; a well-formed code that is not in the file is only a
  *warning* (`KleEdition.warnings`), because a subject may move to a number that lives in another
  edition or file.  A cycle of replacements inside the file (A replaced by B replaced by A, or A
  replaced by A) is an error; so is a cycle in parent links (impossible through nesting and the
  code-extension rule, checked anyway because the import relies on it).
- `SletningJaevnfoerPersondataloven` keeps the raw text; when it is an ISO 8601 duration with date
  parts only (`P5Y`, `P3Y6M`, `P18M`, `P2W`, `P30D`; weeks are folded into days) it is also parsed
  into `IsoDuration`.  Anything else (text, time parts) gives a warning and stays text only.
- Dates are `YYYY-MM-DD`; a trailing time and/or time zone (`2026-01-01T00:00:00`, `...+01:00`) is
  tolerated and dropped, since the date is what KLE means.  Anything else is an error.
- Guidance (`<Level>Vejledning/VejledningTekst`) is kept as an XHTML fragment string: the element's
  inner markup re-serialised (text escaped, elements and attributes kept, comments dropped,
  surrounding whitespace stripped).  Guidance nested more than `_MAX_GUIDANCE_DEPTH` deep is
  refused (the serialiser is recursive).
"""

from __future__ import annotations

import calendar
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal
from uuid import UUID
from xml.etree import ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, ParseError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024

Kind = Literal["emneplan", "handlingsfacetter"]
Variant = Literal["xml2", "full"]
Level = Literal["hovedgruppe", "gruppe", "emne", "handlingsfacet_kategori", "handlingsfacet"]
Problem = tuple[int | None, str]

_MAX_GUIDANCE_DEPTH = 50


class KleParseError(ValueError):
    """A KLE file that cannot be accepted.

    `line` is the line of the (first) problem when known; `errors` lists every problem found as
    `(line, message)`, sorted by line.  `str()` names the line(s) and the problem(s)."""

    def __init__(self, message: str, line: int | None = None, errors: list[Problem] | None = None) -> None:
        super().__init__(message, line)
        self.message = message
        self.line = line
        self.errors: list[Problem] = list(errors) if errors is not None else [(line, message)]

    @classmethod
    def from_errors(cls, errors: list[Problem]) -> KleParseError:
        errors = sorted(errors, key=lambda e: (e[0] is None, e[0] or 0))
        if len(errors) == 1:
            return cls(errors[0][1], errors[0][0])
        return cls(f"{len(errors)} problems in the KLE file; it was not accepted", errors[0][0], errors)

    def __str__(self) -> str:
        if len(self.errors) == 1:
            return _format_problem(*self.errors[0])
        return self.message + ":\n" + "\n".join("  " + _format_problem(*e) for e in self.errors)


def _format_problem(line: int | None, message: str) -> str:
    return f"line {line}: {message}" if line is not None else message


@dataclass(frozen=True)
class IsoDuration:
    """A calendar duration (years, months, days) parsed from ISO 8601 `PnYnMnWnD`."""

    years: int = 0
    months: int = 0
    days: int = 0

    @property
    def iso(self) -> str:
        parts = [f"{n}{unit}" for n, unit in ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if n]
        return "P" + ("".join(parts) or "0D")

    def add_to(self, start: date) -> date:
        """`start` plus this duration; a day past the end of a month is clamped (31 Jan + P1M = 28/29 Feb)."""
        months = start.year * 12 + start.month - 1 + self.years * 12 + self.months
        year, month = divmod(months, 12)
        day = min(start.day, calendar.monthrange(year, month + 1)[1])
        return date(year, month + 1, day) + timedelta(days=self.days)


_DURATION = re.compile(r"P(?=[0-9])(?:([0-9]+)Y)?(?:([0-9]+)M)?(?:([0-9]+)W)?(?:([0-9]+)D)?")


def parse_iso_duration(text: str) -> IsoDuration | None:
    """`P5Y` -> IsoDuration(years=5); None when `text` is not a date-only ISO 8601 duration."""
    m = _DURATION.fullmatch(text.strip().upper())
    if not m:
        return None
    years, months, weeks, days = (int(g) if g else 0 for g in m.groups())
    return IsoDuration(years, months, weeks * 7 + days)


@dataclass(frozen=True)
class DeletionPeriod:
    """SletningJaevnfoerPersondataloven: the raw text, and the duration when it is ISO 8601."""

    raw: str
    duration: IsoDuration | None


@dataclass(frozen=True)
class LegalRef:
    """A `RetskildeReference`: the legal source of a class."""

    title: str
    paragraph: str | None = None
    accession_nr: str | None = None
    url: str | None = None


@dataclass
class KleClass:
    """One class of a KLE file: a hovedgruppe, gruppe, emne, action facet category or action facet."""

    code: str
    level: Level
    title: str
    parent_code: str | None = None
    uuid: UUID | None = None
    guidance_html: str | None = None
    created: date | None = None
    changed: list[date] = field(default_factory=list)
    retired: date | None = None
    moved: date | None = None
    replaced_by: list[str] = field(default_factory=list)
    search_words: list[str] = field(default_factory=list)
    action_search_words: list[tuple[str, str]] = field(default_factory=list)
    legal_refs: list[LegalRef] = field(default_factory=list)
    archive_code: str | None = None
    deletion_period: DeletionPeriod | None = None
    filters: list[str] = field(default_factory=list)
    line: int | None = field(default=None, compare=False)


@dataclass
class KleEdition:
    """One parsed file: its kind, variant, publication date and classes in document order."""

    kind: Kind
    variant: Variant
    published: date | None
    classes: list[KleClass]
    warnings: list[Problem] = field(default_factory=list, compare=False)

    def by_code(self) -> dict[str, KleClass]:
        return {c.code: c for c in self.classes}

    def count(self, level: Level) -> int:
        return sum(1 for c in self.classes if c.level == level)


def parse_kle(source: str | os.PathLike[str] | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> KleEdition:
    """Parse a KLE file given as a path or as its bytes.  Raises KleParseError."""
    root = _parse_xml(_read(source, max_bytes))
    return _Reader().read(root)


# ---------------------------------------------------------------------------------------------
# Reading and XML parsing


def _read(source: str | os.PathLike[str] | bytes, max_bytes: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        _check_size(len(data), max_bytes)
        return data
    if not isinstance(source, str | os.PathLike):
        raise TypeError(f"parse_kle() takes a path or bytes, not {type(source).__name__}")
    path = Path(source)
    _check_size(path.stat().st_size, max_bytes)
    with path.open("rb") as f:
        data = f.read(max_bytes + 1)
    _check_size(len(data), max_bytes)
    return data


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise KleParseError(f"the file is larger than the limit of {max_bytes:,} bytes ({size:,} bytes or more); "
                            "it was not parsed")


class _Element(ET.Element):
    """An Element that knows the source line of its start tag."""

    line: int | None = None


def _local(name: str) -> str:
    return name.rpartition("}")[2]


class _LineNumberingTarget:
    """Parser target: builds `_Element`s with local names, stamping the start tag's line on each."""

    def __init__(self) -> None:
        self._builder = ET.TreeBuilder(element_factory=_Element)
        self.expat: expat.XMLParserType | None = None

    def start(self, tag: str, attrib: dict[str, str]) -> _Element:
        elem = self._builder.start(_local(tag), {_local(k): v for k, v in attrib.items()})
        elem.line = self.expat.CurrentLineNumber if self.expat is not None else None
        return elem

    def end(self, tag: str) -> _Element:
        return self._builder.end(_local(tag))

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> _Element:
        return self._builder.close()


def _parse_xml(data: bytes) -> _Element:
    target = _LineNumberingTarget()
    parser = DefusedXMLParser(target=target, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    target.expat = parser.parser
    try:
        parser.feed(data)
        return parser.close()
    except ParseError as exc:
        line, column = exc.position
        reason = expat.ErrorString(exc.code) if exc.code else str(exc)
        raise KleParseError(f"malformed XML: {reason} (column {column + 1})", line) from None
    except DTDForbidden as exc:
        raise KleParseError(f"a DOCTYPE declaration (<!DOCTYPE {exc.name}>) is not accepted: KLE files have none, "
                            "and DTDs can define entities that read local files or expand without bound",
                            parser.parser.CurrentLineNumber) from None
    except (EntitiesForbidden, ExternalReferenceForbidden, DefusedXmlException) as exc:
        raise KleParseError(f"entity declarations and external references are not accepted ({exc})",
                            parser.parser.CurrentLineNumber) from None
    except (LookupError, UnicodeError) as exc:
        raise KleParseError(f"cannot decode the file: {exc}", None) from None


# ---------------------------------------------------------------------------------------------
# From the element tree to classes

_ROOTS: dict[str, tuple[Kind, str]] = {
    "KLE-Emneplan": ("emneplan", "Hovedgruppe"),
    "KLE-Handlingsfacetter": ("handlingsfacetter", "HandlingsfacetKategori"),
}
# class element -> (level, child class element, the element it must sit in)
_CLASS_ELEMENTS: dict[str, tuple[Level, str | None, str]] = {
    "Hovedgruppe": ("hovedgruppe", "Gruppe", "KLE-Emneplan"),
    "Gruppe": ("gruppe", "Emne", "Hovedgruppe"),
    "Emne": ("emne", None, "Gruppe"),
    "HandlingsfacetKategori": ("handlingsfacet_kategori", "Handlingsfacet", "KLE-Handlingsfacetter"),
    "Handlingsfacet": ("handlingsfacet", None, "HandlingsfacetKategori"),
}
_CODE_PATTERNS: dict[Level, re.Pattern[str]] = {
    "hovedgruppe": re.compile(r"[0-9]{2}"),
    "gruppe": re.compile(r"[0-9]{2}\.[0-9]{2}"),
    "emne": re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}"),
    "handlingsfacet_kategori": re.compile(r"[A-Z]"),
    "handlingsfacet": re.compile(r"[A-Z][0-9]{2}"),
}
_CODE_FORMATS: dict[Level, str] = {
    "hovedgruppe": "NN (two digits, e.g. 27)",
    "gruppe": "NN.NN (e.g. 27.35)",
    "emne": "NN.NN.NN (e.g. 27.35.04)",
    "handlingsfacet_kategori": "one capital letter (e.g. G)",
    "handlingsfacet": "a capital letter and two digits (e.g. G01)",
}
_KIND_LEVELS: dict[Kind, tuple[Level, ...]] = {
    "emneplan": ("hovedgruppe", "gruppe", "emne"),
    "handlingsfacetter": ("handlingsfacet_kategori", "handlingsfacet"),
}
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:T[0-9:.]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_WHOLE_NUMBER = re.compile(r"[0-9]+")


def _children(elem: _Element | None, tag: str) -> list[_Element]:
    return [] if elem is None else [c for c in elem if c.tag == tag]


def _child(elem: _Element | None, tag: str) -> _Element | None:
    if elem is None:
        return None
    return next((c for c in elem if c.tag == tag), None)


def _text(elem: _Element | None) -> str:
    return "" if elem is None else "".join(elem.itertext()).strip()


def _line(elem: _Element | None) -> int | None:
    return getattr(elem, "line", None)


class _Reader:
    def __init__(self) -> None:
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.classes: list[KleClass] = []
        self.read_elements: set[int] = set()
        self.kind: Kind = "emneplan"

    def error(self, elem: _Element | None, message: str) -> None:
        self.errors.append((_line(elem), message))

    def warn(self, elem: _Element | None, message: str) -> None:
        self.warnings.append((_line(elem), message))

    # -- the file ------------------------------------------------------------------------------

    def read(self, root: _Element) -> KleEdition:
        if root.tag not in _ROOTS:
            raise KleParseError(f"unknown root element <{root.tag}>: a KLE file has <KLE-Emneplan> or "
                                "<KLE-Handlingsfacetter>", _line(root))
        self.kind, top = _ROOTS[root.tag]
        variant: Variant = "full" if any(e.tag == "UUID" or e.tag.endswith("Stikord") for e in root.iter()) else "xml2"
        published_elem = _child(root, "UdgivelsesDato")
        published = self.date(published_elem) if published_elem is not None else None

        for elem in _children(root, top):
            self.read_class(elem, None, parent_ok=False)
        self.check_misplaced(root)
        if not self.classes and not self.errors:
            self.error(root, f"<{root.tag}> holds no <{top}>: an empty edition is not accepted")
        self.check_codes()

        if self.errors:
            raise KleParseError.from_errors(self.errors)
        self.warnings.sort(key=lambda w: (w[0] is None, w[0] or 0))
        return KleEdition(self.kind, variant, published, self.classes, self.warnings)

    def check_misplaced(self, root: _Element) -> None:
        for elem in root.iter():
            spec = _CLASS_ELEMENTS.get(elem.tag)
            if spec is not None and id(elem) not in self.read_elements:
                self.error(elem, f"<{elem.tag}> is misplaced: it belongs directly inside <{spec[2]}>")

    # -- one class -----------------------------------------------------------------------------

    def read_class(self, elem: _Element, parent_code: str | None, *, parent_ok: bool) -> None:
        self.read_elements.add(id(elem))
        prefix = elem.tag
        level, child_tag, _ = _CLASS_ELEMENTS[prefix]
        code, code_ok = self.code(elem, prefix, level, parent_code, parent_ok=parent_ok)
        title = _text(_child(elem, prefix + "Titel"))
        if not title:
            self.error(elem, f"{level} {code or '(without code)'} has no {prefix}Titel")

        cls = KleClass(code=code, level=level, title=title, parent_code=parent_code, line=_line(elem))
        cls.uuid = self.uuid(_child(elem, "UUID"))
        cls.guidance_html = self.guidance(_child(elem, prefix + "Vejledning"))
        self.admin_info(cls, _child(elem, prefix + "AdministrativInfo"))
        cls.search_words = [text for text, _ in self.ordered(_children(elem, prefix + "Stikord"))]
        if level == "emne":
            cls.action_search_words = [
                (text, facet) for text, facet in self.ordered(_children(elem, "EmneOgHandlingsfacetStikord"),
                                                              with_facet=True)
            ]
        cls.legal_refs = self.legal_refs(_children(elem, prefix + "RetskildeReference"))
        cls.archive_code = _text(_child(elem, "BevaringJaevnfoerArkivloven")) or None
        cls.deletion_period = self.deletion_period(_child(elem, "SletningJaevnfoerPersondataloven"))
        for filter_elem in _children(elem, prefix + "Filter"):
            values = [_text(c) for c in filter_elem] if len(filter_elem) else [_text(filter_elem)]
            cls.filters.extend(v for v in values if v)
        self.classes.append(cls)

        if child_tag is not None:
            for child in _children(elem, child_tag):
                self.read_class(child, code or None, parent_ok=code_ok)

    def code(self, elem: _Element, prefix: str, level: Level, parent_code: str | None, *,
             parent_ok: bool) -> tuple[str, bool]:
        """The class's code and whether it is well formed (its children are checked against it only then)."""
        code_elem = _child(elem, prefix + "Nr")
        code = _text(code_elem)
        if not code:
            self.error(elem, f"<{prefix}> has no {prefix}Nr")
            return "", False
        if not _CODE_PATTERNS[level].fullmatch(code):
            self.error(code_elem, f"wrong code format: {prefix}Nr {code!r} is not {_CODE_FORMATS[level]}")
            return code, False
        if parent_ok and parent_code is not None:
            separator = "." if self.kind == "emneplan" else ""
            if not code.startswith(parent_code + separator):
                parent_level = _KIND_LEVELS[self.kind][_KIND_LEVELS[self.kind].index(level) - 1]
                self.error(code_elem, f"{level} {code} does not extend the code of its {parent_level} {parent_code}")
        return code, True

    def uuid(self, elem: _Element | None) -> UUID | None:
        text = _text(elem)
        if elem is None or not text:
            return None
        try:
            return UUID(text)
        except ValueError:
            self.error(elem, f"UUID {text!r} is not a UUID")
            return None

    def date(self, elem: _Element) -> date | None:
        text = _text(elem)
        m = _DATE.fullmatch(text)
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                pass
        self.error(elem, f"{elem.tag} {text!r} is not a date (expected YYYY-MM-DD)")
        return None

    def guidance(self, elem: _Element | None) -> str | None:
        if elem is None:
            return None
        content = _child(elem, "VejledningTekst")
        if content is None:  # liberal: guidance written straight into <...Vejledning>
            content = elem
        if _depth(content) > _MAX_GUIDANCE_DEPTH:
            self.error(content, f"the guidance is nested more than {_MAX_GUIDANCE_DEPTH} elements deep")
            return None
        html = escape(content.text or "") + "".join(ET.tostring(c, encoding="unicode") for c in content)
        return html.strip() or None

    def admin_info(self, cls: KleClass, admin: _Element | None) -> None:
        if admin is None:
            return
        created = _child(admin, "OprettetDato")
        cls.created = self.date(created) if created is not None else None
        cls.changed = [d for d in map(self.date, _children(admin, "RettetDato")) if d is not None]
        historic = _child(admin, "Historisk")
        retired = _child(historic, "UdgaaetDato")
        cls.retired = self.date(retired) if retired is not None else None
        moved = _child(historic, "Flyttet")
        moved_date = _child(moved, "FlyttetDato")
        cls.moved = self.date(moved_date) if moved_date is not None else None
        for replaced in _children(moved, "AfloestAf") + _children(historic, "AfloestAf"):
            code_elems = [c for c in replaced if c.tag.endswith("Nr")] or [replaced]
            for code_elem in code_elems:
                target = _text(code_elem)
                if not target:
                    self.warn(code_elem, f"empty <{code_elem.tag}> in AfloestAf of {cls.code} ignored")
                elif not any(_CODE_PATTERNS[lv].fullmatch(target) for lv in _KIND_LEVELS[self.kind]):
                    self.error(code_elem, f"wrong code format: AfloestAf of {cls.code} names {target!r}, "
                                          "which is not a KLE code")
                else:
                    cls.replaced_by.append(target)

    def ordered(self, elems: list[_Element], *, with_facet: bool = False) -> list[tuple[str, str]]:
        """Search words as (text, action facet code or ""), in `Orden` order (document order for ties)."""
        keyed: list[tuple[int, int, str, str]] = []
        for index, elem in enumerate(elems):
            text = _text(_child(elem, "Tekst"))
            if not text:
                self.warn(elem, f"<{elem.tag}> without Tekst ignored")
                continue
            order = sys.maxsize
            order_elem = _child(elem, "Orden")
            if order_elem is not None:
                raw = _text(order_elem)
                if _WHOLE_NUMBER.fullmatch(raw):
                    order = int(raw)
                else:
                    self.error(order_elem, f"Orden {raw!r} of search word {text!r} is not a whole number")
            facet = ""
            if with_facet:
                facet_elem = _child(elem, "HandlingsfacetNr")
                facet = _text(facet_elem)
                if not _CODE_PATTERNS["handlingsfacet"].fullmatch(facet):
                    self.error(facet_elem if facet_elem is not None else elem,
                               f"wrong code format: HandlingsfacetNr {facet!r} of search word {text!r} is not "
                               f"{_CODE_FORMATS['handlingsfacet']}")
            keyed.append((order, index, text, facet))
        return [(text, facet) for _, _, text, facet in sorted(keyed)]

    def legal_refs(self, elems: list[_Element]) -> list[LegalRef]:
        refs = []
        for elem in elems:
            title = _text(_child(elem, "RetskildeTitel"))
            if not title:
                self.warn(elem, f"<{elem.tag}> without RetskildeTitel ignored")
                continue
            refs.append(LegalRef(
                title=title,
                paragraph=_text(_child(elem, "ParagrafEllerKapitel")) or None,
                accession_nr=_text(_child(elem, "RetsinfoAccessionsNr")) or None,
                url=_text(_child(elem, "RetsinfoURL")) or None,
            ))
        return refs

    def deletion_period(self, elem: _Element | None) -> DeletionPeriod | None:
        raw = _text(elem)
        if not raw:
            return None
        duration = parse_iso_duration(raw)
        if duration is None:
            self.warn(elem, f"deletion period {raw!r} is not an ISO 8601 duration such as P5Y; kept as text only")
        return DeletionPeriod(raw, duration)

    # -- the whole file ------------------------------------------------------------------------

    def check_codes(self) -> None:
        first: dict[str, KleClass] = {}
        for cls in self.classes:
            if not cls.code:
                continue
            if cls.code in first:
                self.errors.append((cls.line, f"duplicate code {cls.code} (first at line {first[cls.code].line})"))
            else:
                first[cls.code] = cls
        by_uuid: dict[UUID, KleClass] = {}
        for cls in self.classes:
            if cls.uuid is None:
                continue
            if cls.uuid in by_uuid:
                self.errors.append((cls.line, f"duplicate UUID {cls.uuid} on {cls.code} "
                                              f"(also on {by_uuid[cls.uuid].code}, line {by_uuid[cls.uuid].line})"))
            else:
                by_uuid[cls.uuid] = cls

        parents = {code: [c.parent_code] if c.parent_code else [] for code, c in first.items()}
        for cycle in find_cycles(parents):
            self.errors.append((first[cycle[0]].line, "cycle in parent classes: " + " -> ".join(cycle)))

        for cls in self.classes:
            for target in cls.replaced_by:
                if target not in first:
                    self.warnings.append((cls.line, f"{cls.code} is replaced by {target} (AfloestAf), which is not "
                                                    "in this file; it may belong to another edition"))
        replacements = {code: [t for t in c.replaced_by if t in first] for code, c in first.items()}
        for cycle in find_cycles(replacements):
            self.errors.append((first[cycle[0]].line, "cycle in replacements (AfloestAf): " + " -> ".join(cycle)))


def _depth(elem: _Element) -> int:
    deepest, stack = 0, [(elem, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node)
    return deepest


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Cycles in a directed graph, each as a path that starts and ends at the same node.

    Iterative depth-first search; every back edge gives one cycle, so every node on a cycle is
    reported in at least one of them.  Edges to nodes outside `graph` are ignored."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    cycles: list[list[str]] = []
    for start in graph:
        if colour[start] != white:
            continue
        colour[start] = grey
        path = [start]
        stack = [iter(graph[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                colour[path.pop()] = black
            elif colour.get(nxt, black) == white:
                colour[nxt] = grey
                path.append(nxt)
                stack.append(iter(graph[nxt]))
            elif colour.get(nxt) == grey:
                cycles.append([*path[path.index(nxt):], nxt])
    return cycles
