"""Full-text search over the current text of every document, one hit per page.

`SearchIndex` is what the HTTP layer uses; `SqliteSearchIndex` implements it on the
FTS5 table that triggers keep in step with `results` (migrations/versions/0002). A
PostgreSQL backend implements the same protocol with a tsvector column and
ts_rank/ts_headline; ParsedQuery is the backend-neutral form of what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import text

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


class SqliteSearchIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults:
        where, params = _where(filters)
        params |= {"match": to_fts5(query), "limit": limit, "offset": offset}
        hits_sql = text(
            f"SELECT f.page, -bm25(search_pages) AS score, snippet(search_pages, 0, "
            f"'{_OPEN}', '{_CLOSE}', '…', {SNIPPET_TOKENS}) AS snippet, {_TASK_SELECT} "
            f"FROM search_pages AS f JOIN tasks AS t ON t.id = f.task_id WHERE {where} "
            "ORDER BY rank LIMIT :limit OFFSET :offset"
        )
        count_sql = text(
            "SELECT count(*) FROM (SELECT 1 FROM search_pages AS f JOIN tasks AS t "
            f"ON t.id = f.task_id WHERE {where} LIMIT {COUNT_CAP + 1})"
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(hits_sql, params)).all()
            total = int((await conn.execute(count_sql, params)).scalar() or 0)
        hits = [
            SearchHit(task_from_values(tuple(r[3:])), int(r[0]), float(r[1]), split_snippet(r[2]))
            for r in rows
        ]
        return SearchResults(hits, min(total, COUNT_CAP), total <= COUNT_CAP)
