"""Every web.AppKey of the application, in one place."""

from __future__ import annotations

import time

from aiohttp import web

from ocrlive.http.auth import Authenticator
from ocrlive.ocr.pool import OcrPool
from ocrlive.settings import Settings
from ocrlive.store.db import Database
from ocrlive.tasks.manager import TaskManager
from ocrlive.tasks.runner import Runner
from ocrlive.ws.view import WsServices

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
AUTH = web.AppKey("auth", Authenticator)
POOL = web.AppKey("pool", OcrPool)
MANAGER = web.AppKey("manager", TaskManager)
RUNNER = web.AppKey("runner", Runner)
WS = web.AppKey("ws", WsServices)
STARTED_AT = web.AppKey("started_at", float)


def uptime(app: web.Application) -> float:
    return time.time() - app[STARTED_AT]
