"""Records on PostgreSQL: full-text search on a tsvector column (GIN index) with
ts_rank, and the reads of revisions, the review queue and the patient view. The tables
are kept by triggers on `results` (migrations/versions/0002_records.py, PG_STATEMENTS),
as FTS5's are on SQLite; the hits have the same shape (snippets from records/snippets.py,
the same words highlighted as on SQLite). A phrase is narrowed by the pages' adjacent
word pairs, a second GIN-indexed tsvector (migrations/versions/0008_search_pairs.py)."""

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
from ocrlive.records.sqlite import RecordQueries, SqliteRecordReads
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


def phrase_runs(query: ParsedQuery) -> list[str]:
    """Each positive term's whole words when two or more (a prefix's last word is not
    whole): what the pair lexemes can narrow."""
    runs = [t.words[:-1] if t.prefix else t.words for t in query.positive]
    return [" ".join(words) for words in runs if len(words) >= 2]


def _lexeme(word: str) -> str:
    """A tsquery literal of one lexeme (a pair holds a space)."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


# The pairs of each phrase, made by the function that made the pages' (migration 0008),
# so that they are folded (case, accents) exactly as the pages' words were.
_PAIRS = "SELECT tsvector_to_array(ocrlive_pairs(to_tsvector(:config, :phrase)))"


def _where(filters: SearchFilters, pairs: str | None = None) -> tuple[str, dict[str, Any]]:
    clauses, params = ["f.tsv @@ to_tsquery(:config, :match)"], {"config": CONFIG}
    if pairs:  # the pages where the phrases' words meet, from the index: `<->` checks fewer
        clauses.append("f.pairs @@ CAST(:pairs AS tsquery)")
        params["pairs"] = pairs
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
_NEWEST = "ORDER BY created_at DESC"  # ix_tasks_created (migration 0008)
RECENT_WINDOWS = (1000, 16000)  # documents, newest first, before the whole table


class _Queries(RecordQueries):
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
        """One pass over the matches (at most COUNT_CAP + 1, with their rank) counts and
        ranks them: GIN keeps no word positions, so a phrase of common words is checked
        page by page, and a second pass for the hits doubled that time (0.5 s for one
        phrase at 20,000 documents). Past COUNT_CAP, newest first, as on SQLite."""
        where, params = _where(filters, await self._pairs(query))
        params |= {"match": to_tsquery(query), "cap": COUNT_CAP + 1}
        found = await self._q.all(
            "SELECT f.task_id, f.ordinal, ts_rank(f.tsv, to_tsquery(:config, :match)), "
            f"t.created_at {_FROM} WHERE {where} LIMIT :cap",
            params,
        )
        total, exact = min(len(found), COUNT_CAP), len(found) <= COUNT_CAP
        ranked: Sequence[Any]
        if exact:
            ranked = _best_first(found)[offset : offset + limit]
        else:
            ranked = await self._recent(where, params | {"limit": limit, "offset": offset})
        hits = await self._hits([(r[0], r[1], float(r[2])) for r in ranked], query)
        return SearchResults(hits, total, exact, "rank" if exact else "recent")

    async def _recent(self, where: str, params: dict[str, Any]) -> Sequence[Any]:
        """Past COUNT_CAP, the newest matching pages: looked for among the newest
        documents first, windows growing, the whole table last. Sorting every match
        by date checked each one's words (~1 s for a phrase of two common words at
        20,000 documents); so many match that the newest documents hold the page."""
        rows: Sequence[Any] = []
        for window in (*RECENT_WINDOWS, None):
            tasks = "tasks" if window is None else f"(SELECT * FROM tasks {_NEWEST} LIMIT {window})"
            rows = await self._q.all(
                "SELECT f.task_id, f.ordinal, ts_rank(f.tsv, to_tsquery(:config, :match)) "
                f"FROM search_pages AS f JOIN {tasks} AS t ON t.id = f.task_id WHERE {where} "
                "ORDER BY t.created_at DESC, f.ordinal LIMIT :limit OFFSET :offset",
                params,
            )
            if len(rows) == params["limit"]:
                break
        return rows

    async def _pairs(self, query: ParsedQuery) -> str | None:
        """The phrases' word pairs ANDed as a tsquery; None without a phrase. GIN keeps
        no positions: `'a' <-> 'b'` alone fetched and checked every page holding both
        words (~1 s p95 for two common words at 20,000 documents)."""
        lexemes: list[str] = []
        for phrase in phrase_runs(query):
            rows = await self._q.all(_PAIRS, {"config": CONFIG, "phrase": phrase})
            lexemes += rows[0][0] if rows and rows[0][0] else []
        return " & ".join(_lexeme(w) for w in dict.fromkeys(lexemes)) or None

    async def _hits(
        self, chosen: list[tuple[str, int, float]], query: ParsedQuery
    ) -> list[SearchHit]:
        """The pages' text and tasks, for the hits alone, in the order chosen."""
        if not chosen:
            return []
        keys: dict[str, Any] = {f"t{i}": task_id for i, (task_id, _, _) in enumerate(chosen)}
        keys |= {f"o{i}": ordinal for i, (_, ordinal, _) in enumerate(chosen)}
        pairs = ", ".join(f"(:t{i}, :o{i})" for i in range(len(chosen)))
        rows = await self._q.all(
            f"SELECT f.task_id, f.ordinal, f.page, f.body, {_TASK_SELECT} {_FROM} "
            f"WHERE (f.task_id, f.ordinal) IN ({pairs})",
            keys,
        )
        by_key = {(r[0], r[1]): r for r in rows}
        return [
            SearchHit(task_from_row(r[4:]), int(r[2]), score, make_snippet(r[3], query))
            for task_id, ordinal, score in chosen
            if (r := by_key.get((task_id, ordinal))) is not None  # purged meanwhile: left out
        ]


def _best_first(found: Sequence[Any]) -> list[Any]:
    """Rank, then the newest document, then the page's order (stable sorts, last key
    first)."""
    ordered = sorted(found, key=lambda r: r[1])
    ordered.sort(key=lambda r: r[3], reverse=True)
    ordered.sort(key=lambda r: r[2], reverse=True)
    return ordered


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
