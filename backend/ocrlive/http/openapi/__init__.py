"""The OpenAPI 3.1 description of the HTTP API, served at `/api/openapi.json`.

One module per area holds the `PATHS` of its routes, next to nothing else; this file
merges them. A new route is described by adding its path to its area's module (or a
new module listed in AREAS); tests/integration/test_openapi.py fails while a
registered route is missing, and every response the test suite's in-process servers
send is validated against this description (tests/helpers/openapi_check.py).
See docs/openapi.md.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aiohttp import web

from ocrlive import __version__
from ocrlive.http.openapi import components, people, records, system, tasks

AREAS = (system, people, tasks, records)


@cache
def build_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for area in AREAS:
        for path, operations in area.PATHS.items():
            if path in paths and set(paths[path]) & set(operations):
                raise ValueError(f"{path} is described twice")
            paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ocrlive",
            "version": __version__,
            "summary": "OCR of patient documents with live progress",
            "description": "The live events are on the WebSocket `GET /api/ws`; its "
            "messages are described in docs/protocol.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": dict(sorted(paths.items())),
        "components": components.COMPONENTS,
    }


@cache
def _spec_bytes() -> bytes:
    return json.dumps(build_spec(), indent=1).encode()


async def openapi_json(_request: web.Request) -> web.Response:
    return web.Response(body=_spec_bytes(), content_type="application/json")
