"""BM25 over the pages that matched, computed here from their text rather than by FTS5's
bm25(): that one first counts, for every term of the query, each page of the whole index
that holds it, a filter's tag included. At 100,000 documents that cost ~10 ms for the
tag of a common status and ~100 ms for a phrase of two common words, whether one page
matched or a thousand; here a term's count stops at COUNT_SAMPLE pages and is
extrapolated over the rowids (pages are spread evenly over them), and a thousand pages
are scored in ~10 ms.

Only the order of the hits (and the shown score) depends on this; which pages match is
decided by the index alone. Terms are counted in the text as the index tokenizes it:
case and accents folded, letters and digits make words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ocrlive.records.query import ParsedQuery
from ocrlive.records.snippets import fold, starts_word, term_pattern

K1, B = 1.2, 0.75  # FTS5's bm25() constants
COUNT_SAMPLE = 5000


@dataclass(frozen=True)
class Corpus:
    """What idf needs: pages in the index and the rowid span they occupy."""

    pages: int
    first_rowid: int
    last_rowid: int

    def estimate(self, seen: int, last_seen: int | None) -> float:
        """Pages holding a term, from the first `seen` of them up to rowid `last_seen`."""
        if seen < COUNT_SAMPLE or last_seen is None:
            return float(seen)
        covered = (last_seen - self.first_rowid + 1) / max(
            1, self.last_rowid - self.first_rowid + 1
        )
        return min(float(self.pages), seen / max(covered, 1e-9))

    def idf(self, holding: float) -> float:
        return max(1e-6, math.log((self.pages - holding + 0.5) / (holding + 0.5)))


def _count(pattern: re.Pattern[str], text: str) -> int:
    return sum(1 for m in pattern.finditer(text) if starts_word(text, m.start()))


def _folded(body: str) -> str:
    return body.lower() if body.isascii() else fold(body)


def scores(bodies: Sequence[str], query: ParsedQuery, idfs: Sequence[float]) -> list[float]:
    """BM25 of each page for the query's positive terms, `idfs` in their order. A page's
    length is counted in characters (splitting it into words cost more than all the
    rest), against the average of these pages."""
    patterns = [term_pattern(t) for t in query.positive]
    texts = [_folded(b) for b in bodies]
    lengths = [len(t) for t in texts]
    average = max(1.0, sum(lengths) / max(1, len(lengths)))
    out = []
    for text, length in zip(texts, lengths, strict=True):
        norm = K1 * (1 - B + B * length / average)
        score = 0.0
        for pattern, idf in zip(patterns, idfs, strict=True):
            tf = _count(pattern, text)
            score += idf * tf * (K1 + 1) / (tf + norm) if tf else 0.0
        out.append(score)
    return out
