"""Message validation: each client message type is registered with its schema."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocrlive.ws.connection import Connection
    from ocrlive.ws.view import WsServices

MAX_FRAME = 64 * 1024
TOPIC_RE = re.compile(r"^(tasks|task:[A-Za-z0-9_-]{1,64})$")

WS_ERROR_CODES = [
    "invalid_json",
    "invalid_message",
    "unknown_type",
    "id_not_increasing",
    "invalid_topic",
    "not_found",
    "not_subscribed",
    "rate_limited",
    "already_authenticated",
]


class WsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Handler = Callable[["WsServices", "Connection", dict[str, Any]], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True)
class Field:
    types: tuple[type, ...]
    required: bool = True
    nullable: bool = False


@dataclass(frozen=True)
class Command:
    type: str
    schema: dict[str, Field]
    handler: Handler


COMMANDS: dict[str, Command] = {}


def command(type_: str, **schema: Field) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS[type_] = Command(type_, schema, handler)
        return handler

    return register


def parse(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WsError("invalid_json", f"Not JSON: {exc.msg}") from None
    except ValueError:
        raise WsError("invalid_json", "Not valid JSON text") from None
    if not isinstance(message, dict):
        raise WsError("invalid_json", "A message must be a JSON object")
    return message


def check_id(message: dict[str, Any], last_id: int) -> int:
    msg_id = message.get("id")
    if type(msg_id) is not int:
        raise WsError("invalid_message", "id must be an integer")
    if msg_id <= last_id:
        raise WsError("id_not_increasing", f"id must be greater than {last_id}")
    return msg_id


def validate(message: dict[str, Any]) -> Command:
    kind = message.get("type")
    if not isinstance(kind, str):
        raise WsError("invalid_message", "type must be a string")
    cmd = COMMANDS.get(kind)
    if cmd is None:
        raise WsError("unknown_type", f"Unknown message type {kind[:40]!r}")
    for name, spec in cmd.schema.items():
        _check_field(message, name, spec)
    return cmd


def _check_field(message: dict[str, Any], name: str, spec: Field) -> None:
    if name not in message:
        if spec.required:
            raise WsError("invalid_message", f"{name} is required")
        return
    value = message[name]
    if value is None and spec.nullable:
        return
    # bool is an int in Python; a seq of `true` is a client bug, not a position.
    if isinstance(value, bool) and bool not in spec.types:
        raise WsError("invalid_message", f"{name} has the wrong type")
    if not isinstance(value, spec.types):
        raise WsError("invalid_message", f"{name} has the wrong type")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise WsError("invalid_message", f"{name} must not be negative")


def result_frame(msg_id: int | None, payload: dict[str, Any]) -> str:
    return json.dumps({"id": msg_id, "type": "result", "ok": True, **payload})


def error_frame(msg_id: Any, code: str, message: str) -> str:
    safe_id = msg_id if type(msg_id) is int else None
    error = {"code": code, "message": message}
    return json.dumps({"id": safe_id, "type": "result", "ok": False, "error": error})
