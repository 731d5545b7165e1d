"""KLE file parsing (classification/kle_parser.py) and the synthetic plan generator (kle_synthetic.py).

Pure parsing tests on the synthetic files in tests/data/kle (see its README): no database, no search.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from classification.kle_parser import (
    DEFAULT_MAX_BYTES,
    DeletionPeriod,
    IsoDuration,
    KleClass,
    KleEdition,
    KleParseError,
    LegalRef,
    find_cycles,
    parse_iso_duration,
    parse_kle,
)
from classification.kle_synthetic import ADDED, MOVED, RETIRED, RETITLED, published, synthetic_emneplan

DATA = Path(__file__).parent / "data" / "kle"
XML2 = DATA / "emneplan-xml2-2026-01.xml"
XML2_NEXT = DATA / "emneplan-xml2-2026-04.xml"
FULL = DATA / "emneplan-full-2026-01.xml"
FACETS = DATA / "handlingsfacetter-2026-01.xml"


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of `path` that contains `text`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path.name}")


def parse_error(source: Path | bytes, **kwargs) -> KleParseError:
    with pytest.raises(KleParseError) as info:
        parse_kle(source, **kwargs)
    return info.value


def emneplan(body: str, published_date: str = "2026-01-01") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<KLE-Emneplan>\n'
            f"<UdgivelsesDato>{published_date}</UdgivelsesDato>\n{body}\n</KLE-Emneplan>\n").encode()


def emne(code: str, extra: str = "", title: str | None = None) -> str:
    return f"<Emne><EmneNr>{code}</EmneNr><EmneTitel>{title or 'Syntetisk emne ' + code}</EmneTitel>{extra}</Emne>"


def plan(*emner: str, gruppe: str = "27.01") -> bytes:
    """A minimal valid plan: hovedgruppe 27, one gruppe, the given <Emne> elements."""
    return emneplan(f"<Hovedgruppe><HovedgruppeNr>27</HovedgruppeNr><HovedgruppeTitel>Syntetisk 27</HovedgruppeTitel>"
                    f"<Gruppe><GruppeNr>{gruppe}</GruppeNr><GruppeTitel>Syntetisk {gruppe}</GruppeTitel>\n"
                    + "\n".join(emner) + "\n</Gruppe></Hovedgruppe>")


def moved_to(*codes: str) -> str:
    targets = "".join(f"<AfloestAf><EmneNr>{c}</EmneNr></AfloestAf>" for c in codes)
    return (f"<EmneAdministrativInfo><Historisk><Flyttet><FlyttetDato>2025-07-01</FlyttetDato>{targets}"
            "</Flyttet></Historisk></EmneAdministrativInfo>")


@pytest.fixture(scope="module")
def xml2() -> KleEdition:
    return parse_kle(XML2)


@pytest.fixture(scope="module")
def full() -> KleEdition:
    return parse_kle(FULL)


@pytest.fixture(scope="module")
def facets() -> KleEdition:
    return parse_kle(FACETS)


# -- the sample files ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "kind", "variant", "published_on", "counts"), [
    (XML2, "emneplan", "xml2", date(2026, 1, 1), {"hovedgruppe": 3, "gruppe": 12, "emne": 36}),
    (XML2_NEXT, "emneplan", "xml2", date(2026, 4, 1), {"hovedgruppe": 3, "gruppe": 12, "emne": 37}),
    (FULL, "emneplan", "full", date(2026, 1, 1), {"hovedgruppe": 3, "gruppe": 12, "emne": 36}),
    (FACETS, "handlingsfacetter", "full", date(2026, 1, 1), {"handlingsfacet_kategori": 3, "handlingsfacet": 9}),
])
def test_sample_files_parse_with_expected_counts(path, kind, variant, published_on, counts):
    edition = parse_kle(path)
    assert (edition.kind, edition.variant, edition.published) == (kind, variant, published_on)
    assert {level: edition.count(level) for level in counts} == counts
    assert len(edition.classes) == sum(counts.values())
    assert edition.warnings == []


def test_bytes_and_path_give_the_same_edition(xml2):
    assert parse_kle(XML2.read_bytes()) == xml2
    assert parse_kle(str(XML2)) == xml2


@pytest.mark.parametrize("path", [XML2, XML2_NEXT, FULL, FACETS])
def test_every_parent_exists_comes_first_and_is_extended(path):
    edition = parse_kle(path)
    seen: dict[str, KleClass] = {}
    for cls in edition.classes:
        if cls.level in ("hovedgruppe", "handlingsfacet_kategori"):
            assert cls.parent_code is None
        else:
            parent = seen[cls.parent_code]  # document order: the parent was read first
            assert cls.code.startswith(parent.code)
            expected_parent_level = {"gruppe": "hovedgruppe", "emne": "gruppe",
                                     "handlingsfacet": "handlingsfacet_kategori"}[cls.level]
            assert parent.level == expected_parent_level
        seen[cls.code] = cls
    assert len(seen) == len(edition.classes)  # codes are unique


def test_classes_carry_their_source_line(xml2):
    by_code = xml2.by_code()
    assert by_code["27.02.03"].line == line_of(XML2, "<EmneNr>27.02.03</EmneNr>") - 1  # the <Emne> start tag
    assert by_code["32"].line == line_of(XML2, "<HovedgruppeNr>32</HovedgruppeNr>") - 1


def test_class_fields_in_xml2(xml2):
    hg = xml2.by_code()["17"]
    assert hg.title == "Syntetisk fritid og naturpleje"
    assert hg.created == date(2001, 1, 1)
    assert hg.filters == ["Syntetisk delplan A"]
    assert hg.uuid is None and hg.search_words == [] and hg.action_search_words == []

    e = xml2.by_code()["27.01.03"]
    assert e.level == "emne" and e.parent_code == "27.01"
    assert e.archive_code == "B"
    assert e.deletion_period == DeletionPeriod("P3Y6M", IsoDuration(years=3, months=6))
    assert e.legal_refs == [
        LegalRef("Syntetisk lov om seniorcaféer", "§ 18", "A20269900011", None),
        LegalRef("Syntetisk bekendtgørelse om registrering", None, "B20269900012", None),
    ]
    changed = xml2.by_code()["17.05.01"]
    assert changed.changed == [date(2023, 6, 1), date(2024, 11, 1)]


def test_guidance_is_kept_as_an_xhtml_fragment(xml2):
    guidance = xml2.by_code()["27.01.03"].guidance_html
    assert guidance == (
        "<p>Syntetisk vejledning til 27.01.03. Bruges til opdigtede sager om seniorcaféer.</p>"
        "<p>Eksempler &amp; afgrænsning:<ul><li>ansøgning om seniorcaféer</li><li>afgørelse om seniorcaféer</li>"
        "</ul></p>"
        '<p>Se også <a href="https://example.invalid/vejledning/27.01.03">den fiktive vejledning</a>.</p>'
    )
    assert xml2.by_code()["27.01.01"].guidance_html is None


def test_retired_and_moved_subjects(xml2):
    retired = [c.code for c in xml2.classes if c.retired]
    assert retired == ["27.02.03"]
    assert xml2.by_code()["27.02.03"].retired == date(2025, 10, 1)
    moved = [c for c in xml2.classes if c.moved]
    assert [(c.code, c.moved, c.replaced_by) for c in moved] == [("27.05.01", date(2025, 7, 1), ["32.01.02"])]
    assert moved[0].retired is None


def test_full_variant_search_words_uuids_and_urls(full):
    by_code = full.by_code()
    assert by_code["17"].uuid == UUID("161837ab-8679-5823-a71d-1e40e4461016")
    assert all(c.uuid is not None for c in full.classes)
    assert len({c.uuid for c in full.classes}) == len(full.classes)
    # written as Orden 2, 1 in the file: returned in Orden order
    assert by_code["17"].search_words == ["syntetisk hovedgruppe 17", "fritid"]
    assert by_code["17.00.00"].search_words == ["tilskud til vandløb", "syntetisk tilskud"]
    assert by_code["27.01.03"].action_search_words == [("generelt om seniorcaféer", "G01"),
                                                       ("klage over registrering", "K01")]
    assert by_code["27.01.03"].legal_refs[0].url == "https://retsinformation.example/eli/lta/2026/9911"
    assert sum(len(c.search_words) for c in full.classes) == 102  # 3 x 2 + 12 x 2 + 36 emner with 1-3 each
    assert sum(len(c.action_search_words) for c in full.classes) == 30
    assert all(c.level == "emne" for c in full.classes if c.action_search_words)


def test_full_and_xml2_variants_of_the_same_content_give_the_same_classes(xml2, full):
    def without_full_extras(cls: KleClass) -> KleClass:
        return dataclasses.replace(cls, uuid=None, search_words=[], action_search_words=[],
                                   legal_refs=[dataclasses.replace(r, url=None) for r in cls.legal_refs])

    assert [without_full_extras(c) for c in full.classes] == xml2.classes
    assert full.classes != xml2.classes  # ...and the extras are really there


def test_the_next_edition_differs_only_as_described(xml2):
    nxt = parse_kle(XML2_NEXT)
    before, after = xml2.by_code(), nxt.by_code()
    assert set(after) - set(before) == {"32.05.04"}
    assert set(before) <= set(after)
    differing = {code for code in before if before[code] != after[code]}
    assert differing == {"17.01.02", "17.02.01", "27.01.03"}
    assert after["17.01.02"].title == "Puljer vedrørende cykelstier og stisystemer (syntetisk)"
    assert after["17.01.02"].changed[-1] == date(2026, 3, 15)
    assert (before["17.02.01"].retired, after["17.02.01"].retired) == (None, date(2026, 4, 1))
    assert after["27.01.03"].guidance_html != before["27.01.03"].guidance_html
    assert after["32.05.04"].created == date(2026, 3, 20)


def test_action_facets(facets):
    by_code = facets.by_code()
    assert [c.code for c in facets.classes if c.level == "handlingsfacet_kategori"] == ["G", "K", "S"]
    g01 = by_code["G01"]
    assert (g01.level, g01.parent_code, g01.title) == ("handlingsfacet", "G", "Syntetisk generel sag")
    assert isinstance(g01.uuid, UUID)
    assert g01.archive_code == "B"
    assert g01.guidance_html == "<p>Bruges til syntetiske sager, der ikke passer andre steder.</p>"
    assert [c.code for c in facets.classes if c.retired] == ["K02"]
    assert by_code["K02"].retired == date(2025, 12, 1)
    assert by_code["K"].guidance_html == "<p>Syntetisk kategori K. Opdigtet til test.</p>"


# -- broken files -------------------------------------------------------------------------------


def test_malformed_xml_names_the_line():
    path = DATA / "broken-malformed.xml"
    err = parse_error(path)
    assert err.line == line_of(path, "</EmneTitle>") == 12
    assert "malformed XML: mismatched tag" in err.message
    assert str(err).startswith("line 12: malformed XML")


def test_unknown_root_element():
    path = DATA / "broken-unknown-root.xml"
    err = parse_error(path)
    assert err.line == line_of(path, "<KLE-Emneplaner>")
    assert "unknown root element <KLE-Emneplaner>" in str(err)


def test_all_semantic_errors_of_a_file_are_reported_together():
    path = DATA / "broken-code-format.xml"
    err = parse_error(path)
    assert [line for line, _ in err.errors] == [
        line_of(path, "27.1.02"),
        line_of(path, "2026-02-30"),
        line_of(path, "Syntetisk dublet") - 2,  # the second <Emne> 27.01.03
        line_of(path, "<GruppeNr>28.01"),
    ]
    messages = [message for _, message in err.errors]
    assert "wrong code format: EmneNr '27.1.02' is not NN.NN.NN" in messages[0]
    assert "OprettetDato '2026-02-30' is not a date" in messages[1]
    assert f"duplicate code 27.01.03 (first at line {line_of(path, '<EmneNr>27.01.03') - 1})" in messages[2]
    assert "gruppe 28.01 does not extend the code of its hovedgruppe 27" in messages[3]
    assert err.line == err.errors[0][0]
    text = str(err)
    assert text.startswith("4 problems in the KLE file")
    for line, message in err.errors:
        assert f"line {line}: {message}" in text


def test_replaced_by_cycle_is_an_error():
    path = DATA / "broken-replaced-by-cycle.xml"
    err = parse_error(path)
    assert err.line == line_of(path, "<EmneNr>27.01.01</EmneNr>") - 1
    assert "cycle in replacements (AfloestAf): 27.01.01 -> 27.01.02 -> 27.01.01" in err.message


def test_doctype_with_external_entity_is_refused():
    path = DATA / "broken-doctype-entity.xml"
    err = parse_error(path)
    assert err.line == 2
    assert "DOCTYPE" in err.message
    assert "root:" not in str(err)  # nothing of /etc/passwd


def test_internal_entity_expansion_is_refused():
    laughs = (b'<?xml version="1.0"?>\n<!DOCTYPE KLE-Emneplan [\n <!ENTITY a "hahahahahahahaha">\n'
              b' <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n<KLE-Emneplan>&b;</KLE-Emneplan>\n')
    err = parse_error(laughs)
    assert err.line == 2 and "DOCTYPE" in err.message


def test_undeclared_entity_is_malformed():
    err = parse_error(plan(emne("27.01.01", title="&secret;")))
    assert "malformed XML: undefined entity" in err.message
    assert err.line == 5


def test_empty_and_binary_input_are_malformed():
    assert parse_error(b"").message.startswith("malformed XML: no element found")
    assert parse_error(b"\x00\xff\xfe garbage").message.startswith("malformed XML")


# -- size limit ---------------------------------------------------------------------------------


def test_size_limit_is_checked_before_parsing(tmp_path):
    assert DEFAULT_MAX_BYTES == 50 * 1024 * 1024
    data = XML2.read_bytes()
    err = parse_error(data, max_bytes=len(data) - 1)
    assert err.line is None and "larger than the limit" in err.message
    assert parse_kle(data, max_bytes=len(data)).count("emne") == 36

    # a malformed file over the limit fails on its size: it is never parsed
    big = tmp_path / "big.xml"
    big.write_bytes(b"<not-even-xml" + b" " * 2000)
    err = parse_error(big, max_bytes=1000)
    assert "larger than the limit of 1,000 bytes" in err.message


def test_source_must_be_a_path_or_bytes():
    with pytest.raises(TypeError):
        parse_kle(12345)  # type: ignore[arg-type]


# -- details of the format ----------------------------------------------------------------------


def test_namespaces_are_stripped():
    prefixed = (b'<k:KLE-Emneplan xmlns:k="urn:example:kle"><k:Hovedgruppe><k:HovedgruppeNr>27</k:HovedgruppeNr>'
                b"<k:HovedgruppeTitel>Syntetisk 27</k:HovedgruppeTitel></k:Hovedgruppe></k:KLE-Emneplan>")
    assert [c.code for c in parse_kle(prefixed).classes] == ["27"]


def test_dates_tolerate_time_and_zone_but_not_nonsense():
    edition = parse_kle(plan(emne("27.01.01", "<EmneAdministrativInfo><OprettetDato>2026-01-05T00:00:00+01:00"
                                              "</OprettetDato><RettetDato>2026-02-01Z</RettetDato>"
                                              "</EmneAdministrativInfo>")))
    cls = edition.by_code()["27.01.01"]
    assert (cls.created, cls.changed) == (date(2026, 1, 5), [date(2026, 2, 1)])
    err = parse_error(emneplan("<Hovedgruppe><HovedgruppeNr>27</HovedgruppeNr><HovedgruppeTitel>x</HovedgruppeTitel>"
                               "</Hovedgruppe>", published_date="1. januar 2026"))
    assert err.line == 3 and "UdgivelsesDato '1. januar 2026' is not a date" in err.message


def test_replaced_by_outside_the_file_is_a_warning_not_an_error():
    edition = parse_kle(plan(emne("27.01.01", moved_to("45.02.03"))))
    assert edition.by_code()["27.01.01"].replaced_by == ["45.02.03"]
    assert len(edition.warnings) == 1
    line, message = edition.warnings[0]
    assert line == 5 and "27.01.01 is replaced by 45.02.03" in message and "not in this file" in message


def test_replaced_by_self_and_bad_replacement_codes_are_errors():
    err = parse_error(plan(emne("27.01.01", moved_to("27.01.01"))))
    assert "cycle in replacements (AfloestAf): 27.01.01 -> 27.01.01" in err.message
    err = parse_error(plan(emne("27.01.01", moved_to("27-01-02"))))
    assert "wrong code format: AfloestAf of 27.01.01 names '27-01-02'" in err.message


def test_longer_replacement_chains_are_fine_and_cycles_anywhere_are_found():
    chain = plan(emne("27.01.01", moved_to("27.01.02")), emne("27.01.02", moved_to("27.01.03")), emne("27.01.03"))
    assert parse_kle(chain).by_code()["27.01.02"].replaced_by == ["27.01.03"]
    cycle = plan(emne("27.01.01", moved_to("27.01.02")), emne("27.01.02", moved_to("27.01.03")),
                 emne("27.01.03", moved_to("27.01.02")))
    err = parse_error(cycle)
    assert "27.01.02 -> 27.01.03 -> 27.01.02" in err.message


def test_find_cycles():
    assert find_cycles({"a": ["b"], "b": ["c"], "c": []}) == []
    assert find_cycles({"a": ["b"], "b": ["a"]}) == [["a", "b", "a"]]
    assert find_cycles({"a": ["a"]}) == [["a", "a"]]
    assert find_cycles({"a": ["x"], "b": ["a"]}) == []  # x is outside the graph
    assert find_cycles({"27.01": ["27"], "27": ["27.01.01"], "27.01.01": ["27.01"]}) == [
        ["27.01", "27", "27.01.01", "27.01"]]


def test_missing_code_and_title_wrong_uuid_and_order():
    err = parse_error(plan(
        "<Emne><EmneTitel>Syntetisk uden nummer</EmneTitel></Emne>",
        emne("27.01.02", title=" "),
        emne("27.01.03", "<UUID>not-a-uuid</UUID>"),
        emne("27.01.04", "<EmneStikord><Orden>først</Orden><Tekst>syntetisk</Tekst></EmneStikord>"),
    ))
    assert [message for _, message in err.errors] == [
        "<Emne> has no EmneNr",
        "emne 27.01.02 has no EmneTitel",
        "UUID 'not-a-uuid' is not a UUID",
        "Orden 'først' of search word 'syntetisk' is not a whole number",
    ]
    assert [line for line, _ in err.errors] == [5, 6, 7, 8]  # one <Emne> a line from 5


def test_duplicate_uuids():
    same = "<UUID>161837ab-8679-5823-a71d-1e40e4461016</UUID>"
    err = parse_error(plan(emne("27.01.01", same), emne("27.01.02", same)))
    assert "duplicate UUID 161837ab-8679-5823-a71d-1e40e4461016 on 27.01.02 (also on 27.01.01, line 5)" in err.message


def test_action_search_words_need_a_valid_facet_code():
    bad = ("<EmneOgHandlingsfacetStikord><Orden>1</Orden><Tekst>klage</Tekst><HandlingsfacetNr>G1</HandlingsfacetNr>"
           "</EmneOgHandlingsfacetStikord>")
    err = parse_error(plan(emne("27.01.01", bad)))
    assert "wrong code format: HandlingsfacetNr 'G1' of search word 'klage'" in err.message


def test_misplaced_class_elements_and_empty_files_are_errors():
    err = parse_error(emneplan("<Hovedgruppe><HovedgruppeNr>27</HovedgruppeNr><HovedgruppeTitel>x</HovedgruppeTitel>"
                               "</Hovedgruppe>\n" + emne("27.01.01")))
    assert err.line == 5 and "<Emne> is misplaced: it belongs directly inside <Gruppe>" in err.message
    err = parse_error(emneplan(""))
    assert "holds no <Hovedgruppe>" in err.message
    err = parse_error(b"<KLE-Handlingsfacetter><UdgivelsesDato>2026-01-01</UdgivelsesDato></KLE-Handlingsfacetter>")
    assert "holds no <HandlingsfacetKategori>" in err.message


def facet_file(kategori: str, *facets: str) -> bytes:
    body = "".join(f"<Handlingsfacet><HandlingsfacetNr>{f}</HandlingsfacetNr>"
                   f"<HandlingsfacetTitel>Syntetisk {f}</HandlingsfacetTitel></Handlingsfacet>\n" for f in facets)
    return (f"<KLE-Handlingsfacetter>\n<HandlingsfacetKategori><HandlingsfacetKategoriNr>{kategori}"
            f"</HandlingsfacetKategoriNr><HandlingsfacetKategoriTitel>Syntetisk</HandlingsfacetKategoriTitel>\n"
            f"{body}</HandlingsfacetKategori>\n</KLE-Handlingsfacetter>").encode()


def test_action_facet_codes():
    edition = parse_kle(facet_file("G", "G01", "G10"))
    assert (edition.kind, edition.variant) == ("handlingsfacetter", "xml2")
    assert [(c.code, c.parent_code) for c in edition.classes] == [("G", None), ("G01", "G"), ("G10", "G")]
    err = parse_error(facet_file("G", "G1", "K01", "g02"))
    assert [(line, message.split(":")[0]) for line, message in err.errors] == [
        (3, "wrong code format"), (4, "handlingsfacet K01 does not extend the code of its handlingsfacet_kategori G"),
        (5, "wrong code format")]
    err = parse_error(facet_file("GK", "G01"))
    assert "HandlingsfacetKategoriNr 'GK' is not one capital letter" in err.message


def test_deletion_periods():
    assert parse_iso_duration("P5Y") == IsoDuration(years=5)
    assert parse_iso_duration("P3Y6M") == IsoDuration(years=3, months=6)
    assert parse_iso_duration("p2w") == IsoDuration(days=14)
    assert parse_iso_duration("P1Y2M3W4D") == IsoDuration(1, 2, 25)
    assert parse_iso_duration(" P10Y\n") == IsoDuration(years=10)
    for not_a_duration in ("", "P", "5 år", "PT5H", "P1YT2H", "-P5Y", "P1.5Y", "P5"):
        assert parse_iso_duration(not_a_duration) is None
    assert IsoDuration(years=5).iso == "P5Y" and IsoDuration().iso == "P0D"
    assert IsoDuration(months=1).add_to(date(2024, 1, 31)) == date(2024, 2, 29)
    assert IsoDuration(years=5, days=1).add_to(date(2026, 12, 31)) == date(2032, 1, 1)

    edition = parse_kle(plan(emne("27.01.01", "<SletningJaevnfoerPersondataloven>Ingen frist"
                                              "</SletningJaevnfoerPersondataloven>")))
    assert edition.by_code()["27.01.01"].deletion_period == DeletionPeriod("Ingen frist", None)
    assert edition.warnings == [(5, "deletion period 'Ingen frist' is not an ISO 8601 duration such as P5Y; "
                                    "kept as text only")]


def test_filters_with_and_without_titles():
    edition = parse_kle(plan(emne("27.01.01", "<EmneFilter><FilterTitel>Delplan A</FilterTitel>"
                                              "<FilterTitel>Delplan B</FilterTitel></EmneFilter>"
                                              "<EmneFilter>Delplan C</EmneFilter>")))
    assert edition.by_code()["27.01.01"].filters == ["Delplan A", "Delplan B", "Delplan C"]


def test_guidance_variants_and_depth_limit():
    text_only = plan(emne("27.01.01", "<EmneVejledning><VejledningTekst>Brug &lt;ikke&gt; dette"
                                      "</VejledningTekst></EmneVejledning>"))
    assert parse_kle(text_only).by_code()["27.01.01"].guidance_html == "Brug &lt;ikke&gt; dette"
    deep = "<b>" * 60 + "x" + "</b>" * 60
    err = parse_error(plan(emne("27.01.01", f"<EmneVejledning><VejledningTekst>{deep}</VejledningTekst>"
                                            "</EmneVejledning>")))
    assert "nested more than 50 elements deep" in err.message


# -- the synthetic generator --------------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> list[KleEdition]:
    return [parse_kle(synthetic_emneplan(edition=e)) for e in (0, 1)]


def test_generator_default_size(generated):
    base = generated[0]
    assert (base.kind, base.variant, base.published, base.warnings) == ("emneplan", "full", date(2026, 1, 1), [])
    assert (base.count("hovedgruppe"), base.count("gruppe"), base.count("emne")) == (25, 225, 2250)
    assert sum(len(c.search_words) for c in base.classes) == 5000
    assert sum(len(c.action_search_words) for c in base.classes) == 1125
    assert all(c.uuid for c in base.classes) and not any(c.retired or c.moved for c in base.classes)


def test_generator_editions_differ_only_a_little(generated):
    before, after = (e.by_code() for e in generated)
    assert generated[1].published == published(1) == date(2026, 4, 1)
    added = set(after) - set(before)
    assert len(added) == ADDED and set(before) <= set(after)
    differing = {code for code in before if before[code] != after[code]}
    assert len(differing) == RETITLED + RETIRED + MOVED
    assert sum(1 for c in differing if after[c].title != before[c].title) == RETITLED
    assert sum(1 for c in differing if after[c].retired == date(2026, 4, 1)) == RETIRED
    moved = [after[c] for c in differing if after[c].moved]
    assert len(moved) == MOVED and set(moved[0].replaced_by) <= added
    assert all(before[c].uuid == after[c].uuid for c in before)


def test_generator_five_editions_accumulate_and_are_deterministic():
    small = {"hovedgrupper": 3, "grupper_per": 3, "emner_per": 4, "search_words_per": 1}
    editions = [parse_kle(synthetic_emneplan(**small, edition=e)) for e in range(5)]
    assert [len(e.classes) for e in editions] == [3 + 9 + 36 + ADDED * e for e in range(5)]
    assert [sum(1 for c in e.classes if c.retired) for e in editions] == [RETIRED * e for e in range(5)]
    assert [e.published for e in editions] == [date(2026, 1, 1), date(2026, 4, 1), date(2026, 7, 1),
                                               date(2026, 10, 1), date(2027, 1, 1)]
    assert synthetic_emneplan(**small, edition=3) == synthetic_emneplan(**small, edition=3)
    assert synthetic_emneplan(**small, seed=1) != synthetic_emneplan(**small, seed=0)
    with pytest.raises(ValueError, match="edition"):
        synthetic_emneplan(edition=5)
    with pytest.raises(ValueError, match="emner_per"):
        synthetic_emneplan(emner_per=90)
