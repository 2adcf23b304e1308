"""Records on PostgreSQL: full-text search on a tsvector column (GIN index) with
ts_rank, and the reads of revisions, the review queue and the patient view. The tables
are kept by triggers on `results` (migrations/versions/0002_records.py, PG_STATEMENTS),
as FTS5's are on SQLite; the hits have the same shape (snippets from records/snippets.py,
the same words highlighted as on SQLite)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import text

from ocrlive.ocr.types import TaskResult
from ocrlive.records.base import (
    COUNT_CAP,
    PatientDocument,
    QueueEntry,
    Records,
    SearchFilters,
    SearchHit,
    SearchResults,
)
from ocrlive.records.query import ParsedQuery, Term
from ocrlive.records.snippets import make_snippet
from ocrlive.store.postgres.connection import PgReader
from ocrlive.store.sqlite.rows import TASK_COLUMNS, task_from_row

FIRST_LINES = 3
CONFIG = "ocrlive"  # the text search configuration the migration made
_TASK_SELECT = ", ".join(f"t.{c}" for c in TASK_COLUMNS)
_PENDING = """(SELECT count(*) FROM jsonb_array_elements(r.result::jsonb -> 'pages') AS p,
    jsonb_array_elements(p -> 'lines') AS l
    WHERE (l ->> 'score')::float8 < :threshold AND (l ->> 'reviewed') IS NULL)"""


def _tsquery_term(term: Term) -> str:
    """Words are letters and digits only (records/query.py): quoting cannot break out."""
    words = [f"'{w}'" for w in term.words]
    if term.prefix:
        words[-1] += ":*"
    joined = " <-> ".join(words)
    return f"!({joined})" if term.negated else f"({joined})"


def to_tsquery(query: ParsedQuery) -> str:
    """to_tsquery's input: the positive terms and the negated ones, all ANDed."""
    return " & ".join(_tsquery_term(t) for t in query.terms)


def _where(filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    clauses, params = ["f.tsv @@ to_tsquery(:config, :match)"], {"config": CONFIG}
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
        clauses.append("t.created_at < to_char(CAST(:date_to AS date) + 1, 'YYYY-MM-DD')")
        params["date_to"] = filters.date_to
    return " AND ".join(clauses), params


_FROM = "FROM search_pages AS f JOIN tasks AS t ON t.id = f.task_id"


class _Queries:
    def __init__(self, reader: PgReader) -> None:
        self.reader = reader

    async def all(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        async with self.reader.engine.connect() as conn:
            return (await conn.execute(text(sql), dict(params))).all()

    async def scalar(self, sql: str, params: Mapping[str, Any]) -> Any:
        rows = await self.all(sql, params)
        return rows[0][0] if rows else None


class PgSearchIndex:
    def __init__(self, reader: PgReader) -> None:
        self._q = _Queries(reader)

    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults:
        where, params = _where(filters)
        params |= {"match": to_tsquery(query), "limit": limit, "offset": offset}
        count = f"SELECT count(*) FROM (SELECT 1 {_FROM} WHERE {where} LIMIT {COUNT_CAP + 1}) AS c"
        total = int(await self._q.scalar(count, params) or 0)
        # Past COUNT_CAP matches, newest first rather than ranking every one of them
        # (as on SQLite); otherwise ts_rank, best first.
        order = "score DESC, t.created_at DESC" if total <= COUNT_CAP else "t.created_at DESC"
        rows = await self._q.all(
            f"SELECT f.page, ts_rank(f.tsv, to_tsquery(:config, :match)) AS score, f.body, "
            f"{_TASK_SELECT} {_FROM} WHERE {where} ORDER BY {order}, f.ordinal "
            "LIMIT :limit OFFSET :offset",
            params,
        )
        hits = [
            SearchHit(task_from_row(r[3:]), int(r[0]), float(r[1]), make_snippet(r[2], query))
            for r in rows
        ]
        exact = total <= COUNT_CAP
        return SearchResults(hits, min(total, COUNT_CAP), exact, "rank" if exact else "recent")


class PgRecordReads:
    def __init__(self, reader: PgReader) -> None:
        self._q = _Queries(reader)

    async def current(self, task_id: str) -> tuple[TaskResult, int] | None:
        rows = await self._q.all(
            "SELECT result, revision FROM results WHERE task_id = :t", {"t": task_id}
        )
        return (cast(TaskResult, json.loads(rows[0][0])), int(rows[0][1])) if rows else None

    async def archived(self, task_id: str, revision: int) -> TaskResult | None:
        raw = await self._q.scalar(
            "SELECT result FROM result_history WHERE task_id = :t AND revision = :r",
            {"t": task_id, "r": revision},
        )
        return cast(TaskResult, json.loads(raw)) if raw else None

    async def history(
        self, task_id: str, page: int | None = None, line: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        where = "task_id = :t" + (" AND page = :p" if page is not None else "")
        where += " AND line = :l" if line is not None else ""
        columns = ["revision", "page", "line", "action", "text_before", "text_after",
                   "ocr_text", "author", "created_at"]  # fmt: skip
        params = {"t": task_id} | ({"p": page} if page is not None else {})
        params |= {"l": line} if line is not None else {}
        edits = await self._q.all(
            f"SELECT {', '.join(columns)} FROM line_edits WHERE {where} ORDER BY revision, id",
            params,
        )
        runs = await self._q.all(
            "SELECT revision, replaced_at, (result::jsonb -> 'engine')::text "
            "FROM result_history WHERE task_id = :t ORDER BY revision",
            {"t": task_id},
        )
        return {
            "edits": [dict(zip(columns, row, strict=True)) for row in edits],
            "replaced": [
                {"revision": r[0], "replaced_at": r[1], "engine": json.loads(r[2] or "{}")}
                for r in runs
            ],
        }

    async def review_queue(
        self, threshold: float, *, limit: int, offset: int, patient_id: str | None = None
    ) -> tuple[Sequence[QueueEntry], int]:
        where = "q.min_score < :threshold" + (" AND t.patient_id = :patient" if patient_id else "")
        params: dict[str, Any] = {"threshold": threshold, "limit": limit, "offset": offset}
        params |= {"patient": patient_id} if patient_id else {}
        join = "FROM review_queue AS q JOIN tasks AS t ON t.id = q.task_id"
        rows = await self._q.all(
            f"SELECT {_PENDING} AS pending, q.min_score, {_TASK_SELECT} {join} "
            f"JOIN results AS r ON r.task_id = q.task_id WHERE {where} "
            "ORDER BY q.min_score, pending DESC, t.created_at LIMIT :limit OFFSET :offset",
            params,
        )
        total = int(await self._q.scalar(f"SELECT count(*) {join} WHERE {where}", params) or 0)
        return [QueueEntry(task_from_row(r[2:]), int(r[0]), float(r[1])) for r in rows], total

    async def patient_documents(
        self, patient_id: str, threshold: float, *, limit: int, offset: int
    ) -> tuple[Sequence[PatientDocument], int]:
        params = {"patient": patient_id, "threshold": threshold, "limit": limit, "offset": offset}
        rows = await self._q.all(
            "SELECT substr(r.result::jsonb ->> 'text', 1, 600), coalesce(r.revision, 0), "
            f"CASE WHEN r.result IS NULL THEN 0 ELSE {_PENDING} END, {_TASK_SELECT} "
            "FROM tasks AS t LEFT JOIN results AS r ON r.task_id = t.id "
            "WHERE t.patient_id = :patient ORDER BY t.created_at DESC LIMIT :limit OFFSET :offset",
            params,
        )
        docs = [PatientDocument(task_from_row(r[3:]), _first_lines(r[0]), int(r[1]), int(r[2]))
                for r in rows]  # fmt: skip
        count = "SELECT count(*) FROM tasks WHERE patient_id = :patient"
        return docs, int(await self._q.scalar(count, {"patient": patient_id}) or 0)


def _first_lines(body: str | None) -> list[str]:
    lines = [ln.strip() for ln in (body or "").splitlines() if ln.strip()]
    return lines[:FIRST_LINES]


def open_postgres_records(url: str) -> Records:
    """The database must already be migrated (ocrlive.store.db.migrate)."""
    reader = PgReader(url)
    return Records(PgSearchIndex(reader), PgRecordReads(reader), reader.close)
