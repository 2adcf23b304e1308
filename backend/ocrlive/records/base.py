"""What a storage backend implements for documents as records: full-text search and the
reads of revisions, the review queue and the patient view (records/sqlite.py on
SQLite FTS5; a PostgreSQL backend implements the same protocols with a tsvector column,
ts_rank and ts_headline). Writes go through the event log (store/base.py: `Revision`);
the index follows them inside the same transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ocrlive.events import Task
from ocrlive.ocr.types import TaskResult
from ocrlive.records.query import ParsedQuery

# Counting every match of a very common word costs as much as ranking them all; past
# this many the answer says "more than" (`total_exact: false`), as search engines do.
COUNT_CAP = 1000


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


@dataclass(frozen=True)
class QueueEntry:
    task: Task
    pending: int  # doubtful lines nobody reviewed
    min_score: float

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.to_json(), "pending": self.pending,
                "min_score": self.min_score}  # fmt: skip


@dataclass(frozen=True)
class PatientDocument:
    task: Task
    first_lines: list[str]
    revision: int  # 0: no text yet
    pending_review: int

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.to_json(), "first_lines": self.first_lines,
                "revision": self.revision, "pending_review": self.pending_review}  # fmt: skip


class SearchIndex(Protocol):
    async def search(
        self, query: ParsedQuery, filters: SearchFilters, *, limit: int, offset: int
    ) -> SearchResults: ...


class RecordReads(Protocol):
    async def current(self, task_id: str) -> tuple[TaskResult, int] | None:
        """The stored result and its revision."""
        ...

    async def archived(self, task_id: str, revision: int) -> TaskResult | None:
        """A result replaced by a re-run, as it was then."""
        ...

    async def history(
        self, task_id: str, page: int | None = None, line: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """`edits`: every line edit, oldest first; `replaced`: every replaced revision."""
        ...

    async def review_queue(
        self, threshold: float, *, limit: int, offset: int, patient_id: str | None = None
    ) -> tuple[Sequence[QueueEntry], int]:
        """Documents with unreviewed lines under `threshold`, the lowest score first."""
        ...

    async def patient_documents(
        self, patient_id: str, threshold: float, *, limit: int, offset: int
    ) -> tuple[Sequence[PatientDocument], int]:
        """Every document of one patient, newest first."""
        ...


@dataclass(frozen=True)
class Records:
    """One backend's search index and record reads, opened together by app.py."""

    search: SearchIndex
    reads: RecordReads
    close_backend: Callable[[], Awaitable[None]]  # releases the connections

    async def close(self) -> None:
        await self.close_backend()
