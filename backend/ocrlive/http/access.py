"""Who may call which route, and which calls are audited: one table entry per route.

Every route is declared with the permission it needs (by name) and, when its answer
carries a patient's data, the audit action that every successful call records. The
middleware enforces both, so a handler cannot forget either; a route without a
declaration is refused (deny by default) and tests/unit/test_audit_routes.py fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NoReturn

from aiohttp import web
from aiohttp.typedefs import Handler

from ocrlive.audit.actions import Action
from ocrlive.audit.log import entry
from ocrlive.errors import Forbidden, Unauthorized
from ocrlive.events import Task
from ocrlive.identity.permissions import Permission, Principal, Via
from ocrlive.identity.requests import SAFE_METHODS, check_browser_origin, check_origin
from ocrlive.keys import AUDIT, AUTH, PRINCIPAL


@dataclass(frozen=True)
class Access:
    permission: Permission | None = None  # None: anyone signed in
    public: bool = False  # no sign-in at all
    audit: Action | None = None  # recorded for every successful call
    touch: bool = True  # counts as activity for the session's idle timeout


PUBLIC = Access(public=True)
SIGNED_IN = Access()
ACCESS = web.AppKey("access", dict)  # AbstractRoute -> Access
SUBJECTS: web.RequestKey[list[dict[str, str | None]]] = web.RequestKey("audit_subjects")


def add(
    app: web.Application,
    method: str,
    path: str,
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    access: Access,
) -> None:
    route = app.router.add_route(method, path, handler)
    app.setdefault(ACCESS, {})[route] = access


def access_of(request: web.Request) -> Access | None:
    route = request.match_info.route
    found: Access | None = request.app.get(ACCESS, {}).get(route)
    if found is None and (route.resource is None or isinstance(route.resource, web.StaticResource)):
        return PUBLIC  # unmatched (404/405) and the bundle's files
    return found


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def subject(
    request: web.Request,
    task: Task | None = None,
    detail: str = "",
    *,
    patient_id: str | None = None,
) -> None:
    """Name the task (and so the patient) whose data this answer carries. Called once
    per document for an answer about several (a bulk export): one audit row each."""
    request.setdefault(SUBJECTS, []).append({
        "task_id": task.id if task else None,
        "patient_id": task.patient_id if task else patient_id,
        "detail": detail,
    })  # fmt: skip


@web.middleware
def access_middleware(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """A public route answers through its handler's own coroutine, not one of ours
    around it: an open WebSocket holds every coroutine level above it (~220 B each)."""
    access = access_of(request)
    if access is not None and access.public:
        if request.method not in SAFE_METHODS:
            check_browser_origin(request)
        return handler(request)
    return _guarded(request, handler, access)


async def _guarded(
    request: web.Request, handler: Handler, access: Access | None
) -> web.StreamResponse:
    who = await request.app[AUTH].authenticate(request, touch=access.touch if access else True)
    if who is None:
        raise Unauthorized("Sign in, or send an API token (Authorization: Bearer)")
    if who.via is Via.SESSION and request.method not in SAFE_METHODS:
        check_origin(request)
    if access is None or (access.permission and not who.can(access.permission)):
        await _denied(request, who, access)
    request[PRINCIPAL] = who
    response = await handler(request)
    if access.audit is not None and response.status < 300:
        await _record(request, who, access.audit)
    return response


async def _denied(request: web.Request, who: Principal, access: Access | None) -> NoReturn:
    needed = access.permission.value if access and access.permission else "a declared route"
    note = entry(who, Action.ACCESS_DENIED, outcome="forbidden",
                 detail=f"{request.method} {request.path[:200]} needs {needed}")  # fmt: skip
    await request.app[AUDIT].record(note)
    raise Forbidden(f"Your role ({who.role}) may not do this: it needs {needed}")


async def _record(request: web.Request, who: Principal, action: Action) -> None:
    """Before the answer leaves: no audit row, no patient data (the write raises). The
    rows of one answer share a group commit."""
    subjects = request.get(SUBJECTS) or [{}]
    notes = [
        entry(who, action, task_id=about.get("task_id"), patient_id=about.get("patient_id"),
              detail=about.get("detail") or "")
        for about in subjects
    ]  # fmt: skip
    await asyncio.gather(*(request.app[AUDIT].record(note) for note in notes))
