"""The review queue and the patient view: reads over tasks joined with their records.

Which lines are doubtful depends on OCRLIVE_REVIEW_THRESHOLD. The triggers that keep
`review_queue` in step read it from `meta`, so a change of the setting recomputes the
queue once, at start (`set_threshold`), and every later write follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.events import Task
from ocrlive.store import repo
from ocrlive.store.writer import TASK_COLUMNS, task_from_values

THRESHOLD_KEY = "review_threshold"
FIRST_LINES = 3
_TASK_SELECT = ", ".join(f"t.{c}" for c in TASK_COLUMNS)

_RECOMPUTE = """
    INSERT INTO review_queue (task_id, pending, min_score)
    SELECT r.task_id, count(*), min((l.value ->> 'score'))
    FROM results AS r, json_each(r.result, '$.pages') AS p, json_each(p.value, '$.lines') AS l
    WHERE (l.value ->> 'score') < :threshold
      AND (l.value ->> 'reviewed') IS NULL
    GROUP BY r.task_id
"""


async def set_threshold(conn: AsyncConnection, threshold: float) -> bool:
    """Store the threshold the triggers use; recompute the queue if it changed."""
    stored = await repo.get_meta(conn, THRESHOLD_KEY)
    if stored is not None and float(stored) == threshold:
        return False
    await repo.set_meta(conn, THRESHOLD_KEY, repr(threshold))
    await conn.execute(text("DELETE FROM review_queue"))
    await conn.execute(text(_RECOMPUTE), {"threshold": threshold})
    return True


@dataclass(frozen=True)
class QueueEntry:
    task: Task
    pending: int
    min_score: float

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.to_json(), "pending": self.pending,
                "min_score": self.min_score}  # fmt: skip


async def review_queue(
    conn: AsyncConnection, *, limit: int, offset: int, patient_id: str | None = None
) -> tuple[list[QueueEntry], int]:
    """Documents with lines to review, the most doubtful (lowest pending score) first."""
    where = "WHERE t.patient_id = :patient" if patient_id else ""
    params = {"patient": patient_id, "limit": limit, "offset": offset}
    rows = await conn.execute(
        text(
            f"SELECT q.pending, q.min_score, {_TASK_SELECT} FROM review_queue AS q "
            f"JOIN tasks AS t ON t.id = q.task_id {where} "
            "ORDER BY q.min_score, q.pending DESC, t.created_at LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    entries = [QueueEntry(task_from_values(tuple(r[2:])), r[0], r[1]) for r in rows]
    count = text(
        f"SELECT count(*) FROM review_queue AS q JOIN tasks AS t ON t.id = q.task_id {where}"
    )
    total = int((await conn.execute(count, params)).scalar() or 0)
    return entries, total


@dataclass(frozen=True)
class PatientDocument:
    task: Task
    first_lines: list[str]
    revision: int
    pending_review: int

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task.to_json(), "first_lines": self.first_lines,
                "revision": self.revision, "pending_review": self.pending_review}  # fmt: skip


def _first_lines(body: str | None) -> list[str]:
    lines = [ln.strip() for ln in (body or "").splitlines() if ln.strip()]
    return lines[:FIRST_LINES]


async def patient_documents(
    conn: AsyncConnection, patient_id: str, *, limit: int, offset: int
) -> tuple[list[PatientDocument], int]:
    """Every document of one patient, newest first, with the start of its text."""
    params = {"patient": patient_id, "limit": limit, "offset": offset}
    rows = await conn.execute(
        text(
            "SELECT substr(json_extract(r.result, '$.text'), 1, 600), coalesce(r.revision, 0), "
            f"coalesce(q.pending, 0), {_TASK_SELECT} FROM tasks AS t "
            "LEFT JOIN results AS r ON r.task_id = t.id "
            "LEFT JOIN review_queue AS q ON q.task_id = t.id WHERE t.patient_id = :patient "
            "ORDER BY t.created_at DESC LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    docs = [
        PatientDocument(task_from_values(tuple(r[3:])), _first_lines(r[0]), r[1], r[2])
        for r in rows
    ]
    count = text("SELECT count(*) FROM tasks WHERE patient_id = :patient")
    total = int((await conn.execute(count, params)).scalar() or 0)
    return docs, total
