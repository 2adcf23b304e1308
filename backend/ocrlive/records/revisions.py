"""Revisions, not overwrites: a line is corrected or confirmed as a new revision of its
document, and the text the OCR engine read is never lost.

Writes (`apply_line_edit`) run on the single writer's connection inside the journal's
transaction, so the edit, the task's new version and its `task.corrected` event are one
commit. The index and the review queue follow by trigger. Reads shape the stored result
for clients: the document's `revision`, and per line `doubtful`, `reviewed`, `revision`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from ocrlive.errors import InvalidRequest, NotFound, RevisionConflict

CORRECT, CONFIRM = "correct", "confirm"
ACTIONS = (CORRECT, CONFIRM)
# What a line's `reviewed` becomes after each action.
REVIEWED = {CORRECT: "corrected", CONFIRM: "confirmed"}
MAX_LINE_CHARS = 2000


@dataclass(frozen=True)
class LineEdit:
    page: int  # 1-based page number
    line: int  # 0-based index of the line on its page
    action: str  # correct | confirm
    text: str | None
    author: str
    base_revision: int | None = None  # the revision the editor saw; None: do not check


@dataclass(frozen=True)
class EditOutcome:
    revision: int
    line: dict[str, Any]


def validate_edit(edit: LineEdit) -> None:
    if edit.action not in ACTIONS:
        raise InvalidRequest("action must be correct or confirm")
    if edit.action == CORRECT:
        if edit.text is None or "\n" in edit.text or "\r" in edit.text:
            raise InvalidRequest("text must be one line of text")
        if len(edit.text) > MAX_LINE_CHARS:
            raise InvalidRequest(f"text may hold at most {MAX_LINE_CHARS} characters")


def _locate(result: dict[str, Any], page: int, line: int) -> tuple[dict[str, Any], dict[str, Any]]:
    for p in result.get("pages", []):
        if p.get("number") == page:
            lines = p.get("lines", [])
            if 0 <= line < len(lines):
                return p, lines[line]
            raise NotFound(f"Page {page} has no line {line}")
    raise NotFound(f"The document has no page {page}")


def _retext(result: dict[str, Any], page: dict[str, Any]) -> None:
    page["text"] = "\n".join(ln["text"] for ln in page["lines"])
    result["text"] = "\n\n".join(p["text"] for p in result["pages"])


def apply_line_edit(
    conn: sqlite3.Connection, task_id: str, edit: LineEdit, now: str
) -> EditOutcome:
    """On the writer thread, in its transaction. Everything is checked before writing."""
    row = conn.execute(
        "SELECT result, revision FROM results WHERE task_id = ?", (task_id,)
    ).fetchone()
    if row is None:
        raise NotFound("This document has no stored text")
    result, current = json.loads(row[0]), int(row[1])
    if edit.base_revision is not None and edit.base_revision != current:
        raise RevisionConflict(
            f"The document changed (revision {current}, you saw {edit.base_revision}); reload it"
        )
    page, line = _locate(result, edit.page, edit.line)
    before = line["text"]
    ocr_text = line.get("ocr_text", before)
    after = edit.text if edit.action == CORRECT and edit.text is not None else before
    revision = current + 1
    line.update(ocr_text=ocr_text, text=after, reviewed=REVIEWED[edit.action])
    line.update(revision=revision, reviewed_by=edit.author, reviewed_at=now)
    _retext(result, page)
    conn.execute(
        "UPDATE results SET result = ?, revision = ? WHERE task_id = ?",
        (json.dumps(result), revision, task_id),
    )
    conn.execute(
        "INSERT INTO line_edits (task_id, revision, page, line, action, text_before, "
        "text_after, ocr_text, author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (task_id, revision, edit.page, edit.line, edit.action, before, after, ocr_text,
         edit.author, now),
    )  # fmt: skip
    return EditOutcome(revision, line)


def shape_line(line: dict[str, Any], threshold: float) -> dict[str, Any]:
    """A stored line as clients see it: every line carries the same keys."""
    return {
        "text": line["text"],
        "score": line["score"],
        "box": line["box"],
        "doubtful": line["score"] < threshold,
        "reviewed": line.get("reviewed"),
        "revision": line.get("revision", 0),
        "ocr_text": line.get("ocr_text", line["text"]),
    }


def shape_result(result: dict[str, Any], revision: int, threshold: float) -> dict[str, Any]:
    pages = [
        {**p, "lines": [shape_line(ln, threshold) for ln in p.get("lines", [])]}
        for p in result.get("pages", [])
    ]
    pending = sum(
        1 for p in pages for ln in p["lines"] if ln["doubtful"] and ln["reviewed"] is None
    )
    return {**result, "revision": revision, "review_threshold": threshold,
            "pending_review": pending, "pages": pages}  # fmt: skip


async def current_result(conn: AsyncConnection, task_id: str) -> tuple[dict[str, Any], int] | None:
    query = text("SELECT result, revision FROM results WHERE task_id = :t")
    row = (await conn.execute(query, {"t": task_id})).first()
    return (json.loads(row[0]), int(row[1])) if row else None


async def archived_result(
    conn: AsyncConnection, task_id: str, revision: int
) -> dict[str, Any] | None:
    query = text("SELECT result FROM result_history WHERE task_id = :t AND revision = :r")
    raw = (await conn.execute(query, {"t": task_id, "r": revision})).scalar()
    return json.loads(raw) if raw else None


async def history(
    conn: AsyncConnection, task_id: str, page: int | None = None, line: int | None = None
) -> dict[str, Any]:
    """Every line edit (oldest first) and every replaced OCR run of a document."""
    where, params = "task_id = :t", {"t": task_id, "p": page, "l": line}
    if page is not None:
        where += " AND page = :p"
    if line is not None:
        where += " AND line = :l"
    edits = await conn.execute(
        text(
            "SELECT revision, page, line, action, text_before, text_after, ocr_text, author, "
            f"created_at FROM line_edits WHERE {where} ORDER BY revision"
        ),
        params,
    )
    runs = await conn.execute(
        text(
            "SELECT revision, replaced_at, json_extract(result, '$.engine') FROM result_history "
            "WHERE task_id = :t ORDER BY revision"
        ),
        {"t": task_id},
    )
    return {
        "edits": [dict(r._mapping) for r in edits],
        "replaced": [
            {"revision": r[0], "replaced_at": r[1], "engine": json.loads(r[2] or "{}")}
            for r in runs
        ],
    }
