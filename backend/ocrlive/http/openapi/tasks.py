"""The task routes: upload, list, read, result, page images, cancel, retry."""

from __future__ import annotations

from typing import Any

from ocrlive import events as ev
from ocrlive.http.openapi.components import TASK_ID, errors, json_body, query, ref

_ONE_TASK = {
    "type": "object",
    "properties": {"task": ref("Task")},
    "required": ["task"],
    "additionalProperties": False,
}
_TASKS = {
    "type": "object",
    "properties": {"tasks": {"type": "array", "items": ref("Task")}},
    "required": ["tasks"],
    "additionalProperties": False,
}
_UPLOAD = {
    "type": "object",
    "required": ["file", "patient_id", "document_type"],
    "properties": {
        "file": {
            "type": "string",
            "contentMediaType": "application/octet-stream",
            "description": "PNG, JPEG, TIFF or PDF (checked by content)",
        },
        "patient_id": {"type": "string", "minLength": 1},
        "document_type": {"enum": [str(t) for t in ev.DocumentType]},
        "priority": {"enum": [str(p) for p in ev.Priority], "default": "normal"},
    },
}


def _task_action(operation_id: str, summary: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "tags": ["tasks"],
            "parameters": [TASK_ID],
            "responses": {
                "200": json_body(_ONE_TASK, "The task after the change"),
                **errors(
                    "not_found", "invalid_state", "queue_full", "storage_unavailable", write=True
                ),
            },
        }
    }


PATHS: dict[str, Any] = {
    "/api/tasks": {
        "post": {
            "operationId": "createTask",
            "summary": "Upload a document to read",
            "tags": ["tasks"],
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "A repeated key answers the task it created",
                }
            ],
            "requestBody": {
                "required": True,
                "content": {"multipart/form-data": {"schema": _UPLOAD}},
            },
            "responses": {
                "202": json_body(_ONE_TASK, "Stored and queued"),
                "200": json_body(_ONE_TASK, "The task this Idempotency-Key created before"),
                **errors(
                    "invalid_request",
                    "empty_file",
                    "file_too_large",
                    "field_too_large",
                    "request_timeout",
                    "unsupported_type",
                    "idempotency_conflict",
                    "queue_full",
                    "storage_unavailable",
                    "rate_limited",
                    write=True,
                ),
            },
        },
        "get": {
            "operationId": "listTasks",
            "summary": "Tasks, newest first",
            "tags": ["tasks"],
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["active", "finished", "all"], "default": "all"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 500},
                },
            ],
            "responses": {"200": json_body(_TASKS, "The tasks"), **errors("invalid_request")},
        },
    },
    "/api/tasks/{task_id}": {
        "get": {
            "operationId": "getTask",
            "summary": "One task",
            "tags": ["tasks"],
            "parameters": [TASK_ID],
            "responses": {"200": json_body(_ONE_TASK, "The task"), **errors("not_found")},
        }
    },
    "/api/tasks/{task_id}/result": {
        "get": {
            "operationId": "getResult",
            "summary": "The text, lines and boxes of a completed task",
            "tags": ["tasks"],
            "parameters": [TASK_ID],
            "responses": {
                "200": json_body(ref("Result"), "The result"),
                **errors("not_found", "not_ready"),
            },
        }
    },
    "/api/tasks/{task_id}/pages/{number}.png": {
        "get": {
            "operationId": "getPageImage",
            "summary": "A page as it was read",
            "tags": ["tasks"],
            "parameters": [
                TASK_ID,
                {
                    "name": "number",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                },
                query(
                    "run",
                    {"type": "integer", "minimum": 1},
                    "The run that read it, as a result's `image_url` names it; without: "
                    "the current result's image",
                ),
            ],
            "responses": {
                "200": {"description": "The page image", "content": {"image/png": {}}},
                **errors("not_found", "invalid_request"),
            },
        }
    },
    "/api/tasks/{task_id}/cancel": _task_action("cancelTask", "Cancel a queued or running task"),
    "/api/tasks/{task_id}/retry": _task_action("retryTask", "Queue a failed or cancelled task"),
}
