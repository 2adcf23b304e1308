"""Word recall, word precision and character error rate of an OCR text."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np


def words(text: str) -> Counter[str]:
    """Bag of words: runs of letters and digits, case ignored (what a search matches)."""
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, one numpy row per character of `a`."""
    if not a or not b:
        return len(a) + len(b)
    target = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    offsets = np.arange(len(b) + 1)
    row = offsets.copy()
    for i, char in enumerate(a, start=1):
        substitute = row[:-1] + (target != ord(char))
        delete = row[1:] + 1
        best = np.concatenate(([i], np.minimum(substitute, delete)))
        # An insertion chain: row[j] = min over k <= j of best[k] + (j - k).
        row = np.minimum.accumulate(best - offsets) + offsets
    return int(row[-1])


def _flat(text: str) -> str:
    return " ".join(text.split())


@dataclass
class Score:
    """Sums over pages; `recall`, `precision` and `cer` pool them."""

    expected_words: int = 0
    found_words: int = 0
    hits: int = 0
    chars: int = 0
    edits: int = 0

    def add(self, expected: str, found: str) -> Score:
        want, got = words(expected), words(found)
        self.expected_words += sum(want.values())
        self.found_words += sum(got.values())
        self.hits += sum(min(n, got[w]) for w, n in want.items())
        self.chars += len(_flat(expected))
        self.edits += edit_distance(_flat(expected), _flat(found))
        return self

    def merge(self, other: Score) -> Score:
        for name in ("expected_words", "found_words", "hits", "chars", "edits"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self

    @property
    def recall(self) -> float:
        return self.hits / self.expected_words if self.expected_words else 1.0

    @property
    def precision(self) -> float:
        return self.hits / self.found_words if self.found_words else 1.0

    @property
    def cer(self) -> float:
        return self.edits / self.chars if self.chars else 0.0
