"""Full-text search over the current text of every document, one hit per page.

`SearchIndex` is what the HTTP layer uses; `SqliteSearchIndex` implements it on the
FTS5 table that triggers keep in step with `results` (migrations/versions/0002). A
PostgreSQL backend implements the same protocol with a tsvector column and
ts_rank/ts_headline; ParsedQuery is the backend-neutral form of what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import TextClause, text

from ocrlive.events import Task
from ocrlive.records.query import ParsedQuery, to_fts5
from ocrlive.store.db import Database
from ocrlive.store.writer import TASK_COLUMNS, task_from_values

# Counting every match of a very common word costs as much as ranking them all; past
# this many the answer says "more than" (`total_exact: false`), as search engines do.
COUNT_CAP = 1000
# Snippet markers: control characters that OCR text never holds, split out below so
# that no HTML is ever built from document text.
_OPEN, _CLOSE = "\x02", "\x03"
SNIPPET_TOKENS = 14


@dataclass(frozen=True)
class SearchFilters:
    patient_id: str | None = None
    document_type: str | None = None
    status: str | None = None
    date_from: str | None = None  # ISO date, inclusive, of the upload (created_at)
    date_to: str | None = None  # ISO date, inclusive


@dataclass(frozen=True)
class SearchHit:
    task: Task
    page: int
    score: float  # higher is better
    snippet: list[tuple[str, bool]]  # (text, is a match) segments

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task.to_json(),
            "page": self.page,
            "score": round(self.score, 4),
            "snippet": [{"text": t, "match": m} for t, m in self.snippet],
        }


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    total: int
    total_exact: bool
    order: str = "rank"  # "rank": best first; "recent": too many to rank, newest first


class SearchIndex(Protocol):
    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults: ...


def split_snippet(raw: str) -> list[tuple[str, bool]]:
    """'a \x02b\x03 c' -> [('a ', False), ('b', True), (' c', False)]."""
    segments: list[tuple[str, bool]] = []
    for i, part in enumerate(raw.split(_OPEN)):
        inside, _, after = part.partition(_CLOSE) if i else ("", "", part)
        if inside:
            segments.append((inside, True))
        if after:
            segments.append((after, False))
    return segments


def _where(filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    clauses, params = ["search_pages MATCH :match"], {}
    for column, value in (
        ("patient_id", filters.patient_id),
        ("document_type", filters.document_type),
        ("status", filters.status),
    ):
        if value:
            clauses.append(f"t.{column} = :{column}")
            params[column] = value
    if filters.date_from:
        clauses.append("t.created_at >= :date_from")
        params["date_from"] = filters.date_from
    if filters.date_to:  # inclusive: everything before the next day
        clauses.append("t.created_at < date(:date_to, '+1 day')")
        params["date_to"] = filters.date_to
    return " AND ".join(clauses), params


_TASK_SELECT = ", ".join(f"t.{c}" for c in TASK_COLUMNS)


# A patient's few documents are found through the tasks index and each one's rowid range
# in the full-text index; any other query walks the full-text matches and checks the
# filters on the way (CROSS JOIN fixes the order: SQLite's planner has no statistics
# for the virtual table and would otherwise guess).
_FROM_PATIENT = (
    "FROM tasks AS t CROSS JOIN search_docs AS d ON d.task_id = t.id "
    "CROSS JOIN search_pages AS f ON f.rowid BETWEEN d.id * 65536 AND d.id * 65536 + 65535"
)
_FROM_MATCHES = "FROM search_pages AS f CROSS JOIN tasks AS t ON t.id = f.task_id"


class SqliteSearchIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults:
        where, params = _where(filters)
        params |= {"match": to_fts5(query), "limit": limit, "offset": offset}
        source = _FROM_PATIENT if filters.patient_id else _FROM_MATCHES
        count_sql = text(
            f"SELECT count(*) FROM (SELECT 1 {source} WHERE {where} LIMIT {COUNT_CAP + 1})"
        )
        async with self.db.read() as conn:
            total = int((await conn.execute(count_sql, params)).scalar() or 0)
            rows = (await conn.execute(_hits_sql(source, where, total), params)).all()
        hits = [
            SearchHit(task_from_values(tuple(r[3:])), int(r[0]), float(r[1]), split_snippet(r[2]))
            for r in rows
        ]
        exact = total <= COUNT_CAP
        return SearchResults(hits, min(total, COUNT_CAP), exact, "rank" if exact else "recent")


def _hits_sql(source: str, where: str, total: int) -> TextClause:
    """Best first (BM25) while the matches are countable; past COUNT_CAP the newest
    first, which FTS5 reads straight off its index in rowid order and stops after
    `limit`: ranking 50,000 pages of a common word took ~0.5 s at 100,000 documents,
    for an order that barely differs between them."""
    order = "rank" if total <= COUNT_CAP else "f.rowid DESC"
    return text(
        f"SELECT f.page, -bm25(search_pages) AS score, snippet(search_pages, 0, "
        f"'{_OPEN}', '{_CLOSE}', '…', {SNIPPET_TOKENS}) AS snippet, {_TASK_SELECT} "
        f"{source} WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"
    )
