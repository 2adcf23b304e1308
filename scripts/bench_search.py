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
3. The write path's cost of the index (bench_index_writes.py): completions per second
   with the index triggers and without them, and the index's CPU where it runs.

    python scripts/bench_search.py [--docs 100000] [--db /tmp/ocrlive-bench-search.db]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from bench_corpus import DOCUMENT_TYPES, PATIENTS, TextMaker, insert_document  # noqa: E402
from bench_index_writes import PROGRESS_PER_PAGE, bench_writes  # noqa: E402
from ocrlive.records.base import SearchFilters, SearchIndex  # noqa: E402
from ocrlive.records.query import parse_query  # noqa: E402
from ocrlive.records.sqlite import open_sqlite_records  # noqa: E402
from ocrlive.store.db import migrate  # noqa: E402
from ocrlive.store.sqlite.indexing import index_queue  # noqa: E402

QUERIES = 200


def fill(path: Path, docs: int) -> int:
    """At least `docs` documents in the file; how many it holds."""
    migrate(path)
    conn = sqlite3.connect(path, isolation_level=None)
    have = int(conn.execute("SELECT count(*) FROM results").fetchone()[0])
    if have >= docs:
        print(f"reusing {path}: {have:,} documents")
        return have
    maker, rng = TextMaker(seed=have), random.Random(have)
    start, batch = time.perf_counter(), 1000
    for first in range(have, docs, batch):
        conn.execute("BEGIN")
        for n in range(first, min(first + batch, docs)):
            insert_document(conn, maker, rng, n)
        index_queue(conn)  # the queued documents into the full-text index
        conn.execute("COMMIT")
        if (first // batch) % 10 == 0:
            print(f"  {first + batch:,} documents, {time.perf_counter() - start:.0f} s", flush=True)
    conn.execute("PRAGMA optimize")
    print(f"filled {docs - have:,} documents in {time.perf_counter() - start:.0f} s")
    return docs


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
    parser.add_argument("--rounds", type=int, default=48)
    parser.add_argument("--write-tasks", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--only", choices=("search", "writes"), help="run one half")
    args = parser.parse_args()
    print(f"load average at the start: {load_average()}")
    held = fill(args.db, args.docs)
    rows: list[list[object]] = []
    if args.only != "writes":
        records = open_sqlite_records(args.db)
        print(f"search over {held:,} documents ({QUERIES} queries per row):")
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
               "CPU on /s", "ratio", "CPU ratio's 95% interval", "index CPU ms/task",
               "batches' CPU ms/task", "checkpoints' ms/task", "triggers' ms/task",
               "own share"],
              writes)  # fmt: skip
    print(f"\nload average at the end: {load_average()}")


if __name__ == "__main__":
    asyncio.run(main())
