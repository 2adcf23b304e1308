"""The SQL of the SQLite backend, written once: the writer (plain sqlite3) and
the readers (SQLAlchemy's aiosqlite engine, exec_driver_sql) run the same text, and
one decoder turns a task row into a Task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ocrlive.events import FINISHED_STATUSES, Event, EventType, Task
from ocrlive.ocr.types import TaskResult
from ocrlive.store.base import KEPT_BY_PROGRESS, Revision, StoredFile

TASK_COLUMNS = [name for name in Task.__dataclass_fields__ if name != "error"] + [
    "error_code",
    "error_message",
]
_IMMUTABLE = {"id", "patient_id", "document_type", "filename", "content_type", "size"}
_MUTABLE = [c for c in TASK_COLUMNS if c not in _IMMUTABLE]
_KEPT = {*KEPT_BY_PROGRESS, "error_code", "error_message"}
_PROGRESSING = [c for c in _MUTABLE if c not in _KEPT]
_STORED = ["sha256", "file_path", "idempotency_key"]

SELECT_TASK = f"SELECT {', '.join(TASK_COLUMNS)} FROM tasks"
TASK_BY_ID = f"{SELECT_TASK} WHERE id = ?"
TASK_BY_KEY = f"{SELECT_TASK} WHERE idempotency_key = ?"
TASK_FILE = "SELECT file_path FROM tasks WHERE id = ?"
TASK_IDENTITY = "SELECT sha256, patient_id, document_type FROM tasks WHERE id = ?"
RESULT = "SELECT result FROM results WHERE task_id = ?"
RESULT_REVISION = "SELECT result, revision FROM results WHERE task_id = ?"
REVISE_RESULT = "UPDATE results SET result = ?, revision = ? WHERE task_id = ?"
TAGGED_STATUS = "SELECT status FROM search_docs WHERE task_id = ?"
# The result's triggers index it again (results_reindex), tagged as its task is now.
REINDEX_RESULT = "UPDATE results SET result = result WHERE task_id = ?"
# A stored result is the revision after the newest archived one (a re-run's reading
# follows the text it replaces); given here, the index trigger need not rewrite the row.
INSERT_RESULT = (
    "INSERT INTO results (task_id, result, revision) VALUES (?, ?, 1 + coalesce("
    "(SELECT max(revision) FROM result_history WHERE task_id = ?), 0))"
)
REVIEW_ROW = "INSERT OR REPLACE INTO review_queue (task_id, min_score) VALUES (?, ?)"
INSERT_LINE_EDIT = (
    "INSERT INTO line_edits (task_id, revision, page, line, action, text_before, text_after, "
    "ocr_text, author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# AUTOINCREMENT's counter never goes back, even when the newest events were purged.
HEAD = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"
GET_META = "SELECT value FROM meta WHERE key = ?"
SET_META = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?"
# The type as a literal, so that both databases answer from the partial index
# ix_events_started (0007_run_fence) instead of reading every event of the task.
CURRENT_RUN = f"SELECT max(seq) FROM events WHERE task_id = ? AND type = '{EventType.STARTED}'"
EVENTS_SINCE = "SELECT seq, type, task FROM events WHERE seq > ?"
EVENTS_SINCE_OF_TASK = "SELECT seq, type, task FROM events WHERE task_id = ? AND seq > ?"
INSERT_TASK = (
    f"INSERT INTO tasks ({', '.join(TASK_COLUMNS + _STORED)}) "
    f"VALUES ({', '.join('?' for _ in TASK_COLUMNS + _STORED)})"
)
UPDATE_TASK = (
    f"UPDATE tasks SET {', '.join(f'{c} = ?' for c in [*_MUTABLE, 'finished_at'])} WHERE id = ?"
)
SET_OWNER = "UPDATE tasks SET owner = ? WHERE id = ?"  # migration 0005_nodes
# A task that only progressed (store/base.py, KEPT_BY_PROGRESS).
UPDATE_PROGRESS = f"UPDATE tasks SET {', '.join(f'{c} = ?' for c in _PROGRESSING)} WHERE id = ?"
INSERT_EVENT = "INSERT INTO events (seq, task_id, type, task, created_at) VALUES (?, ?, ?, ?, ?)"
FINISHED = ", ".join(f"'{s}'" for s in sorted(FINISHED_STATUSES))
FINISHED_BEFORE = f"SELECT id FROM tasks WHERE status IN ({FINISHED}) AND finished_at < ?"
PROGRESS = f"'{EventType.PROGRESS}'"


def list_tasks(where: str, limit: int) -> str:
    return f"{SELECT_TASK} {where} ORDER BY created_at DESC LIMIT {int(limit)}"


def task_from_row(row: Sequence[Any]) -> Task:
    m = dict(zip(TASK_COLUMNS, row, strict=True))
    code, message = m.pop("error_code"), m.pop("error_message")
    return Task.from_json(m | {"error": {"code": code, "message": message or ""} if code else None})


def _row_values(task: Task) -> dict[str, Any]:
    values = task.to_json()
    error = values.pop("error")
    values["error_code"] = error["code"] if error else None
    values["error_message"] = error["message"] if error else None
    return values


def insert_row(task: Task, stored: StoredFile) -> tuple[Any, ...]:
    values = _row_values(task)
    values |= {"sha256": stored.sha256, "file_path": stored.file_path,
               "idempotency_key": stored.idempotency_key}  # fmt: skip
    return tuple(values[c] for c in TASK_COLUMNS + _STORED)


def update_row(task: Task) -> tuple[Any, ...]:
    values = _row_values(task)
    finished_at = task.updated_at if task.status in FINISHED_STATUSES else None
    return (*(values[c] for c in _MUTABLE), finished_at, task.id)


def progress_row(task: Task) -> tuple[Any, ...]:
    return (*(getattr(task, c) for c in _PROGRESSING), task.id)


def review_row(task_id: str, result: TaskResult) -> tuple[str, float] | None:
    """The review queue's row of a stored result: the lowest score of its unreviewed
    lines, none when every line was reviewed (as 0002's trigger computes it)."""
    scores = [line["score"] for page in result["pages"] for line in page["lines"]
              if line.get("reviewed") is None and line.get("score") is not None]  # fmt: skip
    return (task_id, min(scores)) if scores else None


def line_edit_row(revision: Revision) -> tuple[Any, ...]:
    e = revision.edit
    return (revision.task_id, revision.revision, e.page, e.line, e.action, e.text_before,
            e.text_after, e.ocr_text, e.author, e.created_at)  # fmt: skip


def event_from_row(seq: int, kind: str, task_json: str) -> Event:
    return Event(seq=seq, type=EventType(kind), task=Task.from_json(json.loads(task_json)))
