"""The URL table of the HTTP API and the page shell."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ocrlive.http import pages, records, tasks

STATIC = Path(__file__).resolve().parent.parent / "static"


def _records_routes(app: web.Application) -> None:
    app.router.add_get("/api/search", records.search)
    app.router.add_get("/api/review", records.review_queue)
    app.router.add_get("/api/patients/{patient_id}/documents", records.patient_documents)
    line = r"/api/tasks/{task_id}/pages/{page:\d{1,4}}/lines/{line:\d{1,5}}"
    app.router.add_post(line, records.edit_line)
    app.router.add_get("/api/tasks/{task_id}/revisions", records.revisions)
    revision = r"/api/tasks/{task_id}/revisions/{revision:\d{1,6}}"
    app.router.add_get(revision, records.archived_revision)
    app.router.add_post("/api/tasks/{task_id}/rerun", records.rerun)
    app.router.add_get("/api/tasks/{task_id}/export.{format:pdf|txt|json}", records.export_one)
    app.router.add_post("/api/exports", records.export_many)


def setup_routes(app: web.Application) -> None:
    """The HTTP routes; app.py adds GET /api/ws beside them (ws/view.py)."""
    app.router.add_get("/", pages.index)
    app.router.add_get("/api/health", tasks.health)
    app.router.add_get("/api/status", tasks.status)
    app.router.add_post("/api/tasks", tasks.create_task)
    app.router.add_get("/api/tasks", tasks.list_tasks)
    app.router.add_get("/api/tasks/{task_id}", tasks.get_task)
    app.router.add_get("/api/tasks/{task_id}/result", records.get_result)
    app.router.add_get(r"/api/tasks/{task_id}/pages/{number:\d{1,4}}.png", tasks.get_page)
    app.router.add_post("/api/tasks/{task_id}/cancel", tasks.cancel_task)
    app.router.add_post("/api/tasks/{task_id}/retry", tasks.retry_task)
    _records_routes(app)
    STATIC.mkdir(exist_ok=True)
    app.router.add_static("/static/", STATIC, append_version=False)
