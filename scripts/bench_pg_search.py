"""Search on PostgreSQL against search on SQLite, over the same synthetic documents.

Both databases are filled with the documents of scripts/bench_search.py (1-3 pages of 30
lines, a Zipf-distributed clinical vocabulary, 10,000 patients, a year of dates), stored
as results are so that each backend's triggers index them (FTS5; tsvector + GIN). Then
the same queries (words, prefixes, phrases; without filters, with a patient, with type,
status and dates) run through each backend's SearchIndex, the code behind GET
/api/search: p50/p95 in ms, and the ratio of PostgreSQL's p95 to SQLite's in this run.
PostgreSQL runs in a throwaway cluster (initdb + pg_ctl in a temporary folder).

    .venv/bin/python scripts/bench_pg_search.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from tests.helpers.postgres import PostgresCluster  # noqa: E402

from bench_corpus import TextMaker, insert_document  # noqa: E402
from bench_search import bench_queries, fill, table  # noqa: E402
from ocrlive.records import open_records  # noqa: E402
from ocrlive.store.db import migrate  # noqa: E402
from ocrlive.store.postgres.connection import PgConnection, libpq_url  # noqa: E402


def fill_postgres(url: str, docs: int) -> None:
    """The same documents as bench_search.fill (same seeds), in transactions of 1,000."""
    migrate(url)
    maker, rng = TextMaker(seed=0), random.Random(0)
    start = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as raw:
        conn = PgConnection(raw)
        for first in range(0, docs, 1000):
            with raw.transaction():
                for n in range(first, min(first + 1000, docs)):
                    insert_document(conn, maker, rng, n)  # type: ignore[arg-type]
        raw.execute("VACUUM ANALYZE")
    print(f"PostgreSQL: filled {docs:,} documents in {time.perf_counter() - start:.0f} s")


async def search_rows(database: Path | str) -> list[list[object]]:
    records = open_records(database)
    try:
        await bench_queries(records.search)  # warm: the index's pages in memory
        return await bench_queries(records.search)
    finally:
        await records.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    args = parser.parse_args()
    cluster = PostgresCluster()
    with tempfile.TemporaryDirectory(prefix="ocrlive-bench-") as folder:
        try:
            cluster.start()
            sqlite = Path(folder) / "search.db"
            fill(sqlite, args.docs)
            fill_postgres(cluster.url(), args.docs)
            print("SQLite:")
            lite = asyncio.run(search_rows(sqlite))
            print("PostgreSQL:")
            pg = asyncio.run(search_rows(cluster.url()))
        finally:
            cluster.stop()
    rows = [[*a[:2], a[2], a[3], b[2], b[3], f"{float(b[3]) / max(float(a[3]), 0.01):.2f}",
             a[7], b[7]] for a, b in zip(lite, pg, strict=True)]  # fmt: skip
    print(f"\nsearch over {args.docs:,} documents, ms (wall):")
    table(["query", "filters", "SQLite p50", "SQLite p95", "PG p50", "PG p95",
           "PG/SQLite p95", "SQLite hits", "PG hits"], rows)  # fmt: skip


if __name__ == "__main__":
    main()
