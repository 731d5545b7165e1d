"""Forms in the admin web: the API's refusals as Danish messages next to the fields they name.

A form posts to its admin view, which sends the values to the API; a 4xx
problem comes back with `errors[].field` naming the API fields at fault.
`problem_messages()` turns that into {form field: Danish message} for the
template (the macro in templates/admin/macros.html shows a message under its
field, marks the input `aria-invalid` and links it with `aria-describedby`),
plus a message for the whole form under the key "form".  The common
validation messages and problem codes are translated; anything else is
shown as the API said it, which names the field and the rule precisely.
"""

from __future__ import annotations

from datetime import date

from admin.api_client import ApiResult

MESSAGES = {
    "Missing data for required field.": "Skal udfyldes.",
    "Field may not be null.": "Skal udfyldes.",
    "Not a valid date.": "Ikke en gyldig dato (ÅÅÅÅ-MM-DD).",
    "Not a valid UUID.": "Ikke et gyldigt valg.",
    "Unknown field.": "Ukendt felt.",
}
CODES = {
    "hierarchy_cycle": "Den valgte overordnede enhed ligger under enheden selv; det ville give en løkke i "
                       "hierarkiet.",
    "second_root": "Enheden ville blive en ekstra rodenhed. Kommunen har allerede en; vælg en overordnet enhed.",
    "invalid_parent": "Den overordnede enhed findes ikke i hele perioden.",
    "unit_has_children": "Enheden har stadig underenheder i perioden; flyt dem først.",
    "precondition_failed": "Enheden er blevet ændret af en anden, siden du åbnede formularen. Åbn den igen, og "
                           "gentag din ændring.",
    "conflict": "Værdien er allerede i brug.",
}


def _danish(message: str) -> str:
    if message in MESSAGES:
        return MESSAGES[message]
    if message.startswith(("Length must be", "Shorter than minimum")):
        return "Skal udfyldes (højst 500 tegn)."
    return message


def problem_messages(result: ApiResult, fields: tuple[str, ...],
                     aliases: dict[str, str] | None = None) -> dict[str, str]:
    """{form field: message} and "form": a message for the whole form, from a 4xx answer.  Messages
    for fields the form does not have (`fields` are its fields) go into the form's message."""
    general = CODES.get(result.code or "")
    errors = {name: general or _danish(text) for name, text in result.field_errors(aliases).items()}
    elsewhere = [f"{name}: {errors.pop(name)}" for name in list(errors) if name not in fields]
    if general is None:
        general = "Ændringen blev ikke gemt. Ret de markerede felter." if errors else \
            f"Ændringen blev ikke gemt: {result.detail}"
        if elsewhere:
            general += " (" + "; ".join(elsewhere) + ")"
    errors["form"] = f"{general} ({result.detail})" if result.code in CODES and result.detail else general
    return errors


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        return None
