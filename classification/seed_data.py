"""The national type lists every service needs, as plain data (docs/classifications.md).

Organisation needs unit types, function types, KLE aspects and address types;
the case and document index needs sensitivity levels, case progress states and
document types; the benefit index needs benefit classes.  They are loaded into
Klassifikation by `classification.seed.load_seed` (`flask klassifikation seed`,
and `flask demo load`, so `make run` has them).

Grouping: one national Klassifikation, "Fælles typer", with one Facet per list.
The lists cut across services (sensitivity is used by the case index, the
benefit index and access control; KLE aspects by Organisation and access
control), so a split per service would have to give them an arbitrary home.

Identities are what other services and municipalities' systems keep, so they
never depend on the grouping or on titles: every UUID is uuid5 of
`classification.model.NAMESPACE` and a name built from codes only,

    Klassifikation  "seed:klassifikation:<key>"
    Facet           "seed:facet:<facet key>"
    Klasse          "seed:klasse:<facet key>:<class code>"

(the prefix "seed:" keeps them apart from the KLE names in model.py).  Moving a
facet to another Klassifikation or retitling a class therefore keeps its UUID;
changing a code makes a new class, so codes are never changed once published.

The order of the classes in a facet is meaningful where the list is ordered
(sensitivity levels from lowest to highest, case progress in its sequence).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from classification.model import NAMESPACE


def klassifikation_uuid(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"seed:klassifikation:{key}"))


def facet_uuid(facet: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"seed:facet:{facet}"))


def class_uuid(facet: str, code: str) -> str:
    """The stable UUID of a seeded class, e.g. class_uuid("funktionstype", "leder")."""
    return str(uuid.uuid5(NAMESPACE, f"seed:klasse:{facet}:{code}"))


@dataclass(frozen=True)
class SeedClass:
    user_key: str  # the code: short, stable, ASCII
    title: str
    description: str | None = None


@dataclass(frozen=True)
class SeedFacet:
    user_key: str
    title: str
    description: str
    classes: tuple[SeedClass, ...]

    @property
    def uuid(self) -> str:
        return facet_uuid(self.user_key)

    def class_uuid(self, code: str) -> str:
        return class_uuid(self.user_key, code)


C = SeedClass

KLASSIFIKATION_KEY = "faelles_typer"
KLASSIFIKATION_TITLE = "Fælles typer"
KLASSIFIKATION_DESCRIPTION = ("Nationale typelister, som Organisation, Sags- og dokumentindekset, Ydelsesindekset "
                              "og adgangsstyringen deler.")
FAELLES_TYPER = klassifikation_uuid(KLASSIFIKATION_KEY)

FACETS: tuple[SeedFacet, ...] = (
    SeedFacet("enhedstype", "Enhedstype", "Typen af en organisationsenhed i kommunens hierarki.", (
        C("kommune", "Kommune", "Rodenheden: kommunen som organisation."),
        C("direktion", "Direktion"),
        C("forvaltning", "Forvaltning", "Et fagligt hovedområde under direktionen, fx Børn og Unge."),
        C("center", "Center", "Fx jobcenter, borgerservicecenter."),
        C("afdeling", "Afdeling"),
        C("sektion", "Sektion"),
        C("kontor", "Kontor"),
        C("institution", "Institution", "Fx skole, daginstitution, plejecenter."),
        C("team", "Team"),
    )),
    SeedFacet("funktionstype", "Funktionstype",
              "Typen af en organisationsfunktion, der knytter brugere og enheder sammen.", (
        C("arbejder_i", "Arbejder i", "Ansættelse (engagement) af en bruger i en enhed."),
        C("leder", "Leder", "Leder af en enhed."),
        C("udbetalende_enhed", "Udbetalende enhed", "Den enhed, der udbetaler for en anden enhed."),
        C("henvendelsessted", "Henvendelsessted", "Hvor borgere og virksomheder henvender sig om enhedens "
          "KLE-opgaver."),
        C("tilknyttet", "Tilknyttet", "En bruger tilknyttet en enhed uden ansættelse, fx konsulent."),
    )),
    SeedFacet("kle_aspekt", "KLE-aspekt", "Hvordan en enhed er knyttet til en KLE-opgave.", (
        C("ansvarlig", "Ansvarlig", "Enheden har ansvaret for opgaven."),
        C("indsigt", "Indsigt", "Enheden har indsigt i sager om opgaven."),
        C("udfoerende", "Udførende", "Enheden udfører opgaven."),
    )),
    SeedFacet("adressetype", "Adressetype", "Typen af en adresse på en enhed eller bruger.", (
        C("postadresse", "Postadresse", "En DAR-adresse."),
        C("email", "E-mail"),
        C("telefon", "Telefon"),
        C("ean", "EAN-nummer", "13 cifre; til elektronisk fakturering."),
        C("p_nummer", "P-nummer", "Produktionsenhedsnummer i CVR, 10 cifre."),
        C("los_id", "LOS-id", "Enhedens id i Den Fælles Offentlige Stamdatabase (LOS)."),
        C("www", "Webadresse"),
    )),
    SeedFacet("foelsomhed", "Følsomhed",
              "Følsomheden af en sag, et dokument eller en bevilling, fra laveste til højeste niveau; adgang "
              "til et niveau giver adgang til de lavere.", (
        C("IKKE_FORTROLIGE_DATA", "Ikke fortrolige data", "Niveau 1."),
        C("FORTROLIGE_PERSONOPLYSNINGER", "Fortrolige personoplysninger", "Niveau 2."),
        C("FOELSOMME_PERSONOPLYSNINGER", "Følsomme personoplysninger", "Niveau 3."),
        C("VIP_SAGER", "VIP-sager", "Niveau 4: sager om kendte personer."),
    )),
    SeedFacet("sagsfremdrift", "Sagsfremdrift", "En sags fremdrift, i rækkefølge.", (
        C("Opstaaet", "Opstået", "Sagen er oprettet."),
        C("Oplyst", "Oplyst", "Sagen er oplyst."),
        C("Afgjort", "Afgjort", "Der er truffet afgørelse."),
        C("Afsluttet", "Afsluttet", "Sagen er afsluttet."),
    )),
    SeedFacet("dokumenttype", "Dokumenttype", "Typen af et dokument i sags- og dokumentindekset.", (
        C("indgaaende_brev", "Indgående brev"),
        C("udgaaende_brev", "Udgående brev"),
        C("dagsorden", "Dagsorden"),
        C("referat", "Referat"),
        C("notat", "Notat", "Fx journalnotat."),
        C("faktura", "Faktura"),
        C("rapport", "Rapport"),
        C("ansoegning", "Ansøgning"),
        C("afgoerelse", "Afgørelse"),
        C("kontrakt", "Kontrakt"),
    )),
    SeedFacet("ydelsesklasse", "Ydelsesklasse", "Klassen af en bevilget ydelse i ydelsesindekset.", (
        C("kontanthjaelp", "Kontanthjælp", "Lov om aktiv socialpolitik."),
        C("sygedagpenge", "Sygedagpenge", "Lov om sygedagpenge."),
        C("ledighedsydelse", "Ledighedsydelse", "Lov om aktiv socialpolitik."),
        C("ressourceforloebsydelse", "Ressourceforløbsydelse", "Lov om aktiv socialpolitik."),
        C("foertidspension", "Førtidspension", "Lov om social pension."),
        C("boligstoette", "Boligstøtte", "Lov om individuel boligstøtte."),
        C("enkeltydelse", "Enkeltydelse", "Hjælp i særlige tilfælde efter lov om aktiv socialpolitik."),
        C("merudgifter", "Dækning af merudgifter", "Til børn og voksne med nedsat funktionsevne."),
        C("tabt_arbejdsfortjeneste", "Tabt arbejdsfortjeneste", "Til forældre, der passer et barn med "
          "nedsat funktionsevne."),
    )),
)

BY_KEY: dict[str, SeedFacet] = {f.user_key: f for f in FACETS}

# The facets' UUIDs, for services that refer to them.
ENHEDSTYPE = facet_uuid("enhedstype")
FUNKTIONSTYPE = facet_uuid("funktionstype")
KLE_ASPEKT = facet_uuid("kle_aspekt")
ADRESSETYPE = facet_uuid("adressetype")
FOELSOMHED = facet_uuid("foelsomhed")
SAGSFREMDRIFT = facet_uuid("sagsfremdrift")
DOKUMENTTYPE = facet_uuid("dokumenttype")
YDELSESKLASSE = facet_uuid("ydelsesklasse")


def _check() -> None:
    """Codes unique per facet and facet keys unique: a duplicate would silently merge two classes."""
    if len(BY_KEY) != len(FACETS):
        raise ValueError("duplicate facet key in seed_data")
    for f in FACETS:
        codes = [c.user_key for c in f.classes]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate class code in seed facet {f.user_key}")


_check()
