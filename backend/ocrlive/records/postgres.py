"""Records on PostgreSQL: full-text search on a tsvector column (GIN index) with
ts_rank, and the reads of revisions, the review queue and the patient view. The tables
are kept by triggers on `results` (migrations/versions/0002_records.py, PG_STATEMENTS),
as FTS5's are on SQLite; the hits have the same shape (snippets from records/snippets.py,
the same words highlighted as on SQLite)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import text

from ocrlive.records.base import (
    COUNT_CAP,
    Records,
    SearchFilters,
    SearchHit,
    SearchResults,
)
from ocrlive.records.query import ParsedQuery, Term
from ocrlive.records.snippets import make_snippet
from ocrlive.records.sqlite import SqliteRecordReads
from ocrlive.records.sqlite import _Queries as SqliteQueries
from ocrlive.store.postgres.connection import PgReader
from ocrlive.store.sqlite.rows import TASK_COLUMNS, task_from_row

CONFIG = "ocrlive"  # the text search configuration the migration made
_TASK_SELECT = ", ".join(f"t.{c}" for c in TASK_COLUMNS)


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


class _Queries(SqliteQueries):
    """SQLAlchemy's text(): psycopg takes no `:name` marks of its own."""

    def __init__(self, reader: PgReader) -> None:
        self.pg = reader

    async def all(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        async with self.pg.engine.connect() as conn:
            return (await conn.execute(text(sql), dict(params))).all()


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


class PgRecordReads(SqliteRecordReads):
    """The same reads; the JSON in `results` read with jsonb operators."""

    PENDING = """(SELECT count(*) FROM jsonb_array_elements(r.result::jsonb -> 'pages') AS p,
        jsonb_array_elements(p -> 'lines') AS l
        WHERE (l ->> 'score')::float8 < :threshold AND (l ->> 'reviewed') IS NULL)"""
    ENGINE = "(result::jsonb -> 'engine')::text"
    TEXT_HEAD = "substr(r.result::jsonb ->> 'text', 1, 600)"

    def __init__(self, reader: PgReader) -> None:
        self._q = _Queries(reader)


def open_postgres_records(url: str) -> Records:
    """The database must already be migrated (ocrlive.store.db.migrate)."""
    reader = PgReader(url)
    return Records(PgSearchIndex(reader), PgRecordReads(reader), reader.close)
