"""Authentication, and the one place where errors become the JSON error shape."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ocrlive.errors import ApiError, Unauthorized
from ocrlive.keys import AUTH

log = logging.getLogger(__name__)

# Reachable without a token: the login redirect, the page shell (it shows how to log
# in), the bundle, the health probe. The WebSocket authenticates itself.
PUBLIC_PREFIXES = ("/static/", "/api/health", "/api/ws")
PUBLIC_PATHS = frozenset({"/", "/favicon.ico"})


def error_response(exc: ApiError) -> web.Response:
    return web.json_response(exc.to_json(), status=exc.status, headers=exc.headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = "not_found" if exc.status == 404 else "invalid_request"
        return error_response(ApiError(exc.reason, code=code, status=exc.status))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {"error": {"code": "internal_error", "message": "Internal server error"}}
        return web.json_response(body, status=500)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    path = request.path
    if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    if not request.app[AUTH].authenticated(request):
        raise Unauthorized("Log in with the link printed by `ocrlive serve`, or send a token")
    return await handler(request)
