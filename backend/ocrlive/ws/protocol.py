"""The wire vocabulary of GET /api/ws: close codes, error codes, message validation
against each command's schema (the commands themselves: ws/commands.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

from ocrlive.identity.permissions import Permission

if TYPE_CHECKING:
    from ocrlive.ws.connection import Connection
    from ocrlive.ws.services import WsServices

MAX_FRAME = 64 * 1024
TOPIC_RE = re.compile(r"^(tasks|task:[A-Za-z0-9_-]{1,64})$")


class CloseCode(IntEnum):
    """docs/protocol.md, close codes; the frontend's copy is generated from this."""

    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    UNAUTHORIZED = 4001
    AUTH_TIMEOUT = 4002
    POLICY = 4003
    RATE_LIMITED = 4008
    TOO_SLOW = 4009


class WsErrorCode(StrEnum):
    """`result.error.code` on the WebSocket."""

    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    ID_NOT_INCREASING = "id_not_increasing"
    INVALID_TOPIC = "invalid_topic"
    NOT_FOUND = "not_found"
    NOT_SUBSCRIBED = "not_subscribed"
    RATE_LIMITED = "rate_limited"
    ALREADY_AUTHENTICATED = "already_authenticated"
    FORBIDDEN = "forbidden"
    STORAGE_UNAVAILABLE = "storage_unavailable"
    INTERNAL_ERROR = "internal_error"


class WsError(Exception):
    """A message refused: answered with a `result` carrying the code; the socket stays."""

    def __init__(self, code: WsErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


Handler = Callable[["WsServices", "Connection", dict[str, Any]], Awaitable[dict[str, Any] | None]]
Commands = Mapping[str, "Command"]


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
    permission: Permission | None = None  # None: any signed-in person


def parse(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WsError(WsErrorCode.INVALID_JSON, f"Not JSON: {exc.msg}") from None
    except ValueError:
        raise WsError(WsErrorCode.INVALID_JSON, "Not valid JSON text") from None
    except RecursionError:  # [[[[...]]]]: 64 KiB of brackets nest deeper than the stack
        raise WsError(WsErrorCode.INVALID_JSON, "JSON nested too deeply") from None
    if not isinstance(message, dict):
        raise WsError(WsErrorCode.INVALID_JSON, "A message must be a JSON object")
    return message


def check_id(message: dict[str, Any], last_id: int) -> int:
    msg_id = message.get("id")
    if type(msg_id) is not int:
        raise WsError(WsErrorCode.INVALID_MESSAGE, "id must be an integer")
    if msg_id <= last_id:
        raise WsError(WsErrorCode.ID_NOT_INCREASING, f"id must be greater than {last_id}")
    return msg_id


def validate(message: dict[str, Any], commands: Commands) -> Command:
    kind = message.get("type")
    if not isinstance(kind, str):
        raise WsError(WsErrorCode.INVALID_MESSAGE, "type must be a string")
    cmd = commands.get(kind)
    if cmd is None:
        raise WsError(WsErrorCode.UNKNOWN_TYPE, f"Unknown message type {kind[:40]!r}")
    for name, spec in cmd.schema.items():
        _check_field(message, name, spec)
    return cmd


def _check_field(message: dict[str, Any], name: str, spec: Field) -> None:
    if name not in message:
        if spec.required:
            raise WsError(WsErrorCode.INVALID_MESSAGE, f"{name} is required")
        return
    value = message[name]
    if value is None and spec.nullable:
        return
    # bool is an int in Python; a seq of `true` is a client bug, not a position.
    if isinstance(value, bool) and bool not in spec.types:
        raise WsError(WsErrorCode.INVALID_MESSAGE, f"{name} has the wrong type")
    if not isinstance(value, spec.types):
        raise WsError(WsErrorCode.INVALID_MESSAGE, f"{name} has the wrong type")
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        raise WsError(WsErrorCode.INVALID_MESSAGE, f"{name} must not be negative")


def result_frame(msg_id: int | None, payload: dict[str, Any], snapshot: str | None = None) -> str:
    """`snapshot`, JSON text already (tasks serialize themselves once), goes in as is."""
    text = json.dumps({"id": msg_id, "type": "result", "ok": True, **payload})
    return text if snapshot is None else f'{text[:-1]},"snapshot":{snapshot}}}'


def error_frame(msg_id: Any, code: WsErrorCode, message: str) -> str:
    safe_id = msg_id if type(msg_id) is int else None
    error = {"code": str(code), "message": message}
    return json.dumps({"id": safe_id, "type": "result", "ok": False, "error": error})
