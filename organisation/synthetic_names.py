"""Words for organisation/synthetic.py: forvaltninger and their topics, unit names, people's names,
job titles, addresses.  Invented or common Danish words only; no real person or unit is meant."""

from __future__ import annotations

import random
import re
import unicodedata

# (forvaltning, topics of its centres/afdelinger/..., share of the units)
BRANCHES = [
    ("Borgmesterens Afdeling", ["Økonomi", "HR", "IT", "Jura", "Kommunikation", "Indkøb", "Løn", "Erhverv",
                                "Byrådsservice", "Analyse"], 8),
    ("Børn og Unge", ["Dagtilbud", "Skole", "Familie", "PPR", "Sundhedspleje", "Tandpleje", "Ungdomsskole",
                      "Specialundervisning", "Fritid", "Inklusion"], 30),
    ("Kultur og Borgerservice", ["Borgerservice", "Biblioteker", "Kultur", "Idræt", "Pas og kørekort",
                                 "Folkeregister", "Digitalisering", "Arrangementer"], 10),
    ("Sociale Forhold og Beskæftigelse", ["Beskæftigelse", "Ydelser", "Socialpsykiatri", "Handicap", "Misbrug",
                                          "Integration", "Uddannelse", "Virksomhedsservice", "Sygedagpenge",
                                          "Boligsocial indsats"], 22),
    ("Sundhed og Omsorg", ["Hjemmepleje", "Sygepleje", "Rehabilitering", "Træning", "Visitation", "Demens",
                           "Forebyggelse", "Hjælpemidler", "Madservice", "Plejeboliger"], 22),
    ("Teknik og Miljø", ["Byggeri", "Trafik", "Natur", "Miljø", "Vej", "Park", "Affald", "Planlægning",
                         "Byggesager", "Kollektiv trafik"], 8),
]
CHILDREN, SOCIAL, CARE = 1, 3, 4
INSTITUTION_BRANCHES = (CHILDREN, SOCIAL, CARE)
_INSTITUTIONS = {
    0: ["Rådhusservice {p}"],
    1: ["{p} Skole", "Børnehuset {p}", "Vuggestuen {p}", "Dagtilbud {p}", "Fritidscenter {p}"],
    2: ["{p} Bibliotek", "Borgerservice {p}", "Kulturhus {p}", "Idrætscenter {p}"],
    3: ["Bostedet {p}", "Botilbud {p}", "Jobcenter {p}", "Værestedet {p}"],
    4: ["Plejehjemmet {p}", "Lokalcenter {p}", "Hjemmeplejen {p}", "Sundhedshuset {p}"],
    5: ["Genbrugsstation {p}", "Materielgården {p}", "Naturcenter {p}"],
}
PLACES = ["Viby", "Højbjerg", "Tilst", "Brabrand", "Åby", "Risskov", "Lystrup", "Skæring", "Egå", "Trige",
          "Tranbjerg", "Mårslet", "Beder", "Malling", "Solbjerg", "Hasselager", "Gellerup", "Hasle", "Trøjborg",
          "Frederiksbjerg", "Vejlby", "Skejby", "Sabro", "Harlev", "Hjortshøj", "Elev", "Lisbjerg", "Kolt",
          "Holme", "Stavtrup", "Gåsehaven", "Åkrogen", "Søholm", "Møllevang", "Bøgeskov", "Kærgård", "Nørrevang",
          "Østerby", "Vestervang", "Engdal"]
BIG_PLACE = "Syd"
_PARTS = ["Nord", "Syd", "Øst", "Vest", "Midt", "Centrum", "1", "2", "3", "A", "B"]
FIRST_NAMES = ["Anne", "Mette", "Søren", "Jørgen", "Bjørn", "Åse", "Mads", "Ida", "Freja", "Asger", "Kåre",
               "Bodil", "Torben", "Signe", "Line", "Jens", "Niels", "Lærke", "Maja", "Rasmus", "Frederik", "Mikkel",
               "Kirsten", "Hanne", "Birgitte", "Gitte", "Henrik", "Lars", "Peter", "Ole", "Poul", "Knud",
               "Marianne", "Karen", "Inger", "Ulla", "Kasper", "Emil", "Jonas", "Sofie", "Clara", "Astrid", "Ellen",
               "Grethe", "Jørn", "Bent", "Preben", "Tove", "Dorte", "Lene", "Malene", "Louise", "Camilla", "Nanna",
               "Thor", "Øjvind", "Søs", "Bjørg", "Aksel", "Nikolaj", "Ahmad", "Fatima", "Mia", "Noah"]
LAST_NAMES = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen",
              "Rasmussen", "Jørgensen", "Petersen", "Madsen", "Kristensen", "Olsen", "Thomsen", "Christiansen",
              "Poulsen", "Johansen", "Møller", "Mortensen", "Østergaard", "Damgård", "Søndergaard", "Kjær",
              "Bækgaard", "Højgaard", "Ågaard", "Skovgård", "Bøgh", "Krøyer", "Nørgaard", "Lund", "Holm", "Friis",
              "Dahl", "Vestergaard", "Jakobsen", "Frandsen", "Mølgaard", "Bødker"]
_STREETS = ["Rådhuspladsen", "Skolegade", "Søndergade", "Vestergade", "Østergade", "Nørregade", "Bakkevej",
            "Skovvej", "Engvej", "Kirkevej", "Møllevej", "Birkevej", "Åboulevarden", "Grøndalsvej", "Kærvej"]
_TOWNS = [("8000", "Aarhus C"), ("8200", "Aarhus N"), ("8210", "Aarhus V"), ("8220", "Brabrand"),
          ("8230", "Åbyhøj"), ("8240", "Risskov"), ("8250", "Egå"), ("8260", "Viby J"), ("8270", "Højbjerg"),
          ("8310", "Tranbjerg J"), ("8320", "Mårslet"), ("8330", "Beder"), ("8340", "Malling"),
          ("8355", "Solbjerg"), ("8361", "Hasselager"), ("8380", "Trige"), ("8381", "Tilst"), ("8520", "Lystrup")]
_TITLES = {
    CHILDREN: ["Pædagog", "Lærer", "Pædagogmedhjælper", "Pædagogisk assistent", "Skolesekretær"],
    CARE: ["Social- og sundhedshjælper", "Social- og sundhedsassistent", "Sygeplejerske", "Ergoterapeut",
           "Fysioterapeut"],
    SOCIAL: ["Socialrådgiver", "Jobkonsulent", "Socialpædagog", "Sagsbehandler"],
}
_OFFICE_TITLES = ["Sagsbehandler", "Konsulent", "Specialkonsulent", "Administrativ medarbejder", "Fuldmægtig",
                  "Jurist", "Økonom", "Ingeniør", "Projektleder", "Rådgiver"]
_MANAGER_TITLES = {"kommune": "Kommunaldirektør", "direktion": "Direktør", "forvaltning": "Direktør",
                   "center": "Centerchef", "afdeling": "Afdelingsleder", "sektion": "Sektionsleder",
                   "kontor": "Kontorchef", "institution": "Leder", "team": "Teamleder"}
_FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "Ae", "Ø": "Oe", "Å": "Aa"})


def ascii_slug(text: str) -> str:
    """'Center for Sygepleje (Øst)' → 'center-for-sygepleje-oest'."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def unit_name(rng: random.Random, unit_type: str, branch: int, topic: str) -> str:
    if unit_type == "institution":
        return rng.choice(_INSTITUTIONS.get(branch, ["Institution {p}"])).format(p=rng.choice(PLACES))
    if unit_type == "center":
        return f"Center for {topic}"
    if unit_type == "afdeling":
        return f"Afdeling for {topic}"
    if unit_type == "sektion":
        return f"Sektion for {topic}"
    if unit_type == "kontor":
        return f"Kontor for {topic}"
    if unit_type == "team":
        return f"Team {topic} {rng.choice(_PARTS)}"
    return topic


def first_name(rng: random.Random) -> str:
    first = rng.choice(FIRST_NAMES)
    return f"{first} {rng.choice(FIRST_NAMES)}" if rng.random() < 0.2 else first


def title(rng: random.Random, unit_type: str, branch: int) -> str:
    if unit_type in ("institution", "team") and branch in _TITLES:
        return rng.choice(_TITLES[branch])
    return rng.choice(_OFFICE_TITLES)


def manager_title(unit_type: str) -> str:
    return _MANAGER_TITLES.get(unit_type, "Leder")


def phone(rng: random.Random) -> str:
    return f"+45 {rng.randrange(2000, 10000):04d} {rng.randrange(10000):04d}"


def post_address(rng: random.Random) -> str:
    zip_code, town = rng.choice(_TOWNS)
    return f"{rng.choice(_STREETS)} {rng.randint(1, 120)}, {zip_code} {town}"
