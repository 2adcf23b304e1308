"""Records on SQLite: FTS5 search and the reads of revisions, the review queue and the
patient view, on their own aiosqlite engine beside the task store's (WAL: reads never
wait for the writer). The tables they read are kept by triggers on `results` and `tasks`
(migrations/versions/0002_records.py, 0004_search_tags.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
from ocrlive.records.ranking import COUNT_SAMPLE, Corpus, scores
from ocrlive.records.snippets import make_snippet
from ocrlive.records.tags import filter_tags
from ocrlive.store.sqlite.reader import Reader
from ocrlive.store.sqlite.rows import TASK_COLUMNS, task_from_row

FIRST_LINES = 3
_TASK_SELECT = ", ".join(f"t.{c}" for c in TASK_COLUMNS)
# Unreviewed lines under the threshold, counted in one stored result.
_PENDING = """(SELECT count(*) FROM json_each(r.result, '$.pages') AS p,
    json_each(p.value, '$.lines') AS l
    WHERE (l.value ->> 'score') < :threshold AND (l.value ->> 'reviewed') IS NULL)"""
# The matching pages in the index's order until one more than can be counted; no
# bm25() (ranking.py says why).
_MATCHES = f"SELECT rowid FROM search_pages WHERE search_pages MATCH :match LIMIT {COUNT_CAP + 1}"
# Too many to rank: the newest first, read off the index in rowid order, stopping at `limit`.
_RECENT = (
    "SELECT rowid FROM search_pages WHERE search_pages MATCH :match "
    "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"
)
# One word and no filter: FTS5's own bm25() is cheap, its counting walk being the
# matches themselves (at most COUNT_CAP of them).
_RANKED = (
    "SELECT rowid, rank FROM search_pages WHERE search_pages MATCH :match "
    "ORDER BY rank LIMIT :limit OFFSET :offset"
)
_BODIES = "SELECT rowid, body FROM search_pages WHERE rowid IN ({marks})"
_HIT_ROWS = (
    f"SELECT f.rowid, f.page, f.body, {_TASK_SELECT} FROM search_pages AS f "
    "CROSS JOIN tasks AS t ON t.id = f.task_id WHERE f.rowid IN ({marks})"
)
# How many pages hold a word: the first COUNT_SAMPLE of them and where they end.
_SAMPLE = (
    "SELECT count(*), max(rowid) FROM (SELECT rowid FROM search_pages "
    f"WHERE search_pages MATCH :match LIMIT {COUNT_SAMPLE})"
)
_CORPUS = "SELECT count(*), min(id), max(id) FROM search_pages_docsize"
CORPUS_TTL_S = 60.0  # idf's page count may lag this much behind


def _fts5_term(term: Term) -> str:
    # Words are letters and digits only (records/query.py), so quoting cannot break out.
    quoted = '"' + " ".join(term.words) + '"'
    return quoted + " *" if term.prefix else quoted


def _words(query: ParsedQuery) -> str:
    """Positive terms ANDed, then each negative NOT-ed."""
    expr = " AND ".join(_fts5_term(t) for t in query.positive)
    for term in query.terms:
        if term.negated:
            expr = f"({expr}) NOT {_fts5_term(term)}"
    return expr


def to_fts5(query: ParsedQuery, filters: SearchFilters) -> str | None:
    """The MATCH expression: the words in the text, the filters in the tags (tags.py);
    None when no page can pass the filters."""
    tags = filter_tags(filters)
    if tags is None:
        return None
    expr = f"body : ({_words(query)})"
    for tokens in tags:
        expr += " AND tags : (" + " OR ".join(f'"{t}"' for t in tokens) + ")"
    return expr


class RecordQueries:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    async def all(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        async with self.reader.engine.connect() as conn:
            return (await conn.exec_driver_sql(sql, dict(params))).all()

    async def scalar(self, sql: str, params: Mapping[str, Any]) -> Any:
        rows = await self.all(sql, params)
        return rows[0][0] if rows else None


def _native(query: ParsedQuery, filters: SearchFilters) -> bool:
    """Whether FTS5's bm25() ranks this query cheaply (see _RANKED)."""
    return (
        len(query.terms) == 1 and len(query.terms[0].words) == 1 and not any(vars(filters).values())
    )


def _in(rowids: Sequence[int]) -> tuple[str, dict[str, int]]:
    return ", ".join(f":r{i}" for i in range(len(rowids))), {
        f"r{i}": r for i, r in enumerate(rowids)
    }


Settle = Callable[[], Awaitable[None]]


class SqliteSearchIndex:
    def __init__(self, reader: Reader, settle: Settle | None = None) -> None:
        self._q = RecordQueries(reader)
        self._corpus: tuple[float, Corpus] | None = None
        # The writer's queue of results not yet indexed (store/sqlite/indexing.py),
        # indexed before each search: a document is found as soon as it completed.
        self._settle = settle

    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults:
        """Best first (BM25 on the text, ranking.py) while the matches are countable;
        past COUNT_CAP the newest first, where ranking would score every page of a
        common word."""
        match = to_fts5(query, filters)
        if match is None:
            return SearchResults([], 0, True)
        if self._settle is not None:
            await self._settle()
        found = [int(r[0]) for r in await self._q.all(_MATCHES, {"match": match})]
        if len(found) <= COUNT_CAP and _native(query, filters):
            params = {"match": match, "limit": limit, "offset": offset}
            ranked = [(int(r[0]), -float(r[1])) for r in await self._q.all(_RANKED, params)]
            hits = await self._hits([r for r, _ in ranked], query, given=[s for _, s in ranked])
            return SearchResults(hits, len(found), True, "rank")
        idfs = await self._idfs(query)
        if len(found) <= COUNT_CAP:
            bodies = await self._bodies(found)
            scored = scores([bodies.get(r, "") for r in found], query, idfs)
            ranked = sorted(zip(found, scored, strict=True), key=lambda p: (-p[1], -p[0]))
            hits = await self._hits([r for r, _ in ranked[offset : offset + limit]], query, idfs)
            return SearchResults(hits, len(found), True, "rank")
        params = {"match": match, "limit": limit, "offset": offset}
        recent = [int(r[0]) for r in await self._q.all(_RECENT, params)]
        hits = await self._hits(recent, query, idfs)
        return SearchResults(hits, COUNT_CAP, False, "recent")

    async def _hits(
        self, rowids: list[int], query: ParsedQuery, idfs: list[float] | None = None,
        given: list[float] | None = None,
    ) -> list[SearchHit]:  # fmt: skip
        """The pages' text and tasks, for the hits alone, in the order given; scored
        here with `idfs` unless the scores are `given`."""
        if not rowids:
            return []
        marks, params = _in(rowids)
        rows = {int(r[0]): r for r in await self._q.all(_HIT_ROWS.format(marks=marks), params)}
        kept = [(rows[r], i) for i, r in enumerate(rowids) if r in rows]
        bodies = [str(row[2] or "") for row, _ in kept]
        scored = [given[i] for _, i in kept] if given else scores(bodies, query, idfs or [])
        return [
            SearchHit(task_from_row(row[3:]), int(row[1]), score, make_snippet(body, query))
            for (row, _), body, score in zip(kept, bodies, scored, strict=True)
        ]

    async def _bodies(self, rowids: list[int]) -> dict[int, str]:
        if not rowids:
            return {}
        marks, params = _in(rowids)
        found = await self._q.all(_BODIES.format(marks=marks), params)
        return {int(r[0]): str(r[1] or "") for r in found}

    async def _idfs(self, query: ParsedQuery) -> list[float]:
        """Each positive term's idf, from the pages holding its rarest word; one term
        alone orders the pages the same whatever its idf, so it is not counted."""
        terms = query.positive
        if len(terms) == 1:
            return [1.0]
        corpus = await self._corpus_now()
        return [corpus.idf(min([await self._holding(corpus, t, i) for i in range(len(t.words))]))
                for t in terms]  # fmt: skip

    async def _holding(self, corpus: Corpus, term: Term, index: int) -> float:
        prefix = term.prefix and index == len(term.words) - 1
        word = Term((term.words[index],), prefix)
        row = await self._q.all(_SAMPLE, {"match": f"body : ({_fts5_term(word)})"})
        seen, last = (int(row[0][0]), row[0][1]) if row else (0, None)
        return corpus.estimate(seen, None if last is None else int(last))

    async def _corpus_now(self) -> Corpus:
        now = time.monotonic()
        if self._corpus is None or now - self._corpus[0] > CORPUS_TTL_S:
            row = (await self._q.all(_CORPUS, {}))[0]
            self._corpus = (now, Corpus(int(row[0]), int(row[1] or 0), int(row[2] or 0)))
        return self._corpus[1]


class SqliteRecordReads:
    # The dialect's SQL, the rest is standard (records/postgres.py overrides these three).
    PENDING = _PENDING  # unreviewed lines under :threshold in r.result
    ENGINE = "json_extract(result, '$.engine')"  # a result's engine settings, JSON text
    TEXT_HEAD = "substr(json_extract(r.result, '$.text'), 1, 600)"

    def __init__(self, reader: Reader) -> None:
        self._q = RecordQueries(reader)

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


def open_sqlite_records(db_path: Path, settle: Settle | None = None) -> Records:
    """The database must already be migrated (ocrlive.store.db.migrate); `settle`
    indexes the writer's queue (the task store's log.index_queued)."""
    reader = Reader(db_path)
    return Records(SqliteSearchIndex(reader, settle), SqliteRecordReads(reader), reader.close)
