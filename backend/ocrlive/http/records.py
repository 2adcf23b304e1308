"""Documents as records: search, the patient view, the review queue, line edits,
revisions, re-runs and exports. Parsing and shaping only; the work is in records/."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from enum import StrEnum
from typing import Any

from aiohttp import web

from ocrlive.errors import InvalidRequest, NotFound, NotReady
from ocrlive.events import DocumentType, TaskStatus
from ocrlive.http.access import principal, subject
from ocrlive.http.tasks import int_query
from ocrlive.keys import MANAGER, RECORDS, RUNNER, SETTINGS
from ocrlive.ocr.types import ReadSettings, TaskResult
from ocrlive.records import exports, page_images
from ocrlive.records.base import SearchFilters
from ocrlive.records.query import parse_query
from ocrlive.records.revisions import EditRequest, shape_line, shape_result

MAX_EXPORT_DOCUMENTS = 200


def author(request: web.Request) -> str:
    """Who made a change: the signed-in person."""
    return principal(request).username


def _choice(request: web.Request, name: str, allowed: type[StrEnum]) -> str | None:
    value = request.query.get(name) or None
    if value is not None and value not in allowed.__members__.values():
        names = ", ".join(sorted(allowed.__members__.values()))
        raise InvalidRequest(f"{name} must be one of {names}")
    return value


def _date(request: web.Request, name: str) -> str | None:
    value = request.query.get(name) or None
    if value is not None:
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise InvalidRequest(f"{name} must be a date like 2026-11-25") from None
    return value


def _filters(request: web.Request) -> SearchFilters:
    patient = request.query.get("patient_id", "").strip() or None
    return SearchFilters(
        patient_id=patient, document_type=_choice(request, "document_type", DocumentType),
        status=_choice(request, "status", TaskStatus),
        date_from=_date(request, "from"), date_to=_date(request, "to"),
    )  # fmt: skip


async def search(request: web.Request) -> web.Response:
    query = parse_query(request.query.get("q", ""))
    limit = int_query(request, "limit", 20, 1, 100)
    offset = int_query(request, "offset", 0, 0, 10_000)
    index = request.app[RECORDS].search
    filters = _filters(request)
    found = await index.search(query, filters, limit=limit, offset=offset)
    q = request.query.get("q", "")[:100]
    subject(request, None, f"q={q!r}, {found.total} found", patient_id=filters.patient_id)
    return web.json_response({
        "hits": [hit.to_json() for hit in found.hits], "total": found.total,
        "total_exact": found.total_exact, "order": found.order, "limit": limit, "offset": offset,
    })  # fmt: skip


async def patient_documents(request: web.Request) -> web.Response:
    patient = request.match_info["patient_id"]
    limit = int_query(request, "limit", 50, 1, 500)
    offset = int_query(request, "offset", 0, 0, 1_000_000)
    threshold = request.app[SETTINGS].review_threshold
    reads = request.app[RECORDS].reads
    docs, total = await reads.patient_documents(patient, threshold, limit=limit, offset=offset)
    subject(request, None, f"{len(docs)} of {total} documents", patient_id=patient)
    return web.json_response({"patient_id": patient, "documents": [d.to_json() for d in docs],
                              "total": total, "limit": limit, "offset": offset})  # fmt: skip


async def review_queue(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 50, 1, 500)
    offset = int_query(request, "offset", 0, 0, 1_000_000)
    patient = request.query.get("patient_id", "").strip() or None
    threshold = request.app[SETTINGS].review_threshold
    entries, total = await request.app[RECORDS].reads.review_queue(
        threshold, limit=limit, offset=offset, patient_id=patient
    )
    subject(request, None, f"{len(entries)} of {total} documents", patient_id=patient)
    return web.json_response({
        "threshold": threshold,
        "documents": [e.to_json() for e in entries], "total": total,
    })  # fmt: skip


async def shaped_result(request: web.Request, task_id: str) -> dict[str, Any]:
    """The current revision; while a document is read again, the previous one."""
    task = await request.app[MANAGER].get(task_id)
    found = await request.app[RECORDS].reads.current(task.id)
    if found is None:
        if task.status != TaskStatus.COMPLETED:
            raise NotReady(f"The task is {task.status}; its result is not ready")
        raise NotFound("The result of this task was purged")
    return shape_result(*found, request.app[SETTINGS].review_threshold)


async def get_result(request: web.Request) -> web.Response:
    shaped = await shaped_result(request, request.match_info["task_id"])
    subject(request, await request.app[MANAGER].get(request.match_info["task_id"]))
    return web.json_response(shaped)


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise InvalidRequest("The body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    return body


def _optional_int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidRequest(f"{name} must be an integer")
    return value


async def edit_line(request: web.Request) -> web.Response:
    body = await _json_body(request)
    text = body.get("text")
    if text is not None and not isinstance(text, str):
        raise InvalidRequest("text must be a string")
    edit = EditRequest(
        page=int(request.match_info["page"]), line=int(request.match_info["line"]),
        action=str(body.get("action", "")), text=text, author=author(request),
        base_revision=_optional_int(body, "revision"),
    )  # fmt: skip
    task, made = await request.app[MANAGER].edit_line(request.match_info["task_id"], edit)
    subject(
        request, task, f"page {edit.page} line {edit.line}: {edit.action}, revision {made.revision}"
    )
    line = made.result["pages"][_page_index(made.result, edit.page)]["lines"][edit.line]
    threshold = request.app[SETTINGS].review_threshold
    return web.json_response({"task": task.to_json(), "revision": made.revision,
                              "line": shape_line(line, threshold)})  # fmt: skip


def _page_index(result: TaskResult, number: int) -> int:
    return next(i for i, p in enumerate(result["pages"]) if p["number"] == number)


async def revisions(request: web.Request) -> web.Response:
    task = await request.app[MANAGER].get(request.match_info["task_id"])
    page, line = request.query.get("page"), request.query.get("line")
    for name, value in (("page", page), ("line", line)):
        if value is not None and not value.isdigit():
            raise InvalidRequest(f"{name} must be an integer")
    reads = request.app[RECORDS].reads
    found = await reads.current(task.id)
    past = await reads.history(task.id, _int(page), _int(line))
    subject(request, task, "revisions")
    return web.json_response({"task_id": task.id, "revision": found[1] if found else None, **past})


def _int(value: str | None) -> int | None:
    return int(value) if value is not None else None


async def archived_revision(request: web.Request) -> web.Response:
    task = await request.app[MANAGER].get(request.match_info["task_id"])
    number = int(request.match_info["revision"])
    result = await request.app[RECORDS].reads.archived(task.id, number)
    if result is None:
        raise NotFound(f"No replaced revision {number}; the current one is at /result")
    subject(request, task, f"revision {number}")
    return web.json_response(shape_result(result, number, request.app[SETTINGS].review_threshold))


async def rerun(request: web.Request) -> web.Response:
    """An empty body: the server's engine settings; `{"settings": {...}}` changes some
    of them for this reading (ocr/types.py READ_SETTINGS), checked before anything."""
    body = await _json_body(request) if request.body_exists else {}
    unknown = set(body) - {"settings"}
    if unknown:
        raise InvalidRequest(f"Unknown field {sorted(unknown)[0]!r}; send settings")
    settings = ReadSettings.parse(body.get("settings", {}))
    task = await request.app[RUNNER].rerun(request.match_info["task_id"], settings)
    subject(request, task)
    return web.json_response({"task": task.to_json()})


def _file_stem(*parts: str) -> str:
    stem = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p).strip("-.") for p in parts if p)
    return stem[:120] or "document"


async def _document(request: web.Request, task_id: str) -> exports.Document:
    task = await request.app[MANAGER].get(task_id)
    result = await shaped_result(request, task.id)
    settings = request.app[SETTINGS]
    name = _file_stem(task.patient_id, task.filename.rsplit(".", 1)[0])
    subject(request, task, f"export as {request.match_info.get('format') or 'zip'}")
    images = page_images.result_folder(settings.pages_dir / task.id, result)
    return exports.Document(task.id, name, result, images, settings.pdf_dpi)


async def export_one(request: web.Request) -> web.Response:
    fmt = request.match_info["format"]
    doc = await _document(request, request.match_info["task_id"])
    body = await asyncio.to_thread(exports.render, doc, fmt)
    return _download(body, f"{doc.name}.{fmt}", fmt)


def _download(body: bytes, filename: str, fmt: str) -> web.Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"',
               "Cache-Control": "no-store"}  # fmt: skip
    return web.Response(
        body=body, headers=headers, content_type=exports.MEDIA_TYPES[fmt].split(";")[0]
    )


async def export_many(request: web.Request) -> web.Response:
    body = await _json_body(request)
    ids, fmt = body.get("task_ids"), body.get("format", "pdf")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise InvalidRequest("task_ids must be a non-empty list of task ids")
    if len(ids) > MAX_EXPORT_DOCUMENTS:
        raise InvalidRequest(f"At most {MAX_EXPORT_DOCUMENTS} documents per export")
    if fmt not in exports.FORMATS:
        raise InvalidRequest("format must be pdf, txt or json")
    docs = [await _document(request, task_id) for task_id in dict.fromkeys(ids)]
    archive = await asyncio.to_thread(exports.zip_documents, docs, fmt)
    return _download(archive, f"ocrlive-{len(docs)}-documents-{fmt}.zip", "zip")
