"""Highlighted context for a search hit, made from the page's text and the parsed query.

Made here rather than by FTS5's snippet(), which would run for every match that is
ranked, not for the page of hits alone. Words are compared as the index compares them
(unicode61 with remove_diacritics 2): case-folded, accents removed, punctuation
separating words.
"""

from __future__ import annotations

import re
import unicodedata

from ocrlive.records.query import ParsedQuery, Term

WINDOW = 14  # words of context, as many as FTS5's snippet() gave
BEFORE = 4  # of them before the first match
_WORD = re.compile(r"[^\W_]+")
ELLIPSIS = ("…", False)
# Characters of the page kept around its first match: more than WINDOW words either side.
EXCERPT_BEFORE, EXCERPT_AFTER = 160, 320


def fold(word: str) -> str:
    if word.isascii():
        return word.lower()
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _matches(words: list[str], query: ParsedQuery) -> set[int]:
    """Indexes of the words that a positive term matched."""
    return _term_matches(words, query.positive)


def _page_words(body: str) -> tuple[list[tuple[int, int]], list[str]]:
    spans = [m.span() for m in _WORD.finditer(body)]
    lowered = body.lower() if body.isascii() else None  # one call instead of one a word
    words = [lowered[a:b] if lowered is not None else fold(body[a:b]) for a, b in spans]
    return spans, words


def _term_matches(words: list[str], terms: tuple[Term, ...]) -> set[int]:
    found: set[int] = set()
    for term in terms:
        wanted = [fold(w) for w in term.words]
        if len(wanted) == 1 and not term.prefix:  # the common case, without a window
            found.update(i for i, w in enumerate(words) if w == wanted[0])
            continue
        for start in range(len(words) - len(wanted) + 1):
            window = words[start : start + len(wanted)]
            head_ok = window[:-1] == wanted[:-1]
            last = window[-1]
            last_ok = last.startswith(wanted[-1]) if term.prefix else last == wanted[-1]
            if head_ok and last_ok:
                found.update(range(start, start + len(wanted)))
    return found


def term_pattern(term: Term) -> re.Pattern[str]:
    """The term's words in order in folded text, ending a word unless a prefix. Starting
    with the word itself lets the regex engine skip ahead to it (a lookbehind first
    cost 50 us a page); `_count` checks the start."""
    words = [re.escape(fold(w)) for w in term.words]
    tail = "" if term.prefix else r"(?![^\W_])"
    return re.compile(r"[\W_]+".join(words) + tail)


def starts_word(text: str, at: int) -> bool:
    return not text[at - 1 : at].isalnum()


def _first_match(body: str, query: ParsedQuery) -> int | None:
    """Where a positive term first matches in an ASCII page; None for another page
    (folding accents changes the offsets) or no match."""
    if not body.isascii():
        return None
    lowered = body.lower()
    starts = [_first_start(term_pattern(term), lowered) for term in query.positive]
    found = [at for at in starts if at is not None]
    return min(found) if found else None


def _first_start(pattern: re.Pattern[str], text: str) -> int | None:
    return next((m.start() for m in pattern.finditer(text) if starts_word(text, m.start())), None)


def make_snippet(body: str, query: ParsedQuery) -> list[tuple[str, bool]]:
    """About WINDOW words around the first match, as (text, is a match) segments. Made
    from an excerpt around the first match where it can be found cheaply: splitting a
    whole 30-line page into words for each of 20 hits cost ~15 ms a search."""
    at = _first_match(body, query)
    if at is None:
        return _snippet(body, query)
    lo = _word_edge(body, max(0, at - EXCERPT_BEFORE), forward=True)
    hi = _word_edge(body, min(len(body), at + EXCERPT_AFTER), forward=False)
    segments = _snippet(body[lo:hi], query)
    if lo > 0 and not segments[0][0].startswith("…"):
        segments.insert(0, ELLIPSIS)
    if hi < len(body) and not segments[-1][0].endswith("…"):
        segments.append(ELLIPSIS)
    return _tidy(segments)


def _word_edge(body: str, at: int, *, forward: bool) -> int:
    """`at`, moved off the middle of a word (forward to its end, or back to its start)."""
    step = 1 if forward else -1
    while 0 < at < len(body) and body[at - 1].isalnum() and body[at].isalnum():
        at += step
    return at


def _snippet(body: str, query: ParsedQuery) -> list[tuple[str, bool]]:
    spans, words = _page_words(body)
    hits = _matches(words, query)
    if not spans:
        return []
    first = min(hits) if hits else 0
    lo = max(0, min(first - BEFORE, len(spans) - WINDOW))
    hi = min(len(spans), lo + WINDOW)
    segments: list[tuple[str, bool]] = []
    cursor = spans[lo][0]
    for i in range(lo, hi):
        a, b = spans[i]
        if i in hits:
            # The gap between two matched words (a phrase) is part of the match.
            segments.append((body[cursor:a], i - 1 in hits and i > lo))
            segments.append((body[a:b], True))
            cursor = b
    segments.append((body[cursor : spans[hi - 1][1]], False))
    if lo > 0:
        segments.insert(0, ELLIPSIS)
    if hi < len(spans):
        segments.append(ELLIPSIS)
    return _tidy(segments)


def _tidy(segments: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Line breaks as spaces; empty pieces dropped, neighbours of one kind joined."""
    tidy: list[tuple[str, bool]] = []
    for text, match in segments:
        text = re.sub(r"\s+", " ", text)
        if not text:
            continue
        if tidy and tidy[-1][1] == match:
            tidy[-1] = (tidy[-1][0] + text, match)
        else:
            tidy.append((text, match))
    return tidy
