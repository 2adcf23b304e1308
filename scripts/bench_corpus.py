"""The synthetic documents of the search benchmarks (bench_search.py, bench_pg_search.py,
bench_index_writes.py): 1-3 pages of 30 lines of 5-10 words, words drawn from a
Zipf-distributed clinical vocabulary, 10,000 patients, a year of upload dates."""

from __future__ import annotations

import json
import random
import sqlite3
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from ocrlive.events import DocumentType
from ocrlive.ocr.types import TaskResult

DOCUMENT_TYPES = [str(t) for t in DocumentType]

_BASE = """patient admitted with chest pain and shortness of breath blood pressure stable
heart rate regular oxygen saturation normal temperature discharge summary referral letter
general practitioner hospital ward clinic review medication dose tablet daily morning evening
allergy penicillin ibuprofen paracetamol insulin metformin follow appointment weeks results
laboratory haemoglobin glucose sodium potassium creatinine kidney liver function scan
ultrasound consultant surgery theatre recovery nursing notes the of to in for on at by from
was is has had not no history examination diagnosis plan treatment signed doctor nurse"""
BASE_WORDS = _BASE.split()
VOCABULARY = 20_000  # distinct words: the base ones, then made-up drug, place and surnames
PATIENTS = 10_000
LINES_PER_PAGE = 30
PAGE_WEIGHTS = {1: 0.6, 2: 0.25, 3: 0.15}


def vocabulary(rng: random.Random) -> list[str]:
    words = list(dict.fromkeys(BASE_WORDS))
    while len(words) < VOCABULARY:
        words.append("".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 11))))
    return words


class TextMaker:
    """Lines of 5-10 words whose frequencies follow Zipf's law (s = 1.07, as English)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(random.Random(7))
        weights = [1 / (rank + 1) ** 1.07 for rank in range(len(self.words))]
        total = sum(weights)
        self.cumulative = list(_accumulate(w / total for w in weights))

    def line(self) -> str:
        count = self.rng.randint(5, 10)
        picks = self.rng.choices(self.words, cum_weights=self.cumulative, k=count)
        return " ".join(picks).capitalize()

    def result(self, pages: int) -> TaskResult:
        shaped = []
        for number in range(1, pages + 1):
            lines = [self.line() for _ in range(LINES_PER_PAGE)]
            shaped.append({
                "number": number, "width": 1654, "height": 2339, "text": "\n".join(lines),
                "lines": [{"text": t, "score": round(self.rng.uniform(0.6, 1.0), 4),
                           "box": [[140, 80 * i + 140], [1500, 80 * i + 140],
                                   [1500, 80 * i + 176], [140, 80 * i + 176]]}
                          for i, t in enumerate(lines)],
            })  # fmt: skip
        text = "\n\n".join(p["text"] for p in shaped)
        return {"task_id": "", "text": text, "score": 0.9, "engine": {"name": "synthetic"},
                "pages": shaped}  # type: ignore[typeddict-item]  # fmt: skip


def _accumulate(values: Iterator[float] | Any) -> Iterator[float]:
    running = 0.0
    for v in values:
        running += v
        yield running


TASK_SQL = (
    "INSERT INTO tasks (id, patient_id, document_type, filename, content_type, size, sha256, "
    "file_path, status, stage, progress, pages_done, pages_total, attempts, created_at, "
    "updated_at, finished_at, version) VALUES (?, ?, ?, ?, 'application/pdf', 1000, '', '', "
    "?, 'done', 100, ?, ?, 1, ?, ?, ?, 0)"
)


def insert_document(conn: sqlite3.Connection, maker: TextMaker, rng: random.Random, n: int) -> None:
    pages = rng.choices(list(PAGE_WEIGHTS), weights=list(PAGE_WEIGHTS.values()))[0]
    day = 1 + n * 365 // 100_000 % 365
    created = f"2026-{1 + (day - 1) // 31 % 12:02d}-{1 + (day - 1) % 28:02d}T10:00:00+00:00"
    status = "completed" if rng.random() < 0.97 else "queued"  # a few being read again
    patient = f"P-{rng.randrange(PATIENTS):05d}"
    values = (f"doc{n:07d}", patient, rng.choice(DOCUMENT_TYPES), f"scan-{n}.pdf", status,
              pages, pages, created, created, created)  # fmt: skip
    conn.execute(TASK_SQL, values)
    conn.execute(
        "INSERT INTO results (task_id, result) VALUES (?, ?)",
        (f"doc{n:07d}", json.dumps(maker.result(pages))),
    )
