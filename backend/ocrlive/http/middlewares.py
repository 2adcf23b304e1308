"""The one place where errors become the JSON error shape (access: http/access.py)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestPayloadError

from ocrlive.errors import (
    ApiError,
    InvalidRequest,
    RequestTimeout,
    StorageUnavailable,
)
from ocrlive.keys import STORAGE
from ocrlive.store.health import is_storage_error

log = logging.getLogger(__name__)


def error_response(exc: ApiError) -> web.Response:
    return web.json_response(exc.to_json(), status=exc.status, headers=exc.headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return _api_error(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith("/api/"):
            raise
        code = "not_found" if exc.status == 404 else "invalid_request"
        return error_response(ApiError(exc.reason, code=code, status=exc.status))
    except ConnectionError:
        # The client went away (closed the tab, lost the network) mid-request: its
        # business, not a fault of ours. Nobody is left to read an answer.
        log.info("client %s disconnected during %s %s", request.remote, request.method,
                 request.path)  # fmt: skip
        return error_response(InvalidRequest("The client disconnected"))
    except (RequestPayloadError, HttpProcessingError):
        return error_response(InvalidRequest("The request body is malformed"))
    except Exception as exc:
        if is_storage_error(exc):
            return _api_error(request, StorageUnavailable(), cause=exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = {"error": {"code": "internal_error", "message": "Internal server error"}}
        return web.json_response(body, status=500)


def _api_error(
    request: web.Request, exc: ApiError, cause: BaseException | None = None
) -> web.Response:
    response = error_response(exc)
    if isinstance(exc, StorageUnavailable):
        where = f"{request.method} {request.path}"
        request.app[STORAGE].failed(where, cause or exc.__cause__ or exc)
    elif isinstance(exc, RequestTimeout):
        response.force_close()  # the rest of a stalled body is not worth waiting for
    return response
