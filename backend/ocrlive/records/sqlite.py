"""Records on SQLite: FTS5 search and the reads of revisions, the review queue and the
patient view, on their own aiosqlite engine beside the task store's (WAL: reads never
wait for the writer). The tables they read are kept by triggers on `results`
(migrations/versions/0002_records.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

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
from ocrlive.records.snippets import make_snippet, page_has
from ocrlive.store.sqlite.reader import Reader
from ocrlive.store.sqlite.rows import TASK_COLUMNS, task_from_row

FIRST_LINES = 3
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
# Unreviewed lines under the threshold, counted in one stored result.
_PENDING = """(SELECT count(*) FROM json_each(r.result, '$.pages') AS p,
    json_each(p.value, '$.lines') AS l
    WHERE (l.value ->> 'score') < :threshold AND (l.value ->> 'reviewed') IS NULL)"""


def _fts5_term(term: Term) -> str:
    # Words are letters and digits only (records/query.py), so quoting cannot break out.
    quoted = '"' + " ".join(term.words) + '"'
    return quoted + " *" if term.prefix else quoted


def to_fts5(query: ParsedQuery) -> str:
    """The FTS5 MATCH expression: positive terms ANDed, then each negative NOT-ed."""
    expr = " AND ".join(_fts5_term(t) for t in query.positive)
    for term in query.terms:
        if term.negated:
            expr = f"({expr}) NOT {_fts5_term(term)}"
    return expr


# The most pages of one patient that a phrase search reads before checking the phrases.
PATIENT_PAGES = 5000


def _split(term: Term) -> tuple[Term, ...]:
    """A phrase as its words, each required (the last one keeps the prefix)."""
    last = len(term.words) - 1
    return tuple(
        Term((w,), term.prefix and i == last, term.negated) for i, w in enumerate(term.words)
    )


def _words_only(query: ParsedQuery) -> bool:
    """FTS5 seeks a word's postings to a rowid range, but evaluates a phrase over its
    whole index first: at 100,000 documents a phrase took ~1 s of CPU per patient with
    the rowid ranges, ~20-90 ms walking the matches and checking the patient."""
    return all(len(term.words) == 1 for term in query.terms)


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


def _hits_sql(source: str, where: str, total: int, filtered: bool) -> str:
    """Best first (BM25) while the matches are countable; past COUNT_CAP the newest
    first, which FTS5 reads straight off its index in rowid order and stops after
    `limit`, where ranking would score every page of a word that is on most of them.
    With filters the score is sorted by SQLite rather than as FTS5's `rank`: FTS5 would
    rank every match before the filters apply; this way only the pages that pass them
    are scored. The page text is read afterwards, for the hits alone."""
    ranked = "score DESC" if filtered else "rank"
    order = ranked if total <= COUNT_CAP else "f.rowid DESC"
    return (
        f"SELECT f.rowid, f.page, -bm25(search_pages) AS score, {_TASK_SELECT} "
        f"{source} WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"
    )


class _Queries:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    async def all(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        async with self.reader.engine.connect() as conn:
            return (await conn.exec_driver_sql(sql, dict(params))).all()

    async def scalar(self, sql: str, params: Mapping[str, Any]) -> Any:
        rows = await self.all(sql, params)
        return rows[0][0] if rows else None


class SqliteSearchIndex:
    def __init__(self, reader: Reader) -> None:
        self._q = _Queries(reader)

    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults:
        if filters.patient_id and not _words_only(query):
            return await self._patient_phrases(query, filters, limit=limit, offset=offset)
        where, params = _where(filters)
        params |= {"match": to_fts5(query), "limit": limit, "offset": offset}
        source = _FROM_PATIENT if filters.patient_id else _FROM_MATCHES
        # Every indexed page belongs to a task (purges take both): without filters the
        # count reads the index alone.
        filtered = any(vars(filters).values())
        counted = source if filtered else "FROM search_pages AS f"
        count = f"SELECT count(*) FROM (SELECT 1 {counted} WHERE {where} LIMIT {COUNT_CAP + 1})"
        total = int(await self._q.scalar(count, params) or 0)
        rows = await self._q.all(_hits_sql(source, where, total, filtered), params)
        bodies = await self._bodies([int(r[0]) for r in rows])
        hits = [
            SearchHit(
                task_from_row(r[3:]), int(r[1]), float(r[2]), make_snippet(bodies[r[0]], query)
            )
            for r in rows
        ]
        exact = total <= COUNT_CAP
        return SearchResults(hits, min(total, COUNT_CAP), exact, "rank" if exact else "recent")

    async def _patient_phrases(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults:
        """One patient's pages that hold every word, through the rowid ranges (cheap
        seeks), then the phrases checked in each page's text (FTS5 would evaluate a phrase
        over the whole index for every range)."""
        # Negated phrases are left to the check below: NOT on a word would drop too much.
        loose = ParsedQuery(tuple(
            word for t in query.terms if len(t.words) == 1 or not t.negated for word in _split(t)
        ))  # fmt: skip
        where, params = _where(filters)
        params |= {"match": to_fts5(loose), "limit": PATIENT_PAGES, "offset": 0}
        sql = (f"SELECT f.rowid, f.page, -bm25(search_pages) AS score, f.body, {_TASK_SELECT} "
               f"{_FROM_PATIENT} WHERE {where} ORDER BY score DESC LIMIT :limit")  # fmt: skip
        phrases = [t for t in query.terms if len(t.words) > 1]
        kept = [
            r for r in await self._q.all(sql, params)
            if all(page_has(r[3] or "", t) != t.negated for t in phrases)
        ]  # fmt: skip
        hits = [
            SearchHit(task_from_row(r[4:]), int(r[1]), float(r[2]), make_snippet(r[3] or "", query))
            for r in kept[offset : offset + limit]
        ]
        return SearchResults(hits, min(len(kept), COUNT_CAP), len(kept) <= COUNT_CAP)

    async def _bodies(self, rowids: list[int]) -> dict[int, str]:
        if not rowids:
            return {}
        marks = ", ".join(f":r{i}" for i in range(len(rowids)))
        sql = f"SELECT rowid, body FROM search_pages WHERE rowid IN ({marks})"
        found = await self._q.all(sql, {f"r{i}": r for i, r in enumerate(rowids)})
        return {int(r[0]): str(r[1] or "") for r in found}


class SqliteRecordReads:
    # The dialect's SQL, the rest is standard (records/postgres.py overrides these three).
    PENDING = _PENDING  # unreviewed lines under :threshold in r.result
    ENGINE = "json_extract(result, '$.engine')"  # a result's engine settings, JSON text
    TEXT_HEAD = "substr(json_extract(r.result, '$.text'), 1, 600)"

    def __init__(self, reader: Reader) -> None:
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
        edits = await self._q.all(
            f"SELECT {', '.join(columns)} FROM line_edits WHERE {where} ORDER BY revision",
            {"t": task_id, "p": page, "l": line},
        )
        runs = await self._q.all(
            f"SELECT revision, replaced_at, {self.ENGINE} "
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
        params = {"threshold": threshold, "patient": patient_id, "limit": limit, "offset": offset}
        join = "FROM review_queue AS q JOIN tasks AS t ON t.id = q.task_id"
        rows = await self._q.all(
            f"SELECT {self.PENDING} AS pending, q.min_score, {_TASK_SELECT} {join} "
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
            f"SELECT {self.TEXT_HEAD}, coalesce(r.revision, 0), "
            f"CASE WHEN r.result IS NULL THEN 0 ELSE {self.PENDING} END, {_TASK_SELECT} "
            "FROM tasks AS t LEFT JOIN results AS r ON r.task_id = t.id "
            "WHERE t.patient_id = :patient ORDER BY t.created_at DESC LIMIT :limit OFFSET :offset",
            params,
        )
        docs = [PatientDocument(task_from_row(r[3:]), _first_lines(r[0]), int(r[1]), int(r[2]))
                for r in rows]  # fmt: skip
        count = "SELECT count(*) FROM tasks WHERE patient_id = :patient"
        return docs, int(await self._q.scalar(count, params) or 0)


def _first_lines(body: str | None) -> list[str]:
    lines = [ln.strip() for ln in (body or "").splitlines() if ln.strip()]
    return lines[:FIRST_LINES]


def open_sqlite_records(db_path: Path) -> Records:
    """The database must already be migrated (ocrlive.store.db.migrate)."""
    reader = Reader(db_path)
    return Records(SqliteSearchIndex(reader), SqliteRecordReads(reader), reader.close)
