"""Validate every response of an in-process ocrlive against /api/openapi.json.

`ResponseValidator.middleware` goes first in the app's middleware chain, so it sees
what the client sees, errors included. The conftest's `start_app` installs it for every
test that starts the app and fails the test on any response the description does not
allow, so the description cannot drift from the server."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from ocrlive.http.openapi import build_spec

_API: OpenAPI | None = None
STATIC = "/static/dist/assets/{filename}"  # aiohttp's static resource, as described


def api() -> OpenAPI:
    global _API
    if _API is None:
        _API = OpenAPI.from_dict(build_spec())
    return _API


class ResponseValidator:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.checked: Counter[str] = Counter()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.check(request, exc.status, exc.body, exc.content_type)
            raise
        if isinstance(response, web.Response) or response.status == 101:
            body = response.body if isinstance(response, web.Response) else b""
            content_type = "" if response.status == 101 else response.content_type
            self.check(request, response.status, body, content_type)
        else:  # a file, streamed later: its status and body are not known yet
            self.check_described(request)
        return response

    def check_described(self, request: web.Request) -> None:
        resource = request.match_info.route.resource
        path = resource.canonical if resource is not None else request.path
        path = STATIC if path == "/static" else path
        if request.method.lower() not in build_spec()["paths"].get(path, {}):
            self.errors.append(f"{request.method} {path} is not described")
        self.checked[f"{request.method} {path} 200"] += 1

    def check(self, request: web.Request, status: int, body: Any, content_type: str) -> None:
        if request.match_info.route.resource is None:
            return  # no route matched (a 404 or 405 for a made-up path): nothing to describe
        data = body if isinstance(body, bytes) else b""
        mock = MockRequest(f"http://{request.host}", request.method.lower(), request.path,
                           args=dict(request.query))  # fmt: skip
        answer = MockResponse(data, status_code=status, content_type=content_type or "")
        resource = request.match_info.route.resource
        key = f"{request.method} {resource.canonical if resource else request.path} {status}"
        try:
            api().validate_response(mock, answer)
        except Exception as exc:  # every kind of mismatch is reported the same way
            cause = getattr(exc, "__cause__", None) or exc
            found = [e.message for e in getattr(cause, "schema_errors", [])][:5]
            self.errors.append(f"{request.method} {request.path} -> {status}: {exc!r} "
                               f"{found or repr(cause)[:300]}\n  body: {data[:300]!r}")  # fmt: skip
        self.checked[key] += 1
