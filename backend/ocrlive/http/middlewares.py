"""The one place where errors become the JSON error shape (access: http/access.py)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ocrlive.errors import ApiError

log = logging.getLogger(__name__)


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
