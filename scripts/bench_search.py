"""Search at scale and the cost of indexing on the write path.

1. Fills a migrated ocrlive database with synthetic documents of realistic size (1-3
   pages of 30 lines of 5-10 words, words drawn from a Zipf-distributed clinical
   vocabulary, 10,000 patients, a year of upload dates), stored as results are, so the
   triggers index them. The filled file is kept (`--db`) and reused by later runs.
2. Times `SqliteSearchIndex.search` (the code behind GET /api/search, through aiosqlite)
   for single words, prefixes and phrases, each without and with filters (patient;
   document type and a date range): p50/p95/max in ms of wall time, and p50/p95 of the
   CPU time this process spent (the aiosqlite thread included): on a shared machine the
   wall time also counts the wait for a core.
3. The write path: tasks created, started, ~15 progress events a page (and none: the
   index's worst case) and completed through the real TaskManager and journal on the
   filled database, with the index triggers and without them (dropped, then restored),
   in pairs of rounds, off-on then on-off. Completions/s and the median of the pairs'
   ratios; and where the index's CPU goes, measured on the threads that spend it: the
   writer thread (its batches) and the others (WAL checkpoints), on minus off, as a
   share of a completion's CPU without the index.

    python scripts/bench_search.py [--docs 100000] [--db /tmp/ocrlive-bench-search.db]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import string
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from bench_common import threads_cpu  # noqa: E402
from ocrlive.events import DocumentType, Event  # noqa: E402
from ocrlive.ocr.types import Progress, TaskResult  # noqa: E402
from ocrlive.records.base import SearchFilters, SearchIndex  # noqa: E402
from ocrlive.records.query import parse_query  # noqa: E402
from ocrlive.records.sqlite import open_sqlite_records  # noqa: E402
from ocrlive.store.db import migrate  # noqa: E402
from ocrlive.store.sqlite import open_sqlite  # noqa: E402
from ocrlive.store.sqlite.indexing import index_queue  # noqa: E402
from ocrlive.tasks.manager import NewTask, TaskManager  # noqa: E402

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
QUERIES = 200


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


def fill(path: Path, docs: int) -> None:
    migrate(path)
    conn = sqlite3.connect(path, isolation_level=None)
    have = conn.execute("SELECT count(*) FROM results").fetchone()[0]
    if have >= docs:
        print(f"reusing {path}: {have:,} documents")
        return
    maker, rng = TextMaker(seed=have), random.Random(have)
    start, batch = time.perf_counter(), 1000
    for first in range(have, docs, batch):
        conn.execute("BEGIN")
        for n in range(first, min(first + batch, docs)):
            _insert_document(conn, maker, rng, n)
        index_queue(conn)  # the queued documents into the full-text index
        conn.execute("COMMIT")
        if (first // batch) % 10 == 0:
            print(f"  {first + batch:,} documents, {time.perf_counter() - start:.0f} s", flush=True)
    conn.execute("PRAGMA optimize")
    print(f"filled {docs - have:,} documents in {time.perf_counter() - start:.0f} s")


def _insert_document(
    conn: sqlite3.Connection, maker: TextMaker, rng: random.Random, n: int
) -> None:
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


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def query_sets(maker: TextMaker, rng: random.Random) -> dict[str, list[str]]:
    """Words drawn uniformly over the vocabulary's ranks (as likely a rare name as a
    common word); phrases are two neighbouring words of a generated line."""
    words = [rng.choice(maker.words) for _ in range(QUERIES)]
    prefixes = [
        w[: rng.randint(3, 4)] + "*" for w in (rng.choice(maker.words) for _ in range(QUERIES))
    ]
    phrases = []
    for _ in range(QUERIES):
        parts = maker.line().lower().split()
        i = rng.randrange(len(parts) - 1)
        phrases.append(f'"{parts[i]} {parts[i + 1]}"')
    return {"word": words, "prefix": prefixes, "phrase": phrases}


def filter_sets(rng: random.Random) -> dict[str, Callable[[], SearchFilters]]:
    def patient() -> SearchFilters:
        return SearchFilters(patient_id=f"P-{rng.randrange(PATIENTS):05d}")

    def type_and_dates() -> SearchFilters:
        month = rng.randint(1, 11)
        first, last = f"2026-{month:02d}-01", f"2026-{month + 1:02d}-28"
        kind = rng.choice(DOCUMENT_TYPES)
        return SearchFilters(document_type=kind, status="completed", date_from=first, date_to=last)

    return {"none": SearchFilters, "patient": patient, "type+status+dates": type_and_dates}


async def bench_queries(index: SearchIndex) -> list[list[object]]:
    rng = random.Random(11)
    sets, filters = query_sets(TextMaker(seed=99), rng), filter_sets(rng)
    rows: list[list[object]] = []
    for kind, queries in sets.items():
        for fname, make_filter in filters.items():
            times, cpu, hits = [], [], 0
            for q in queries:
                parsed, chosen = parse_query(q), make_filter()
                start, start_cpu = time.perf_counter(), time.process_time()
                found = await index.search(parsed, chosen, limit=20, offset=0)
                times.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
                hits += bool(found.hits)
            p50, p95, worst = percentiles(times)
            c50, c95, _ = percentiles(cpu)
            rows.append([kind, fname, f"{p50:.1f}", f"{p95:.1f}", f"{worst:.1f}", f"{c50:.1f}",
                         f"{c95:.1f}", f"{hits}/{len(queries)}"])  # fmt: skip
            print("  ", *rows[-1], flush=True)
    return rows


# What keeps the search index and the review queue (migrations 0002 and 0004); the
# archive of replaced results and the revision number are part of storing a result,
# with or without an index, so they stay.
INDEX_TRIGGERS = ("results_forget", "results_index", "results_reindex")


def saved_triggers(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        names = ", ".join(f"'{n}'" for n in INDEX_TRIGGERS)
        return [
            r[0] for r in conn.execute(f"SELECT sql FROM sqlite_master WHERE name IN ({names})")
        ]


# results_index numbers a stored result's revision before it queues the document for
# the index: that is storing a result, not indexing it, so the index-off rounds keep it
# (they dropped it, and charged its UPDATE of the result row to the index; within the
# noise of a round when measured, 2026-11-30).
REVISION_ONLY = """CREATE TRIGGER results_index AFTER INSERT ON results BEGIN
        UPDATE results SET revision = 1 + coalesce(
            (SELECT max(revision) FROM result_history WHERE task_id = new.task_id), 0)
        WHERE task_id = new.task_id AND revision = 0;
    END"""


def set_triggers(path: Path, sqls: list[str], on: bool) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for name in INDEX_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    for sql in sqls if on else [REVISION_ONLY]:
        conn.execute(sql)
    conn.close()


class _Nobody:
    """No browser listens: the write path alone."""

    def publish(self, event: Event) -> None:
        pass


# The real engine reported 15 progress steps for a 30-line A4 page (each more than the
# 100 ms throttle apart): a task's write path is created, started, ~15 progress events a
# page, completed. "bare" leaves the progress events out: the index's worst case.
PROGRESS_PER_PAGE = 15


class Round(NamedTuple):
    wall: float  # completions per wall second
    cpu: float  # completions per CPU second of this process, every thread included
    writer_ms: float  # the writer thread's CPU a completion: the index batches, nearly
    # every other write commits on the event loop
    others_ms: float  # the other threads' (WAL checkpoints): the index's pages copied too


async def completions_per_second(
    path: Path, tasks: int, concurrency: int, progress_per_page: int
) -> Round:
    """One round of `tasks` completions through the real TaskManager and journal."""
    store, maker = open_sqlite(path), TextMaker(seed=int(time.time()))
    manager = TaskManager(store, _Nobody(), progress_interval=0)
    await manager.start()
    results = [maker.result(random.choice([1, 1, 1, 2, 3])) for _ in range(tasks)]

    async def one(n: int) -> None:
        new = NewTask(patient_id=f"P-{n:05d}", document_type="lab_report", filename="w.pdf",
                      content_type="application/pdf", size=1, sha256="", file_path="")  # fmt: skip
        task, _ = await manager.create(new)
        await manager.mark_started(task.id)
        steps = progress_per_page * len(results[n]["pages"])
        for step in range(steps):
            progress = Progress(task.id, "recognizing", 100 * step / steps, "Reading", 1, 1)
            await manager.apply_progress(progress)
        await manager.complete(task.id, results[n])

    writer = await store.db.writer.run(lambda _conn: threading.get_native_id())
    threads, wall, cpu = threads_cpu(), time.perf_counter(), time.process_time()
    for first in range(0, tasks, concurrency):
        await asyncio.gather(*(one(n) for n in range(first, min(first + concurrency, tasks))))
    await store.log.index_queued()  # the last batch's indexing is timed too
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    spent = {tid: s - threads.get(tid, 0.0) for tid, s in threads_cpu().items()}
    await store.close()
    others = sum(s for tid, s in spent.items() if tid not in (writer, threading.get_native_id()))
    return Round(tasks / wall, tasks / cpu, 1000 * spent.get(writer, 0.0) / tasks,
                 1000 * others / tasks)  # fmt: skip


async def bench_writes(
    path: Path, rounds: int, tasks: int, concurrency: int, progress_per_page: int
) -> list[object]:
    sqls = saved_triggers(path)
    rates: dict[bool, list[Round]] = {True: [], False: []}
    try:
        for n in range(rounds):
            # Off-on, then on-off: a steady drift of the machine's speed then favours
            # neither side. Identical rounds a few seconds apart differed by 20-35% in
            # CPU a completion here (2026-11-30), more than the index costs.
            for indexed in (False, True) if n % 2 == 0 else (True, False):
                set_triggers(path, sqls, indexed)
                rate = await completions_per_second(path, tasks, concurrency, progress_per_page)
                rates[indexed].append(rate)
                print(f"   progress/page {progress_per_page}, index {'on ' if indexed else 'off'}:"
                      f" {rate.wall:.1f}/s wall, {rate.cpu:.1f}/s CPU, writer thread"
                      f" {rate.writer_ms:.3f} ms/task, others {rate.others_ms:.3f}",
                      flush=True)  # fmt: skip
    finally:
        set_triggers(path, sqls, True)
    return writes_row(progress_per_page, rates)


def writes_row(progress_per_page: int, rates: dict[bool, list[Round]]) -> list[object]:
    """Each ratio is the median of the rounds' own ratios (each round against the one
    beside it), robust to the drift between pairs; then the index's own CPU."""
    row: list[object] = [f"{progress_per_page} a page" if progress_per_page else "bare"]
    pairs = list(zip(rates[False], rates[True], strict=True))
    for field in ("wall", "cpu"):
        off = statistics.median(getattr(r, field) for r in rates[False])
        on = statistics.median(getattr(r, field) for r in rates[True])
        ratio = statistics.median(getattr(b, field) / getattr(a, field) for a, b in pairs)
        row += [f"{off:.1f}", f"{on:.1f}", f"{ratio:.3f}"]
    cpu_ratios = [b.cpu / a.cpu for a, b in pairs]
    row += [f"{min(cpu_ratios):.2f}-{max(cpu_ratios):.2f}"]
    row += [f"{statistics.median(1000 / b.cpu - 1000 / a.cpu for a, b in pairs):.2f}"]
    # The index batches' own CPU (the writer thread, on minus off) and the checkpoints'
    # extra, against a completion's CPU without the index: the index's share measured
    # where it runs, which the whole-path ratio cannot resolve when rounds vary by more.
    # Not in it: the triggers' two rows a completion (search_docs, search_pending),
    # written on the event loop within the completion's own transaction.
    batches = statistics.median(b.writer_ms - a.writer_ms for a, b in pairs)
    copies = statistics.median(b.others_ms - a.others_ms for a, b in pairs)
    share = (batches + copies) / statistics.median(1000 / a.cpu for a, _ in pairs)
    return [*row, f"{batches:.3f}", f"{copies:.3f}", f"{100 * share:.1f}%"]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(header: list[str], rows: list[list[object]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/ocrlive-bench-search.db"))
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--write-tasks", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--only", choices=("search", "writes"), help="run one half")
    args = parser.parse_args()
    print(f"load average at the start: {load_average()}")
    fill(args.db, args.docs)
    rows: list[list[object]] = []
    if args.only != "writes":
        records = open_sqlite_records(args.db)
        print(f"search over {args.docs:,} documents ({QUERIES} queries per row):")
        rows = await bench_queries(records.search)
        await records.close()
    if args.only != "search":
        print(f"write path: {args.write_tasks} tasks per round, {args.concurrency} at a time:")
    writes = [
        await bench_writes(args.db, args.rounds, args.write_tasks, args.concurrency, per_page)
        for per_page in (PROGRESS_PER_PAGE, 0)
        if args.only != "search"
    ]
    header = ["query", "filters", "p50 ms", "p95 ms", "max ms", "CPU p50 ms", "CPU p95 ms"]
    if rows:
        print()
        table([*header, "with hits"], rows)
    if writes:
        print()
        table(["progress events", "wall off /s", "wall on /s", "ratio", "CPU off /s",
               "CPU on /s", "ratio", "rounds' CPU ratios", "index CPU ms/task",
               "batches' CPU ms/task", "checkpoints' ms/task", "own share"],
              writes)  # fmt: skip
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
