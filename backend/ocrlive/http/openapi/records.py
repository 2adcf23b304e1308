"""Documents as records (http/records.py): search, the patient view, the review queue,
line edits, revisions, re-runs and exports."""

from __future__ import annotations

from typing import Any

from ocrlive import events as ev
from ocrlive.http.openapi.components import (
    READ_SETTINGS_SCHEMA,
    TASK_ID,
    errors,
    json_body,
    query,
    ref,
)

_INT, _NUM, _STR = {"type": "integer"}, {"type": "number"}, {"type": "string"}
_TASK_ONLY = {"type": "object", "properties": {"task": ref("Task")}, "required": ["task"]}


def _pagequery(default: int, most: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": most, "default": default},
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 0, "default": 0},
        },
    ]


def _listing(key: str, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    properties = {key: {"type": "array", "items": item}, "total": _INT, **extra}
    return {"type": "object", "properties": properties, "required": [key, "total"]}


_HIT = {
    "type": "object",
    "required": ["task", "page", "score", "snippet"],
    "properties": {
        "task": ref("Task"),
        "page": _INT,
        "score": _NUM,
        "snippet": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["text", "match"],
                "properties": {"text": _STR, "match": {"type": "boolean"}},
            },
        },
    },
}
_QUEUED = {
    "type": "object",
    "required": ["task", "pending", "min_score"],
    "properties": {"task": ref("Task"), "pending": _INT, "min_score": _NUM},
}
_PATIENT_DOC = {
    "type": "object",
    "required": ["task", "first_lines", "revision", "pending_review"],
    "properties": {
        "task": ref("Task"),
        "revision": _INT,
        "pending_review": _INT,
        "first_lines": {"type": "array", "items": _STR},
    },
}
_EDIT = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"enum": ["correct", "confirm"]},
        "text": _STR,
        "revision": {"type": "integer", "description": "the revision the edit was made on"},
    },
}
_HISTORY = {
    "type": "object",
    "required": ["task_id", "revision", "edits", "replaced"],
    "properties": {
        "task_id": _STR,
        "revision": {"type": ["integer", "null"]},
        "edits": {"type": "array", "items": {"type": "object"}},
        "replaced": {"type": "array", "items": {"type": "object"}},
    },
}
_FILTERS = [
    query("patient_id", _STR, "only this patient's documents"),
    query("document_type", {"enum": [str(t) for t in ev.DocumentType]}, ""),
    query("status", {"enum": [str(s) for s in ev.TaskStatus]}, ""),
    query("from", {"type": "string", "format": "date"}, "uploaded on or after"),
    query("to", {"type": "string", "format": "date"}, "uploaded on or before"),
]
_DOWNLOAD: dict[str, Any] = {"application/pdf": {}, "text/plain": {}, "application/json": {}}

PATHS: dict[str, Any] = {
    "/api/search": {
        "get": {
            "operationId": "search",
            "summary": "Full-text search of the documents' text",
            "tags": ["records"],
            "parameters": [
                query("q", _STR, 'words, "a phrase", prefix*'),
                *_FILTERS,
                *_pagequery(20, 100),
            ],
            "responses": {
                "200": json_body(
                    _listing(
                        "hits",
                        _HIT,
                        total_exact={"type": "boolean"},
                        order={"enum": ["rank", "recent"]},
                        limit=_INT,
                        offset=_INT,
                    ),
                    "Matching pages",
                ),
                **errors("invalid_request"),
            },
        }
    },
    "/api/review": {
        "get": {
            "operationId": "reviewQueue",
            "summary": "Documents with lines to review",
            "tags": ["records"],
            "parameters": [query("patient_id", _STR, ""), *_pagequery(50, 500)],
            "responses": {
                "200": json_body(
                    _listing("documents", _QUEUED, threshold=_NUM), "The queue, lowest score first"
                ),
                **errors("invalid_request"),
            },
        }
    },
    "/api/patients/{patient_id}/documents": {
        "get": {
            "operationId": "patientDocuments",
            "summary": "One patient's documents, newest first",
            "tags": ["records"],
            "parameters": [
                {"name": "patient_id", "in": "path", "required": True, "schema": _STR},
                *_pagequery(50, 500),
            ],
            "responses": {
                "200": json_body(
                    _listing("documents", _PATIENT_DOC, patient_id=_STR, limit=_INT, offset=_INT),
                    "The documents",
                ),
                **errors("invalid_request"),
            },
        }
    },
    "/api/tasks/{task_id}/pages/{page}/lines/{line}": {
        "post": {
            "operationId": "editLine",
            "summary": "Correct or confirm one line (a new revision)",
            "tags": ["records"],
            "parameters": [
                TASK_ID,
                {
                    "name": "page",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
                {
                    "name": "line",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _EDIT}}},
            "responses": {
                "200": json_body(
                    {
                        "type": "object",
                        "required": ["task", "revision", "line"],
                        "properties": {"task": ref("Task"), "revision": _INT, "line": ref("Line")},
                    },
                    "The edited line",
                ),
                **errors(
                    "invalid_request",
                    "not_found",
                    "not_ready",
                    "invalid_state",
                    "revision_conflict",
                    "storage_unavailable",
                    write=True,
                ),
            },
        }
    },
    "/api/tasks/{task_id}/revisions": {
        "get": {
            "operationId": "revisions",
            "summary": "The edits and the replaced runs of a document",
            "tags": ["records"],
            "parameters": [TASK_ID, query("page", _INT, ""), query("line", _INT, "")],
            "responses": {
                "200": json_body(_HISTORY, "Its history"),
                **errors("invalid_request", "not_found"),
            },
        }
    },
    "/api/tasks/{task_id}/revisions/{revision}": {
        "get": {
            "operationId": "archivedRevision",
            "summary": "A replaced run's result, as it was",
            "tags": ["records"],
            "parameters": [
                TASK_ID,
                {"name": "revision", "in": "path", "required": True, "schema": _INT},
            ],
            "responses": {"200": json_body(ref("Result"), "The result"), **errors("not_found")},
        }
    },
    "/api/tasks/{task_id}/rerun": {
        "post": {
            "operationId": "rerun",
            "summary": "Read a completed document again (a new revision)",
            "tags": ["records"],
            "parameters": [TASK_ID],
            "requestBody": {
                "required": False,
                "description": "Engine settings for this reading only; none: the server's",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"settings": READ_SETTINGS_SCHEMA},
                            "additionalProperties": False,
                        }
                    }
                },
            },
            "responses": {
                "200": json_body(_TASK_ONLY, "Queued again"),
                **errors(
                    "invalid_request",
                    "invalid_settings",
                    "not_found",
                    "invalid_state",
                    "queue_full",
                    "storage_unavailable",
                    write=True,
                ),
            },
        }
    },
    "/api/tasks/{task_id}/export.{format}": {
        "get": {
            "operationId": "exportOne",
            "summary": "A document as searchable PDF, text or JSON",
            "tags": ["records"],
            "parameters": [
                TASK_ID,
                {
                    "name": "format",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["pdf", "txt", "json"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "The file (Content-Disposition: attachment)",
                    "content": _DOWNLOAD,
                },
                **errors("not_found", "not_ready"),
            },
        }
    },
    "/api/exports": {
        "post": {
            "operationId": "exportMany",
            "summary": "Several documents in one ZIP",
            "tags": ["records"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["task_ids"],
                            "properties": {
                                "task_ids": {
                                    "type": "array",
                                    "items": _STR,
                                    "minItems": 1,
                                    "maxItems": 200,
                                },
                                "format": {"enum": ["pdf", "txt", "json"], "default": "pdf"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "A ZIP archive", "content": {"application/zip": {}}},
                **errors("invalid_request", "not_found", "not_ready", write=True),
            },
        }
    },
}
