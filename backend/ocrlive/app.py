"""create_app(settings): the composition root. It builds every service, wires them
(the hub is the task manager's Publisher; the store's log feeds recovery and
retention), adds the routes, and runs every resource as a cleanup_ctx, started in
order store (+ records, identity, audit) -> tasks -> pool -> runner -> retention and stopped in
reverse."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ocrlive.audit.log import AuditLog
from ocrlive.audit.log import retention_loop as audit_retention_loop
from ocrlive.http.access import PUBLIC, access_middleware
from ocrlive.http.access import add as add_route
from ocrlive.http.headers import security_headers
from ocrlive.http.metrics import latency_middleware
from ocrlive.http.metrics import metrics as metrics_route
from ocrlive.http.middlewares import errors_middleware
from ocrlive.http.oidc import OIDC
from ocrlive.http.routes import setup_routes
from ocrlive.identity.addresses import parse_networks
from ocrlive.identity.oidc import OidcClient, OidcConfig, parse_role_map
from ocrlive.identity.requests import RequestAuth
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.keys import (
    AUDIT,
    AUTH,
    DB,
    IDENTITY,
    MANAGER,
    METRICS,
    POOL,
    RECORDS,
    RUNNER,
    SETTINGS,
    STARTED_AT,
    STORAGE,
    STORE,
    WS,
)  # fmt: skip
from ocrlive.metrics import LiveCollector, LiveValues, MeteredPublisher, Metrics
from ocrlive.ocr.executor import Executor
from ocrlive.ocr.pool import OcrPool
from ocrlive.ratelimit import SlidingWindow
from ocrlive.records import open_records
from ocrlive.records.warmup import reading_ahead
from ocrlive.settings import Settings
from ocrlive.store import open_store
from ocrlive.store.database import Database
from ocrlive.store.db import is_url
from ocrlive.store.health import StorageHealth
from ocrlive.store.nodes import NodeTable
from ocrlive.tasks.cluster import Cluster, new_node
from ocrlive.tasks.manager import TaskManager
from ocrlive.tasks.retention import retention_loop
from ocrlive.tasks.runner import Runner
from ocrlive.ws import view
from ocrlive.ws.connection import ConnectionManager, closed_by_server
from ocrlive.ws.guard import SocketGuard
from ocrlive.ws.hub import Hub
from ocrlive.ws.recovery import RecoveryService
from ocrlive.ws.services import WsServices
from ocrlive.ws.transport import check_aiohttp

TEMPLATES = Path(__file__).resolve().parent / "templates"


def create_app(
    settings: Settings, *, engine_factory: str = "ocrlive.ocr.engine:Engine"
) -> web.Application:
    """The database must already be migrated (ocrlive.store.db.migrate)."""
    check_aiohttp()  # the WebSocket fan-out's raw writes: fail here, not mid-broadcast
    app = web.Application(middlewares=[latency_middleware, errors_middleware, access_middleware])
    app.on_response_prepare.append(security_headers)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[STARTED_AT] = time.time()
    app[STORAGE] = StorageHealth()
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    setup_routes(app)
    # ws/view.py authenticates itself, with the services built in _tasks below.
    add_route(app, "GET", "/api/ws", view.handle, PUBLIC)
    add_route(app, "GET", "/metrics", metrics_route, PUBLIC)  # its own token or the loopback
    app.cleanup_ctx.append(_store)
    app.cleanup_ctx.append(_read_ahead)
    app.cleanup_ctx.append(_tasks)
    app.cleanup_ctx.append(_pool(engine_factory))
    app.cleanup_ctx.append(_runner)
    app.cleanup_ctx.append(_retention)
    app.cleanup_ctx.append(_metrics)
    app.on_shutdown.append(_close_sockets)
    return app


async def _store(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    for folder in (settings.files_dir, settings.pages_dir):
        folder.mkdir(parents=True, exist_ok=True)
    app[STORE] = open_store(settings.database)
    app[RECORDS] = open_records(settings.database, app[STORE].log.index_queued)
    app[DB] = app[STORE].db
    app[AUDIT] = AuditLog(app[DB].writer)
    app[IDENTITY] = Identity(app[DB], app[AUDIT], identity_config(settings))
    app[AUTH] = RequestAuth(
        app[IDENTITY], trusted=parse_networks(settings.trusted_proxies),
        proxy_header=settings.proxy_user_header, proxy_role=settings.proxy_default_role,
    )  # fmt: skip
    if settings.oidc_issuer:
        app[OIDC] = OidcClient(oidc_config(settings))
    retention = asyncio.create_task(audit_retention_loop(app[AUDIT], settings.audit_retention_days))
    yield
    retention.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await retention
    await app[RECORDS].close()
    await app[STORE].close()


async def _read_ahead(app: web.Application) -> AsyncIterator[None]:
    database = app[SETTINGS].database
    if is_url(database):  # PostgreSQL: its own buffer cache
        yield
        return
    async with reading_ahead(Path(database)):
        yield


def oidc_config(settings: Settings) -> OidcConfig:
    return OidcConfig(
        issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret, role_claim=settings.oidc_role_claim,
        role_map=parse_role_map(settings.oidc_role_map),
    )  # fmt: skip


def identity_config(settings: Settings) -> IdentityConfig:
    return IdentityConfig(
        idle_timeout=settings.session_idle_minutes * 60, max_age=settings.session_max_hours * 3600
    )


async def _tasks(app: web.Application) -> AsyncIterator[None]:
    settings, store, hub = app[SETTINGS], app[STORE], Hub()
    interval = settings.progress_interval_ms / 1000
    manager = TaskManager(
        store,
        MeteredPublisher(hub, app[METRICS]),
        progress_interval=interval,
        snapshot_finished=settings.snapshot_finished,
    )
    await manager.start()
    app[MANAGER] = manager
    connections = ConnectionManager()
    app[WS] = WsServices(
        hub=hub,
        recovery=RecoveryService(store.log, store.tasks, manager.live),
        connections=connections,
        auth=app[AUTH],
        audit=app[AUDIT],
        connect_limit=SlidingWindow(settings.connect_rate),
        heartbeat=settings.ws_heartbeat,
        outbox_limit=settings.ws_outbox_limit,
        message_rate=settings.ws_rate,
    )
    # Sessions are swept a few times per idle timeout, at most every 5 s.
    guard = SocketGuard(
        app[IDENTITY], app[WS].connections, min(5.0, settings.session_idle_minutes * 15)
    )
    guard.start()
    heartbeat = asyncio.create_task(connections.heartbeat(settings.ws_heartbeat))
    yield
    heartbeat.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await heartbeat
    await guard.stop()


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
        max_rss_mb=settings.max_worker_rss_mb, liveness=settings.worker_liveness_s,
    )  # fmt: skip


def _pool(engine_factory: str):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        pool = build_executor(app[SETTINGS], engine_factory)
        await pool.start()
        app[POOL] = pool
        yield
        await pool.close()

    return ctx


def build_cluster(settings: Settings, db: Database) -> Cluster:
    """This node among the others on its database (alone on a SQLite file)."""
    name = settings.node_name or f"{socket.gethostname()}:{settings.port}"
    node = new_node(name, f"{settings.host}:{settings.port}")
    single = not is_url(settings.database)  # one process serves a SQLite file
    return Cluster(NodeTable(db.writer), node, lease_s=settings.node_lease_s, single=single)


async def _runner(app: web.Application) -> AsyncIterator[None]:
    settings, pool = app[SETTINGS], app[POOL]
    cluster = build_cluster(settings, app[DB])
    runner = Runner(
        app[MANAGER], pool, settings.pages_dir, queue_limit=settings.queue_limit,
        concurrency=settings.dask_documents if settings.executor == "dask" else settings.workers,
        health=app[STORAGE], cluster=cluster,
    )  # fmt: skip
    pool.on_reconnect = cluster.wake  # a restarted scheduler: the leader re-submits
    await runner.start()
    app[RUNNER] = runner
    yield
    await runner.close()
    await cluster.stop()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    retention = timedelta(days=settings.retention_days)
    log, pages, live = app[STORE].log, settings.pages_dir, app[MANAGER].live
    # Supervised with the runner's loops (and stopped with them).
    app[RUNNER].supervisor.start(
        "retention", lambda: retention_loop(log, pages, retention=retention, live=live)
    )
    yield


async def _metrics(app: web.Application) -> AsyncIterator[None]:
    """Events are counted as they are published; the rest is read at scrape time."""
    settings = app[SETTINGS]

    def live() -> LiveValues:
        pool = app[POOL]
        return LiveValues(
            queue_depth=len(app[RUNNER].queue), connections=len(app[WS].connections),
            workers=pool.size, busy=pool.busy, executor_queue=pool.queue_depth,
            restarts=pool.restart_causes,
            closes=closed_by_server, executor=settings.executor,
        )  # fmt: skip

    collector = LiveCollector(app[METRICS], live)
    app[METRICS].registry.register(collector)
    yield
    app[METRICS].registry.unregister(collector)


async def _close_sockets(app: web.Application) -> None:
    if WS in app:
        await app[WS].connections.close_all()
