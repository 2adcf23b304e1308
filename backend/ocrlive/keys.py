"""Every web.AppKey of the application, in one place.

The types are imported for the type checker only: http/ reads these keys, and a
runtime import here would make it load ws/ (or anything else) through this module.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ocrlive.http.auth import Authenticator
    from ocrlive.ocr.executor import Executor
    from ocrlive.records.base import Records
    from ocrlive.settings import Settings
    from ocrlive.store.base import Store
    from ocrlive.tasks.manager import TaskManager
    from ocrlive.tasks.runner import Runner
    from ocrlive.ws.services import WsServices

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
AUTH: web.AppKey[Authenticator] = web.AppKey("auth")
POOL: web.AppKey[Executor] = web.AppKey("pool")
MANAGER: web.AppKey[TaskManager] = web.AppKey("manager")
RUNNER: web.AppKey[Runner] = web.AppKey("runner")
WS: web.AppKey[WsServices] = web.AppKey("ws")
RECORDS: web.AppKey[Records] = web.AppKey("records")
STARTED_AT: web.AppKey[float] = web.AppKey("started_at")


def uptime(app: web.Application) -> float:
    return time.time() - app[STARTED_AT]
