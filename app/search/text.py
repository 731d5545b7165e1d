"""Text normalisation for search fields.

The Elasticsearch distribution the project runs (integ-test-zip) has no
analysis-common module, so there is no `asciifolding` filter.  Folding is done
here instead, into a separate `*_folded` field, the Danish way: æ → ae,
ø → oe, å → aa, then any other accent dropped.  "Århus" then finds "Aarhus"
and "Hoeje" finds "Høje-Taastrup".
"""

from __future__ import annotations

import unicodedata

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "Æ": "ae", "Ø": "oe", "Å": "aa"})


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.translate(_DANISH))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
