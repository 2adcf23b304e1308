"""Permissions by name, roles as sets of them, and the Principal every request and
socket carries. Code checks a permission (`task.read`), never a role by name."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache


class Permission(StrEnum):
    TASK_UPLOAD = "task.upload"
    TASK_READ = "task.read"
    TASK_CANCEL = "task.cancel"
    TASK_RETRY = "task.retry"
    TASK_SEARCH = "task.search"
    TASK_EXPORT = "task.export"
    RESULT_CORRECT = "result.correct"
    STATUS_READ = "status.read"
    TOKENS_OWN = "tokens.own"
    PEOPLE_MANAGE = "people.manage"
    TOKENS_MANAGE = "tokens.manage"
    SETTINGS_MANAGE = "settings.manage"
    AUDIT_READ = "audit.read"


class Role(StrEnum):
    ADMIN = "admin"
    CLERK = "clerk"
    CLINICIAN = "clinician"
    AUDITOR = "auditor"


P = Permission
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # The administrator runs the service and stands in for anyone: every permission.
    Role.ADMIN: frozenset(Permission),
    Role.CLERK: frozenset(
        {P.TASK_UPLOAD, P.TASK_CANCEL, P.TASK_RETRY, P.TASK_READ, P.STATUS_READ, P.TOKENS_OWN}
    ),
    # Correcting recognised text is what the review feature is for: a clinician may.
    Role.CLINICIAN: frozenset(
        {P.TASK_READ, P.TASK_SEARCH, P.TASK_EXPORT, P.RESULT_CORRECT, P.STATUS_READ, P.TOKENS_OWN}
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ}),
}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {value[:40]!r} (one of {names})") from None


@cache
def held_permissions(held: Role, own: Role) -> frozenset[Permission]:
    """What a person of role `own` may do through a session or token of role `held`:
    one shared set per pair (a set per socket was 728 B of each idle socket)."""
    return ROLE_PERMISSIONS[held] & ROLE_PERMISSIONS[own]


def role_within(role: Role, owner: Role) -> bool:
    """A token may carry its owner's role or a lesser one: a subset of permissions."""
    return ROLE_PERMISSIONS[role] <= ROLE_PERMISSIONS[owner]


class Via(StrEnum):
    SESSION = "session"
    TOKEN = "token"
    PROXY = "proxy"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a person, through a session, an API token or a trusted proxy."""

    user_id: int
    username: str
    role: Role
    via: Via
    address: str
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    session: str | None = None  # the session id's hash
    token_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def describe(self) -> dict[str, object]:
        return {
            "id": self.user_id, "username": self.username, "role": self.role.value,
            "via": self.via.value, "permissions": sorted(p.value for p in self.permissions),
        }  # fmt: skip
