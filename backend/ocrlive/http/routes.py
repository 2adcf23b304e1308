"""The URL table of the HTTP API and the page shell."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from ocrlive.http import pages, tasks

STATIC = Path(__file__).resolve().parent.parent / "static"


def setup_routes(app: web.Application) -> None:
    """The HTTP routes; app.py adds GET /api/ws beside them (ws/view.py)."""
    app.router.add_get("/", pages.index)
    app.router.add_get("/api/health", tasks.health)
    app.router.add_get("/api/status", tasks.status)
    app.router.add_post("/api/tasks", tasks.create_task)
    app.router.add_get("/api/tasks", tasks.list_tasks)
    app.router.add_get("/api/tasks/{task_id}", tasks.get_task)
    app.router.add_get("/api/tasks/{task_id}/result", tasks.get_result)
    app.router.add_get(r"/api/tasks/{task_id}/pages/{number:\d{1,4}}.png", tasks.get_page)
    app.router.add_post("/api/tasks/{task_id}/cancel", tasks.cancel_task)
    app.router.add_post("/api/tasks/{task_id}/retry", tasks.retry_task)
    STATIC.mkdir(exist_ok=True)
    app.router.add_static("/static/", STATIC, append_version=False)
