"""The cost of the search index on the write path (bench_search.py --only writes).

Tasks created, started, ~15 progress events a page (and none: the index's worst case)
and completed through the real TaskManager and journal on the filled database, with
the index triggers and without them (dropped, then restored), in pairs of rounds,
off-on then on-off: completions/s and the median of the pairs' ratios. And where the
index's CPU goes, measured where it runs: the writer thread (its batches), the other
threads (WAL checkpoints), and the triggers in each completion's own transaction (on
the event loop, timed alone: a round's loop CPU moves by more), as a share of a
completion's CPU without the index.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "backend"))

from bench_common import threads_cpu
from bench_corpus import TASK_SQL, TextMaker
from ocrlive.events import Event
from ocrlive.ocr.types import Progress
from ocrlive.store.sqlite import open_sqlite
from ocrlive.store.sqlite.rows import INSERT_RESULT
from ocrlive.tasks.manager import NewTask, TaskManager

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


def install_triggers(conn: sqlite3.Connection, sqls: list[str]) -> None:
    """The index triggers replaced by `sqls` (the saved ones, or [REVISION_ONLY])."""
    for name in INDEX_TRIGGERS:
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    for sql in sqls:
        conn.execute(sql)


def set_triggers(path: Path, sqls: list[str], on: bool) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    install_triggers(conn, sqls if on else [REVISION_ONLY])
    conn.close()


def triggers_ms(path: Path, documents: int, pairs: int = 4) -> float:
    """The CPU of a completion's own transaction spent in the index triggers (its
    document queued in search_docs and search_pending, on the event loop): the same
    results stored with the triggers and without, each in a transaction rolled back,
    alternated; the median of the pairs' differences, ms a completion."""
    maker, now = TextMaker(seed=5), "2026-11-30T10:00:00+00:00"
    stored = [json.dumps(maker.result(random.choice([1, 1, 1, 2, 3]))) for _ in range(documents)]
    tasks = [(f"trig-{n}", f"P-{n:05d}", "lab_report", "t.pdf", "processing", 0, 1, now, now,
              None) for n in range(documents)]  # fmt: skip
    conn = sqlite3.connect(path, isolation_level=None)
    spent: dict[bool, list[float]] = {True: [], False: []}
    for n in range(pairs):
        for on in (False, True) if n % 2 == 0 else (True, False):
            conn.execute("BEGIN")
            if not on:
                install_triggers(conn, [REVISION_ONLY])
            conn.executemany(TASK_SQL, tasks)
            start = time.thread_time()
            for (task_id, *_), result in zip(tasks, stored, strict=True):
                conn.execute(INSERT_RESULT, (task_id, result, task_id))
            spent[on].append(1000 * (time.thread_time() - start) / documents)
            conn.execute("ROLLBACK")
    conn.close()
    return statistics.median(b - a for a, b in zip(spent[False], spent[True], strict=True))


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
    return writes_row(progress_per_page, rates, triggers_ms(path, tasks))


def median_interval(samples: list[float], draws: int = 4000) -> tuple[float, float]:
    """The 95% bootstrap interval of the median of `samples`: how far the median of
    pairs whose own ratios ranged 0.63-1.30 (48 pairs, 2026-11-30) may be from the
    true ratio, which the range alone does not say."""
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(samples, k=len(samples))) for _ in range(draws))
    return medians[int(0.025 * draws)], medians[int(0.975 * draws) - 1]


def writes_row(
    progress_per_page: int, rates: dict[bool, list[Round]], triggers: float
) -> list[object]:
    """Each ratio is the median of the rounds' own ratios (each round against the one
    beside it), robust to the drift between pairs; then the index's own CPU."""
    row: list[object] = [f"{progress_per_page} a page" if progress_per_page else "bare"]
    pairs = list(zip(rates[False], rates[True], strict=True))
    for field in ("wall", "cpu"):
        off = statistics.median(getattr(r, field) for r in rates[False])
        on = statistics.median(getattr(r, field) for r in rates[True])
        ratio = statistics.median(getattr(b, field) / getattr(a, field) for a, b in pairs)
        row += [f"{off:.1f}", f"{on:.1f}", f"{ratio:.3f}"]
    low, high = median_interval([b.cpu / a.cpu for a, b in pairs])
    row += [f"{low:.3f}-{high:.3f}"]
    row += [f"{statistics.median(1000 / b.cpu - 1000 / a.cpu for a, b in pairs):.2f}"]
    # The index batches' own CPU (the writer thread, on minus off), the checkpoints'
    # extra and the triggers', against a completion's CPU without the index: the
    # index's share measured where it runs, which the whole-path ratio cannot resolve
    # when rounds vary by more (a round's event-loop CPU a completion moved by up to
    # 1.5 ms between the rounds of a pair, 2026-11-30, against ~0.2 for the index).
    batches = statistics.median(b.writer_ms - a.writer_ms for a, b in pairs)
    copies = statistics.median(b.others_ms - a.others_ms for a, b in pairs)
    share = (batches + copies + triggers) / statistics.median(1000 / a.cpu for a, _ in pairs)
    return [*row, f"{batches:.3f}", f"{copies:.3f}", f"{triggers:.3f}", f"{100 * share:.1f}%"]
