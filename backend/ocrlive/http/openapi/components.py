"""Schemas and error answers shared by the areas' path descriptions."""

from __future__ import annotations

from typing import Any

from ocrlive import events as ev
from ocrlive.errors import ApiError
from ocrlive.identity.requests import COOKIE
from ocrlive.ocr.types import READ_SETTINGS


def _statuses(cls: type[ApiError]) -> dict[str, int]:
    """The HTTP status of every error code, read off the error classes (errors.py)."""
    found = {cls.code: cls.status}
    for sub in cls.__subclasses__():
        found = _statuses(sub) | found
    return found


ERROR_STATUS = _statuses(ApiError)

REASONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    408: "The request body was too slow",
    409: "Conflict with the current state",
    413: "Too large",
    415: "Unsupported type",
    429: "Too many requests",
    500: "Server error",
    503: "Unavailable",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """An optional query parameter."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# Any route: a storage fault anywhere answers 503 (http/middlewares.py).
EVERY_ROUTE_ERRORS = ("internal_error", "storage_unavailable")
# Too many failed authentications from one address answer 429 before any route runs.
SIGNED_IN_ERRORS = ("unauthorized", "session_expired", "forbidden", "rate_limited")
WRITE_ERRORS = ("forbidden_origin",)  # a browser session's write from another origin
REDIRECT = {
    "description": "Redirected (to the dashboard, or to the identity provider)",
    "headers": {"Location": {"schema": {"type": "string"}}},
}


def errors(*codes: str, public: bool = False, write: bool = False) -> dict[str, Any]:
    """Error answers by status, each naming its codes. Every route can fail with
    internal_error and storage_unavailable; one that needs a sign-in with unauthorized,
    session_expired, forbidden (a permission it lacks) and rate_limited (failed
    authentications); a write also with forbidden_origin."""
    every = [*codes, *EVERY_ROUTE_ERRORS]
    every += [] if public else list(SIGNED_IN_ERRORS)
    every += list(WRITE_ERRORS) if write else []
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(every):
        by_status.setdefault(ERROR_STATUS[code], []).append(code)
    answers = {}
    for status, found in sorted(by_status.items()):
        schema = {
            "allOf": [
                ref("Error"),
                {"properties": {"error": {"properties": {"code": {"enum": sorted(found)}}}}},
            ]
        }
        answers[str(status)] = json_body(schema, f"{REASONS[status]}: {', '.join(sorted(found))}")
    return answers


def object_schema(properties: dict[str, Any], *, closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


_STR, _INT, _NUM = {"type": "string"}, {"type": "integer"}, {"type": "number"}
_TIME = {"type": "string", "format": "date-time"}

TASK = object_schema(
    {
        "id": _STR,
        "patient_id": _STR,
        "document_type": {"enum": [str(t) for t in ev.DocumentType]},
        "filename": _STR,
        "content_type": _STR,
        "size": _INT,
        "priority": {"enum": [str(p) for p in ev.Priority]},
        "status": {"enum": [str(s) for s in ev.TaskStatus]},
        "progress": {"type": "number", "minimum": 0, "maximum": 100},
        "stage": {"enum": [str(s) for s in ev.Stage]},
        "message": _STR,
        "pages_done": _INT,
        "pages_total": _INT,
        "attempts": _INT,
        "created_at": _TIME,
        "updated_at": _TIME,
        "error": {"oneOf": [{"type": "null"}, object_schema({"code": _STR, "message": _STR})]},
        "version": _INT,
    }
)

_OPT_STR = {"type": ["string", "null"]}
LINE = object_schema(
    {
        "text": _STR,
        "score": _NUM,
        "box": {
            "type": "array",
            "minItems": 4,
            "maxItems": 4,
            "items": {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2},
        },
        "doubtful": {"type": "boolean", "description": "score below the review threshold"},
        "reviewed": {"enum": [None, "confirmed", "corrected"]},
        "revision": _INT,
        "ocr_text": _STR,
        "reviewed_by": _OPT_STR,
        "reviewed_at": _OPT_STR,
    }
)
PAGE = object_schema(
    {
        "number": _INT,
        "width": _INT,
        "height": _INT,
        "rotation": {"type": "integer", "description": "degrees turned clockwise to read it"},
        "text": _STR,
        "image_url": _STR,
        "lines": {"type": "array", "items": ref("Line")},
    }
)


def _setting(kind: type, allowed: tuple[Any, ...]) -> dict[str, Any]:
    if kind is str:
        return {"enum": list(allowed)}
    if kind is bool:
        return {"type": "boolean"}
    number = "integer" if kind is int else "number"
    return {"type": number, "minimum": allowed[0], "maximum": allowed[1]}


# A re-run's engine settings (docs/protocol.md), any of them.
READ_SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        name: _setting(kind, allowed) for name, (_, kind, allowed) in READ_SETTINGS.items()
    },
    "additionalProperties": False,
}
RESULT = object_schema(
    {
        "task_id": _STR,
        "run": {
            "type": "integer",
            "description": "The run that read it (the seq of its `task.started` event); "
            "absent from results stored before page images were kept per run",
        },
        "text": _STR,
        "score": _NUM,
        "engine": {
            "type": "object",
            "description": "The engine and model versions that read it; `settings`: what a "
            "re-run changed of the server's engine settings ({}: none)",
            "properties": {"settings": READ_SETTINGS_SCHEMA},
            "additionalProperties": {"type": ["string", "number"]},
        },
        "pages": {"type": "array", "items": ref("Page")},
        "revision": {"type": "integer", "description": "1: as read; each correction adds one"},
        "review_threshold": _NUM,
        "pending_review": {"type": "integer", "description": "doubtful lines not reviewed"},
    }
)
RESULT["required"].remove("run")  # not in a result stored before it existed
ERROR = object_schema({"error": object_schema({"code": _STR, "message": _STR})})
NODE = object_schema(
    {
        "id": _STR, "name": _STR, "address": _STR, "started_at": _STR, "seen_s_ago": _NUM,
        "state": {"enum": ["up", "silent"]}, "leader": {"type": "boolean"},
        "self": {"type": "boolean"},
    }
)  # fmt: skip
STATUS = object_schema(
    {
        "version": _STR,
        "uptime_s": _NUM,
        "nodes": {"type": "array", "items": NODE, "description": "live server nodes"},
        "workers": {"type": "array", "items": {"type": "object"}},
        "queue_depth": _INT,
        "running": _INT,
        "queue": object_schema({"depth": _INT, "limit": _INT, "peak": _INT}),
        "storage": {"type": "object", "required": ["ok"]},
        "loops": {"type": "array", "items": {"type": "object", "required": ["name", "restarts"]}},
        "connections": object_schema(
            {
                "count": _INT,
                "list": {"type": "array", "items": {"type": "object"}},
                "unauthenticated": {"type": "array", "items": {"type": "object"}},
            }
        ),
        "events_published": _INT,
        "epoch": _STR,
        "versions": {"type": "object", "additionalProperties": _STR},
    },
    closed=False,
)

TASK_ID = {
    "name": "task_id",
    "in": "path",
    "required": True,
    "schema": _STR,
    "description": "The task's id (32 hex digits)",
}

COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Task": TASK,
        "Result": RESULT,
        "Page": PAGE,
        "Line": LINE,
        "Error": ERROR,
        "Status": STATUS,
    },
    "securitySchemes": {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`ocrlive tokens create`, or the API tokens page)",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": COOKIE,
            "description": "Set by signing in (password, single-use link or OIDC)",
        },
        "metrics": {
            "type": "http",
            "scheme": "bearer",
            "description": "OCRLIVE_METRICS_TOKEN; without it, loopback only",
        },
    },
}
