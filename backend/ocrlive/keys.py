"""Every web.AppKey of the application, in one place.

The types are imported for the type checker only: http/ reads these keys, and a
runtime import here would make it load ws/ (or anything else) through this module.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ocrlive.audit.log import AuditLog
    from ocrlive.identity.permissions import Principal
    from ocrlive.identity.requests import RequestAuth
    from ocrlive.identity.service import Identity
    from ocrlive.metrics import Metrics
    from ocrlive.ocr.executor import Executor
    from ocrlive.records.base import Records
    from ocrlive.settings import Settings
    from ocrlive.store.base import Store
    from ocrlive.store.database import Database
    from ocrlive.store.health import StorageHealth
    from ocrlive.tasks.manager import TaskManager
    from ocrlive.tasks.runner import Runner
    from ocrlive.ws.services import WsServices

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
DB: web.AppKey[Database] = web.AppKey("db")
IDENTITY: web.AppKey[Identity] = web.AppKey("identity")
AUTH: web.AppKey[RequestAuth] = web.AppKey("auth")
AUDIT: web.AppKey[AuditLog] = web.AppKey("audit")
POOL: web.AppKey[Executor] = web.AppKey("pool")
MANAGER: web.AppKey[TaskManager] = web.AppKey("manager")
RUNNER: web.AppKey[Runner] = web.AppKey("runner")
WS: web.AppKey[WsServices] = web.AppKey("ws")
RECORDS: web.AppKey[Records] = web.AppKey("records")
STARTED_AT: web.AppKey[float] = web.AppKey("started_at")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
# Per request: who is asking.
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal")
STORAGE: web.AppKey[StorageHealth] = web.AppKey("storage")


def uptime(app: web.Application) -> float:
    return time.time() - app[STARTED_AT]
