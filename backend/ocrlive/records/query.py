"""What a person types into the search box, parsed once for every backend.

The syntax is the one people already know: words (all must match), `word*` for a
prefix, `"a quoted phrase"`, and `-word` to leave documents out. Nothing else of a
backend's query language leaks through, so a stray quote, colon or parenthesis in what
was typed can never be a syntax error nor reach an unintended column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ocrlive.errors import InvalidRequest

MAX_QUERY_CHARS = 500
MAX_TERMS = 32

# A quoted phrase (closed or not), or a run of anything but spaces and quotes.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')


@dataclass(frozen=True)
class Term:
    """One condition: `words` in this order; the last one may be a prefix."""

    words: tuple[str, ...]
    prefix: bool = False
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    terms: tuple[Term, ...]

    @property
    def positive(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if not t.negated)


def _words(text: str) -> tuple[str, ...]:
    """Words as the index sees them: letters and digits; punctuation separates."""
    return tuple(w for w in re.split(r"[^\w]+|_", text) if w)


def _bare_term(raw: str) -> Term | None:
    negated = raw.startswith("-") and len(raw) > 1
    raw = raw[1:] if negated else raw
    prefix = raw.endswith("*")
    words = _words(raw.rstrip("*"))
    return Term(words, prefix, negated) if words else None


def parse_query(text: str) -> ParsedQuery:
    """Raises InvalidRequest when nothing searchable is left."""
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"q is longer than {MAX_QUERY_CHARS} characters")
    terms: list[Term] = []
    for match in _TOKEN.finditer(text):
        minus, phrase, bare = match.groups()
        if bare is not None:
            term = _bare_term(bare)
        else:
            words = _words(phrase)
            term = Term(words, negated=bool(minus)) if words else None
        if term is not None:
            terms.append(term)
    if not any(not t.negated for t in terms):
        raise InvalidRequest("q must contain at least one word to look for")
    if len(terms) > MAX_TERMS:
        raise InvalidRequest(f"q may hold at most {MAX_TERMS} words or phrases")
    return ParsedQuery(tuple(terms))
