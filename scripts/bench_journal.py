"""The cost of one progress event on SQLite, from TaskManager to the publisher, with
its commit on the event loop (as shipped) against the same commit on the writer's
thread (the baseline: every transaction handed off, as before the commit went inline).

Each event is awaited before the next, as scripts/bench_ws.py's burst does, so each
is its own transaction; the publisher only counts (the WebSocket fan-out is
bench_ws's business). Modes alternate over several rounds in one process; medians of
the process's CPU time per event (the writer's and the checkpointer's threads
included) and of the wall time, with the ratio to the baseline. The CPU figure holds
up when other work shares the machine; the wall time does not.

    .venv/bin/python scripts/bench_journal.py [--events 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ocrlive.events import Event, Stage
from ocrlive.ocr.types import Progress
from ocrlive.store.db import migrate
from ocrlive.store.sqlite import open_sqlite
from ocrlive.tasks.manager import NewTask, TaskManager

TASKS = 50  # steady's 50 tasks, reported in turn


class Counting:
    def __init__(self) -> None:
        self.events = 0

    def publish(self, event: Event) -> None:
        self.events += 1


async def measure(folder: Path, mode: str, events: int) -> tuple[float, float]:
    """(CPU us, wall us) per event, after a warm-up."""
    migrate(folder / "ocrlive.db")
    store = open_sqlite(folder / "ocrlive.db")
    if mode == "thread":  # the baseline: the writer never commits on the loop
        writer: Any = store.db.writer
        writer.run_now = lambda fn: []
    manager = TaskManager(store, Counting())
    await manager.start()
    try:
        ids = [await started(manager, n) for n in range(TASKS)]
        await report(manager, ids, 300)
        cpu, wall = time.process_time(), time.perf_counter()
        await report(manager, ids, events)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await store.close()
    return cpu * 1e6 / events, wall * 1e6 / events


async def started(manager: TaskManager, n: int) -> str:
    new = NewTask(patient_id=f"P-{n:05d}", document_type="lab_report", filename="a.pdf",
                  content_type="application/pdf", size=1, sha256="0" * 64,
                  file_path="/nonexistent")  # fmt: skip
    task, _ = await manager.create(new)
    return (await manager.mark_started(task.id)).id


async def report(manager: TaskManager, ids: list[str], events: int) -> None:
    for n in range(events):
        progress = Progress(ids[n % len(ids)], Stage.RECOGNIZING, 42.5, f"line {n}", 2, 5)
        await manager.apply_progress(progress)
        await asyncio.sleep(0)  # one loop turn per event, as a real source yields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    found: dict[str, list[tuple[float, float]]] = {"inline": [], "thread": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for mode in found:
                folder = Path(tmp) / f"{mode}-{n}"
                found[mode].append(asyncio.run(measure(folder, mode, args.events)))
    print(f"{'commit':>8}  {'CPU us/event':>13}  {'wall us/event':>14}  {'CPU x thread':>12}")
    base = statistics.median(cpu for cpu, _ in found["thread"])
    for mode, runs in found.items():
        cpu, wall = statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs)
        print(f"{mode:>8}  {cpu:13.1f}  {wall:14.1f}  {cpu / base:12.2f}")


if __name__ == "__main__":
    main()
