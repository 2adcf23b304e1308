"""Every audited action by name (the audit log's `action` column)."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGOUT = "logout"
    SESSION_EXPIRED = "session.expired"
    ACCESS_DENIED = "access.denied"
    USER_ADD = "user.add"
    USER_ROLE = "user.role"
    USER_PASSWORD = "user.password"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_LINK = "user.link"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    TASK_UPLOAD = "task.upload"
    TASK_CANCEL = "task.cancel"
    TASK_RETRY = "task.retry"
    TASK_LIST = "task.list"
    TASK_READ = "task.read"
    RESULT_READ = "result.read"
    PAGE_READ = "page.read"
    TOPIC_SUBSCRIBE = "topic.subscribe"
    SEARCH = "search"
    PATIENT_READ = "patient.read"
    REVIEW_LIST = "review.list"
    RESULT_CORRECT = "result.correct"
    REVISION_READ = "revision.read"
    TASK_RERUN = "task.rerun"
    EXPORT = "export"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    AUDIT_PURGE = "audit.purge"
