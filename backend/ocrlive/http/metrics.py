"""`GET /metrics` (Prometheus text format) and the request-latency middleware.

Guarded by its own token (OCRLIVE_METRICS_TOKEN, `Authorization: Bearer`), not by a
person's session or API token: a Prometheus scraper is not a person, and the metrics
carry no patient data. With no token set it answers the loopback only, and not a
request that came through a reverse proxy (one with Forwarded / X-Forwarded-For): a
proxy on the same host would otherwise turn every outside caller into the loopback."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ocrlive.errors import Forbidden, Unauthorized
from ocrlive.keys import METRICS, SETTINGS, STORE

WS_PATH = "/api/ws"
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _loopback(request: web.Request) -> bool:
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        return request.remote is not None and ipaddress.ip_address(request.remote).is_loopback
    except ValueError:
        return False


def check_access(request: web.Request) -> None:
    token = request.app[SETTINGS].metrics_token
    if token:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("Send the metrics token: Authorization: Bearer <token>")
    elif not _loopback(request):
        raise Forbidden("/metrics answers the loopback only unless OCRLIVE_METRICS_TOKEN is set")


async def metrics(request: web.Request) -> web.Response:
    check_access(request)
    counts = await request.app[STORE].tasks.count_by_status()
    request.app[METRICS].set_task_counts(counts)
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def route_name(request: web.Request) -> str:
    """The route's pattern, never the raw path (task ids would explode the label set)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
def latency_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Outermost, so refused and failed requests count too. The WebSocket is left out:
    its handler lasts as long as the connection, and is handed on without a coroutine of
    ours around it (each one an open socket holds costs it ~270 B, tracemalloc)."""
    if route_name(request) == WS_PATH:
        return handler(request)
    return _timed(request, handler)


async def _timed(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    try:
        return await handler(request)
    finally:
        elapsed = time.perf_counter() - started
        request.app[METRICS].latency.labels(request.method, route_name(request)).observe(elapsed)
