"""create_app(settings): the composition root. It builds every service, wires them
(the hub is the task manager's Publisher; the store's log feeds recovery and
retention), adds the routes, and runs every resource as a cleanup_ctx, started in
order store (and records) -> tasks -> pool -> runner -> retention and stopped in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ocrlive.http.auth import Authenticator
from ocrlive.http.middlewares import auth_middleware, errors_middleware
from ocrlive.http.routes import setup_routes
from ocrlive.keys import AUTH, MANAGER, POOL, RECORDS, RUNNER, SETTINGS, STARTED_AT, STORE, WS
from ocrlive.ocr.executor import Executor
from ocrlive.ocr.pool import OcrPool
from ocrlive.ratelimit import SlidingWindow
from ocrlive.records.sqlite import open_sqlite_records
from ocrlive.settings import Settings
from ocrlive.store.sqlite import open_sqlite
from ocrlive.tasks.manager import TaskManager
from ocrlive.tasks.retention import retention_loop
from ocrlive.tasks.runner import Runner
from ocrlive.ws import view
from ocrlive.ws.connection import ConnectionManager
from ocrlive.ws.hub import Hub
from ocrlive.ws.recovery import RecoveryService
from ocrlive.ws.services import WsServices
from ocrlive.ws.transport import check_aiohttp

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(
    settings: Settings, token: str, *, engine_factory: str = "ocrlive.ocr.engine:Engine"
) -> web.Application:
    """The database must already be migrated (ocrlive.store.db.migrate)."""
    check_aiohttp()  # the WebSocket fan-out's raw writes: fail here, not mid-broadcast
    app = web.Application(middlewares=[errors_middleware, auth_middleware])
    app[SETTINGS] = settings
    app[AUTH] = Authenticator(token)
    app[STARTED_AT] = time.time()
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    setup_routes(app)
    app.router.add_get("/api/ws", websocket)
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_tasks)
    app.cleanup_ctx.append(_pool(engine_factory))
    app.cleanup_ctx.append(_runner)
    app.cleanup_ctx.append(_retention)
    app.on_shutdown.append(_close_sockets)
    return app


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /api/ws (ws/view.py), with the services built below."""
    return await view.handle(request, request.app[WS])


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    for folder in (settings.files_dir, settings.pages_dir):
        folder.mkdir(parents=True, exist_ok=True)
    app[STORE] = open_sqlite(settings.db_path)
    app[RECORDS] = open_sqlite_records(settings.db_path)
    yield
    await app[RECORDS].close()
    await app[STORE].close()


async def _tasks(app: web.Application) -> AsyncIterator[None]:
    settings, store, hub = app[SETTINGS], app[STORE], Hub()
    interval = settings.progress_interval_ms / 1000
    manager = TaskManager(store, hub, progress_interval=interval)
    await manager.start()
    app[MANAGER] = manager
    app[WS] = WsServices(
        hub=hub,
        recovery=RecoveryService(store.log, store.tasks, settings.snapshot_finished),
        connections=ConnectionManager(),
        auth=app[AUTH],
        connect_limit=SlidingWindow(settings.connect_rate),
        failure_limit=SlidingWindow(10),
        heartbeat=settings.ws_heartbeat,
        outbox_limit=settings.ws_outbox_limit,
        message_rate=settings.ws_rate,
    )
    yield


def build_executor(settings: Settings, engine_factory: str) -> Executor:
    """The local process pool (default) or the Dask executor (`OCRLIVE_EXECUTOR=dask`)."""
    if settings.executor == "dask":  # Settings checked that a scheduler is named
        from ocrlive.ocr.dask_executor import DaskExecutor  # imports distributed: only then

        config = settings.engine_config()
        return DaskExecutor(settings.dask_scheduler, config, task_timeout=settings.task_timeout)
    return OcrPool(
        workers=settings.workers, engine_config=settings.engine_config(),
        engine_factory=engine_factory, task_timeout=settings.task_timeout,
        max_tasks_per_worker=settings.max_tasks_per_worker,
        max_rss_mb=settings.max_worker_rss_mb,
    )  # fmt: skip


def _pool(engine_factory: str):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = build_executor(app[SETTINGS], engine_factory)
        await pool.start()
        app[POOL] = pool
        yield
        await pool.close()

    return ctx


async def _runner(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    runner = Runner(
        app[MANAGER], app[POOL], settings.pages_dir, queue_limit=settings.queue_limit,
        concurrency=settings.dask_documents if settings.executor == "dask" else settings.workers,
    )  # fmt: skip
    await runner.start()
    app[RUNNER] = runner
    yield
    await runner.close()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    retention = timedelta(days=settings.retention_days)
    loop = asyncio.create_task(
        retention_loop(app[STORE].log, settings.pages_dir, retention=retention)
    )
    yield
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


async def _close_sockets(app: web.Application) -> None:
    if WS in app:
        await app[WS].connections.close_all()
