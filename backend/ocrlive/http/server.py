"""The runner for `ocrlive serve`: a request so malformed that aiohttp's parser refuses
it before any handler runs (a bad chunk size, a header line too long, bytes that are
not HTTP) is answered in ocrlive's JSON error shape and logged at info, one line, no
traceback. aiohttp logs these as errors with a traceback by default, and a client can
fill the log with them; they are the client's fault, not the server's. The same goes
for an `Expect` header other than 100-continue, which aiohttp answers before any
middleware.

This touches aiohttp below its public API (RequestHandler.handle_error and the
Server's per-connection factory); tests/integration/test_faults.py fails if an
aiohttp upgrade changes either.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

AppHandler = Callable[[Any], Awaitable[web.StreamResponse]]


class _Handler(RequestHandler):
    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = (message or str(exc or "")).splitlines()[0][:120] if (message or exc) else ""
        self.logger.info("malformed HTTP request from %s: %r", request.remote, reason)
        response = _json_error(status, f"Malformed HTTP request: {reason}")
        response.force_close()
        return response


def _json_error(status: int, message: str) -> web.Response:
    error = {"code": "invalid_request", "message": message}
    # ensure_ascii: bytes that were not UTF-8 (surrogates) must not break the answer.
    return web.json_response({"error": error}, status=status, dumps=json.dumps)


def _expect_guard(handler: AppHandler) -> AppHandler:
    """aiohttp answers an unknown `Expect` before any middleware runs, as text (or a 500
    when it holds bytes that are not UTF-8); only 100-continue means anything to us."""

    async def guarded(request: Any) -> web.StreamResponse:
        expect = request.headers.get("Expect")
        if expect is not None and expect.strip().lower() != "100-continue":
            return _json_error(417, "Only `Expect: 100-continue` is understood")
        return await handler(request)

    return guarded


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _Handler(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _Server  # the same server; only its connections' class differs
        server.request_handler = _expect_guard(server.request_handler)
        return server
