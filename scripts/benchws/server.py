"""The server process: one of the three servers with the bench routes, on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

from aiohttp import web

from bench_common import pin_to, raise_nofile
from benchws.control import Control, Handler
from benchws.drivers import Driver, OcrliveDriver, PlainBroadcast, SocketIoRooms

FAKE_ENGINE = "ocrlive.ocr.fake:FakeEngine"
BACKLOG = 2048  # the same listen backlog for all three, so connect storms compare fairly
HEARTBEAT_S = 90.0


async def _import_token(db_path: Path, token: str) -> None:
    """An admin whose personal API token is the orchestrator's secret, made the way
    `ocrlive tokens create --secret` makes one (ocrlive has no shared token)."""
    from ocrlive.audit.log import AuditLog
    from ocrlive.identity import people
    from ocrlive.identity.service import Identity, IdentityConfig
    from ocrlive.store.database import Database

    db = Database.open(db_path)
    try:
        ident = Identity(db, AuditLog(db.writer), IdentityConfig())
        user = await people.add_user(ident, None, "bench", "admin")
        await people.create_token(ident, None, user, "bench", secret=token)
    finally:
        await db.close()


async def build_ocrlive(token: str, data_dir: Path) -> tuple[web.Application, Driver]:
    """The real application (create_app), with the fake OCR engine."""
    from ocrlive.app import create_app
    from ocrlive.settings import load_settings
    from ocrlive.store.db import migrate

    # progress_interval_ms=0: nothing is coalesced before the hub; connect_rate: every
    # benchmark client comes from 127.0.0.1; ws_heartbeat: the frozen-client phase runs
    # up to a minute and should measure the outbox, not the heartbeat (20 s by default,
    # which drops a frozen client after ~30 s).
    settings = load_settings(
        environ={}, data_dir=data_dir, workers=1, progress_interval_ms=0,
        connect_rate=10**7, ws_heartbeat=HEARTBEAT_S,
    )  # fmt: skip
    migrate(settings.db_path)
    await _import_token(settings.db_path, token)
    app = create_app(settings, engine_factory=FAKE_ENGINE)
    return app, OcrliveDriver(app)


async def build_plain(token: str, data_dir: Path) -> tuple[web.Application, Driver]:
    app, driver = web.Application(), PlainBroadcast()
    app.router.add_get("/ws", driver.handle)
    return app, driver


async def build_socketio(token: str, data_dir: Path) -> tuple[web.Application, Driver]:
    app, driver = web.Application(), SocketIoRooms()
    driver.sio.attach(app)
    return app, driver


Builder = Callable[[str, Path], Awaitable[tuple[web.Application, Driver]]]
BUILDERS: dict[str, Builder] = {
    "ocrlive": build_ocrlive,
    "plain": build_plain,
    "socketio": build_socketio,
}


def server_main(
    kind: str, token: str, data_dir: str, pipe: Pipe, cpu: int | None, profile_dir: str | None
) -> None:
    """The spawned process's entry: serve until SIGTERM, sending the port first."""
    raise_nofile()
    pin_to(cpu)
    logging.basicConfig(level=logging.WARNING)
    if profile_dir is None:
        asyncio.run(_serve(kind, token, Path(data_dir), pipe))
        return
    import cProfile  # --profile: where the server's time goes (runs ~2x slower)

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(_serve(kind, token, Path(data_dir), pipe))
    finally:
        profiler.disable()
        profiler.dump_stats(Path(profile_dir) / f"{kind}-{os.getpid()}.prof")


def _admin_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """ocrlive refuses undeclared routes: the bench's own are an admin's."""
    from ocrlive.http.access import Access, add
    from ocrlive.identity.permissions import Permission

    add(app, method, path, handler, Access(permission=Permission.SETTINGS_MANAGE))


async def _serve(kind: str, token: str, data_dir: Path, pipe: Pipe) -> None:
    app, driver = await BUILDERS[kind](token, data_dir)
    Control(driver).install(app, _admin_route if kind == "ocrlive" else None)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=BACKLOG, shutdown_timeout=2).start()
    pipe.send(runner.addresses[0][1])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(runner.cleanup(), 15)
