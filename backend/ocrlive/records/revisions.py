"""Revisions, not overwrites: a line is corrected or confirmed as a new revision of its
document, and the text the OCR engine read is never lost.

`revise_line` runs inside the event log's transaction (TaskManager.edit_line), so the
revised result, the kept edit, the task's new version and its `task.corrected` event
are one commit; the search index and the review queue follow by trigger. `shape_*`
turn a stored result into what clients see: the document's `revision`, and per line
`doubtful`, `reviewed`, `revision` and `ocr_text`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ocrlive.errors import InvalidRequest, NotFound, RevisionConflict
from ocrlive.ocr.types import LineJson, PageJson, TaskResult
from ocrlive.store.base import LineEdit, LogTransaction, Revision

MAX_LINE_CHARS = 2000


class EditAction(StrEnum):
    CORRECT = "correct"
    CONFIRM = "confirm"


# What a line's `reviewed` becomes after each action.
REVIEWED = {EditAction.CORRECT: "corrected", EditAction.CONFIRM: "confirmed"}


@dataclass(frozen=True, kw_only=True)
class EditRequest:
    page: int  # 1-based page number
    line: int  # 0-based index of the line on its page
    action: str  # an EditAction; checked by validate_edit
    text: str | None = None
    author: str
    base_revision: int | None = None  # the revision the editor saw; None: do not check


def validate_edit(edit: EditRequest) -> None:
    if edit.action not in EditAction.__members__.values():
        raise InvalidRequest("action must be correct or confirm")
    if edit.action == EditAction.CORRECT:
        if edit.text is None or "\n" in edit.text or "\r" in edit.text:
            raise InvalidRequest("text must be one line of text")
        if len(edit.text) > MAX_LINE_CHARS:
            raise InvalidRequest(f"text may hold at most {MAX_LINE_CHARS} characters")


def _locate(result: TaskResult, page: int, line: int) -> tuple[PageJson, LineJson]:
    for p in result["pages"]:
        if p["number"] == page:
            if 0 <= line < len(p["lines"]):
                return p, p["lines"][line]
            raise NotFound(f"Page {page} has no line {line}")
    raise NotFound(f"The document has no page {page}")


def _retext(result: TaskResult, page: PageJson) -> None:
    page["text"] = "\n".join(ln["text"] for ln in page["lines"])
    result["text"] = "\n\n".join(p["text"] for p in result["pages"])


def revise_line(tx: LogTransaction, task_id: str, edit: EditRequest, now: str) -> Revision:
    """The next revision of the stored result with one line changed; checks first."""
    stored = tx.current_result(task_id)
    if stored is None:
        raise NotFound("This document has no stored text")
    result, current = copy.deepcopy(stored[0]), stored[1]
    if edit.base_revision is not None and edit.base_revision != current:
        raise RevisionConflict(
            f"The document changed (revision {current}, you saw {edit.base_revision}); reload it"
        )
    page, line = _locate(result, edit.page, edit.line)
    before, revision = line["text"], current + 1
    ocr_text = line.get("ocr_text", before)
    after = edit.text if edit.action == EditAction.CORRECT and edit.text is not None else before
    line["ocr_text"], line["text"] = ocr_text, after
    line["reviewed"] = REVIEWED[EditAction(edit.action)]
    line["revision"], line["reviewed_by"], line["reviewed_at"] = revision, edit.author, now
    _retext(result, page)
    made = LineEdit(
        page=edit.page, line=edit.line, action=edit.action, text_before=before,
        text_after=after, ocr_text=ocr_text, author=edit.author, created_at=now,
    )  # fmt: skip
    return Revision(task_id=task_id, result=result, revision=revision, edit=made)


def shape_line(line: LineJson, threshold: float) -> dict[str, Any]:
    """A stored line as clients see it: every line carries the same keys."""
    return {
        "text": line["text"],
        "score": line["score"],
        "box": line["box"],
        "doubtful": line["score"] < threshold,
        "reviewed": line.get("reviewed"),
        "revision": line.get("revision", 0),
        "ocr_text": line.get("ocr_text", line["text"]),
        "reviewed_by": line.get("reviewed_by"),
        "reviewed_at": line.get("reviewed_at"),
    }


def shape_result(result: TaskResult, revision: int, threshold: float) -> dict[str, Any]:
    pages = [{**p, "lines": [shape_line(ln, threshold) for ln in p["lines"]]}
             for p in result["pages"]]  # fmt: skip
    pending = sum(
        1
        for page in result["pages"]
        for ln in page["lines"]
        if ln["score"] < threshold and "reviewed" not in ln
    )
    return {**result, "revision": revision, "review_threshold": threshold,
            "pending_review": pending, "pages": pages}  # fmt: skip
