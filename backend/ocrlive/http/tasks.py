"""The task API: upload, list, read, result, page images, cancel, retry, status."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from aiohttp import web

from ocrlive import __version__
from ocrlive.errors import IdempotencyConflict, InvalidRequest, NotFound
from ocrlive.http.access import subject
from ocrlive.http.uploads import Upload, receive_upload
from ocrlive.keys import MANAGER, POOL, RECORDS, RUNNER, SETTINGS, STORAGE, STORE, WS, uptime
from ocrlive.records import page_images
from ocrlive.store.base import TaskFilter
from ocrlive.tasks.manager import NewTask

RUN_MAX, RUN_DIGITS = 2**63 - 1, 19  # a run is an event's seq (a BIGINT)


async def create_task(request: web.Request) -> web.Response:
    settings, runner = request.app[SETTINGS], request.app[RUNNER]
    key = request.headers.get("Idempotency-Key", "").strip()[:200] or None
    runner.check_capacity()  # before reading a body that would be refused
    upload = await receive_upload(
        request, settings.files_dir, settings.max_upload_mb * 2**20, settings.body_timeout
    )
    if key is not None and (seen := await _seen(request, key, upload)) is not None:
        return seen
    upload.commit()
    new = NewTask(
        patient_id=upload.patient_id, document_type=upload.document_type,
        filename=upload.filename, content_type=upload.content_type, size=upload.size,
        sha256=upload.sha256, file_path=str(upload.path), priority=upload.priority,
        idempotency_key=key,
    )  # fmt: skip
    task, created = await runner.submit(new)
    request.app[STORAGE].recovered()  # the file and its task were written
    if not created:  # the same key won a race with this request
        await _check_same(request, task.id, upload)
    subject(request, task, upload.filename)
    return web.json_response({"task": task.to_json()}, status=202 if created else 200)


async def _seen(request: web.Request, key: str, upload: Upload) -> web.Response | None:
    """A repeated request answers the task it created; the same key with another
    document or patient is a client bug that must not return someone else's task."""
    existing = await request.app[STORE].tasks.find_by_idempotency_key(key)
    if existing is None:
        return None
    upload.discard()
    await _check_same(request, existing.id, upload)
    subject(request, existing, "idempotent repeat")
    return web.json_response({"task": existing.to_json()}, status=200)


async def _check_same(request: web.Request, task_id: str, upload: Upload) -> None:
    identity = await request.app[STORE].tasks.identity(task_id)
    wanted = (upload.sha256, upload.patient_id, upload.document_type)
    if identity is not None and identity != wanted:
        raise IdempotencyConflict(
            "This Idempotency-Key was used for another document, patient or document type; "
            "send a new key for a new upload"
        )


async def list_tasks(request: web.Request) -> web.Response:
    which = request.query.get("status", "all")
    if which not in TaskFilter.__members__.values():
        raise InvalidRequest("status must be active, finished or all")
    limit = int_query(request, "limit", 500, 1, 5000)
    tasks = await request.app[STORE].tasks.list(TaskFilter(which), limit)
    subject(request, None, f"{len(tasks)} tasks ({which})")
    return web.json_response({"tasks": [t.to_json() for t in tasks]})


def int_query(
    request: web.Request, name: str, default: int, low: int, high: int, *, digits: int = 9
) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    # isascii: str.isdigit() also accepts "²" and "٣", which int() refuses or misreads.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= digits) or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}")
    return int(raw)


async def get_task(request: web.Request) -> web.Response:
    task = await request.app[MANAGER].get(request.match_info["task_id"])
    subject(request, task)
    return web.json_response({"task": task.to_json()})


async def get_page(request: web.Request) -> web.FileResponse:
    """The image of a page as a run read it: `run` as the result's `image_url` names it;
    without, the image of a result stored before runs had folders, else the current
    result's (records/page_images.py)."""
    task = await request.app[MANAGER].get(request.match_info["task_id"])
    number = int(request.match_info["number"])
    folder = request.app[SETTINGS].pages_dir / task.id
    run = int_query(request, "run", 0, 1, RUN_MAX, digits=RUN_DIGITS)
    path = page_images.page_path(page_images.run_folder(folder, run) if run else folder, number)
    if not run and not path.is_file():
        found = await request.app[RECORDS].reads.current(task.id)
        if found is not None:
            path = page_images.page_path(page_images.result_folder(folder, found[0]), number)
    if not path.is_file():
        raise NotFound(f"No page {number} for this task")
    subject(request, task, f"page {number}")
    return web.FileResponse(path, headers={"Cache-Control": "private, max-age=3600"})


async def cancel_task(request: web.Request) -> web.Response:
    task = await request.app[RUNNER].cancel(request.match_info["task_id"])
    subject(request, task)
    return web.json_response({"task": task.to_json()})


async def retry_task(request: web.Request) -> web.Response:
    task = await request.app[RUNNER].retry(request.match_info["task_id"])
    subject(request, task)
    return web.json_response({"task": task.to_json()})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def status(request: web.Request) -> web.Response:
    app = request.app
    pool, runner, ws = app[POOL], app[RUNNER], app[WS]
    body: dict[str, Any] = {
        "version": __version__,
        "uptime_s": round(uptime(app), 1),
        "nodes": await runner.cluster.describe() if runner.cluster else [],
        "workers": pool.status(),
        "queue_depth": len(runner.queue),
        "queue": {
            "depth": len(runner.queue),
            "limit": runner.queue_limit,
            "peak": runner.queue_peak,
        },
        "running": pool.busy,
        "storage": app[STORAGE].describe(),
        "loops": runner.supervisor.describe(),
        "connections": {
            "count": len(ws.connections),
            "list": ws.connections.describe(),
            "unauthenticated": ws.connections.describe_pending(),
        },
        "events_published": ws.hub.published,
        "epoch": ws.recovery.epoch,
        "versions": _versions(pool.versions),
    }
    return web.json_response(body)


def _versions(engine: dict[str, str]) -> dict[str, str]:
    found = {"ocrlive": __version__, "python": platform.python_version()}
    for name in ("paddleocr", "paddlepaddle", "onnxruntime", "aiohttp"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found | engine
