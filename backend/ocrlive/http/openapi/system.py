"""The page shell, login, health, status, the WebSocket handshake, metrics, this
description and the dashboard's files."""

from __future__ import annotations

from typing import Any

from ocrlive.http.openapi.components import errors, json_body, ref

_HTML = {"text/html": {"schema": {"type": "string"}}}
_PUBLIC: list[dict[str, list[str]]] = [{}]  # no credentials needed

PATHS: dict[str, Any] = {
    "/": {
        "get": {
            "operationId": "dashboard",
            "summary": "The page shell that loads the dashboard (it signs in by itself)",
            "security": _PUBLIC,
            "tags": ["system"],
            "responses": {"200": {"description": "The page shell", "content": _HTML}},
        }
    },
    "/api/health": {
        "get": {
            "operationId": "health",
            "summary": "Liveness probe",
            "security": _PUBLIC,
            "tags": ["system"],
            "responses": {
                "200": json_body(
                    {"type": "object", "properties": {"ok": {"const": True}}, "required": ["ok"]},
                    "Serving",
                ),
                **errors(public=True),
            },
        }
    },
    "/api/status": {
        "get": {
            "operationId": "status",
            "summary": "Server nodes, workers, queue, connections, uptime, versions",
            "tags": ["system"],
            "responses": {"200": json_body(ref("Status"), "The server's state"), **errors()},
        }
    },
    "/api/ws": {
        "get": {
            "operationId": "websocket",
            "tags": ["live"],
            "summary": "The WebSocket of live task events (messages: docs/protocol.md)",
            "security": _PUBLIC,
            "description": "Authenticated by cookie (with a matching Origin), by "
            "`Authorization: Bearer`, or by a first `auth` message.",
            "responses": {
                "101": {"description": "Switched to the WebSocket protocol"},
                **errors("invalid_request", "forbidden_origin", "rate_limited", public=True),
            },
        }
    },
    "/metrics": {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics (text format)",
            "tags": ["system"],
            "security": [{"metrics": []}, {}],
            "responses": {
                "200": {
                    "description": "Prometheus text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                **errors("unauthorized", "forbidden", public=True),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This description",
            "security": _PUBLIC,
            "tags": ["system"],
            "responses": {"200": json_body({"type": "object"}, "OpenAPI 3.1")},
        }
    },
    "/static/dist/assets/{filename}": {
        "get": {
            "operationId": "static",
            "summary": "The compiled dashboard's files",
            "security": _PUBLIC,
            "tags": ["system"],
            "parameters": [
                {"name": "filename", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {"description": "The file", "content": {"*/*": {}}},
                "404": {"description": "No such file", "content": {"*/*": {}}},
            },
        }
    },
}
