"""Typed errors with public codes; `http.middlewares` turns them into one JSON shape."""

from __future__ import annotations

import re

# An absolute path of two or more parts (not the path of a URL, which follows a host).
_PATH_RE = re.compile(r"(?<![\w:/.~-])/(?:[^\s/'\"]+/)+[^\s/'\",;)]*")


class ApiError(Exception):
    """An error a client can act on: a stable `code`, an HTTP `status`, a message."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = {}

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class InvalidSettings(InvalidRequest):
    """Engine settings of a re-run that are unknown or out of range."""

    code = "invalid_settings"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class SessionEnded(Unauthorized):
    """A session that existed but ended (sign-out, timeout, disabled, role change): not
    a guess, so it does not count toward the failed-authentication limit."""

    code = "session_expired"


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"


class InvalidLink(Unauthorized):
    code = "invalid_link"


class ForbiddenOrigin(ApiError):
    status, code = 403, "forbidden_origin"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class WeakPassword(ApiError):
    status, code = 400, "weak_password"


class AlreadyExists(ApiError):
    status, code = 409, "already_exists"


class NotFound(ApiError):
    status, code = 404, "not_found"


class InvalidState(ApiError):
    status, code = 409, "invalid_state"


class StaleRun(InvalidState):
    """A change from a run of the task that is no longer its current one (it was
    cancelled and retried, or taken over): dropped by the journal, never shown."""


class RevisionConflict(ApiError):
    """A line edit based on a revision that is no longer the current one."""

    status, code = 409, "revision_conflict"


class NotReady(ApiError):
    status, code = 409, "not_ready"


class FileTooLarge(ApiError):
    status, code = 413, "file_too_large"


class UnsupportedType(ApiError):
    status, code = 415, "unsupported_type"


class FieldTooLarge(ApiError):
    status, code = 413, "field_too_large"


class RequestTimeout(ApiError):
    status, code = 408, "request_timeout"


class IdempotencyConflict(ApiError):
    status, code = 409, "idempotency_conflict"


class StorageUnavailable(ApiError):
    """The disk or the database refused a write or a read (full, I/O error, damaged)."""

    status, code = 503, "storage_unavailable"

    def __init__(self, message: str = "", retry_after: int = 30) -> None:
        super().__init__(
            message
            or "Storage is unavailable on the server; try again later "
            "(the administrator sees the cause in /api/status and the log)"
        )
        self.headers["Retry-After"] = str(retry_after)


class EmptyFile(ApiError):
    status, code = 400, "empty_file"


class RateLimited(ApiError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.headers["Retry-After"] = str(retry_after)


class QueueFull(ApiError):
    status, code = 503, "queue_full"

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.headers["Retry-After"] = str(retry_after)


class InternalError(ApiError):
    """A bug: the client gets a generic message, the log the details."""

    status, code = 500, "internal_error"

    def __init__(self, message: str = "Internal server error") -> None:
        super().__init__(message)


class TaskNotFound(NotFound):
    def __init__(self, task_id: str) -> None:
        super().__init__(f"No task with id {task_id[:80]!r}")


def _codes(cls: type[ApiError]) -> list[str]:
    """Every code of `cls` and its subclasses, each once, in the order they appear."""
    found = [cls.code]
    for sub in cls.__subclasses__():
        found += [code for code in _codes(sub) if code not in found]
    return found


# The codes an HTTP answer can carry: read off the classes, so a new error class is
# documented (tests/unit/test_docs.py) without a second list to keep in step.
HTTP_ERROR_CODES = _codes(ApiError)


def scrub_paths(text: str) -> str:
    """A message for clients: server paths (data folder, models, code) replaced by
    their last part, so an error never maps the server's disk for a caller."""
    return _PATH_RE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
