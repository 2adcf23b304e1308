"""The admin pages' API: people, API tokens, the audit log (JSON and CSV)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from aiohttp import web

from ocrlive.errors import InvalidRequest
from ocrlive.http.access import principal, subject
from ocrlive.http.session import json_body, text_field
from ocrlive.identity import people
from ocrlive.identity.permissions import Permission
from ocrlive.keys import DB, IDENTITY
from ocrlive.store import audit as audit_store


async def list_users(request: web.Request) -> web.Response:
    users = await people.list_users(request.app[IDENTITY])
    return web.json_response({"users": [u.to_json() for u in users]})


async def add_user(request: web.Request) -> web.Response:
    body = await json_body(request)
    password = body.get("password")
    if password is not None and not isinstance(password, str):
        raise InvalidRequest("password must be a string")
    identity, who = request.app[IDENTITY], principal(request)
    user = await people.add_user(identity, who, text_field(body, "username", limit=64),
                                 text_field(body, "role", limit=40), password)  # fmt: skip
    answer: dict[str, Any] = {"user": user.to_json()}
    if password is None:
        answer["link"] = _link(request, await identity.new_link(user, who))
    return web.json_response(answer, status=201)


async def change_user(request: web.Request) -> web.Response:
    body = await json_body(request)
    identity, who = request.app[IDENTITY], principal(request)
    name = request.match_info["username"]
    user = await people.existing(identity, name)
    if "role" in body:
        user = await people.set_role(identity, who, name, text_field(body, "role", limit=40))
    if "disabled" in body:
        if not isinstance(body["disabled"], bool):
            raise InvalidRequest("disabled must be true or false")
        user = await people.set_disabled(identity, who, name, body["disabled"])
    if "password" in body:
        user = await people.set_password(identity, who, name, text_field(body, "password"))
    return web.json_response({"user": user.to_json()})


async def user_link(request: web.Request) -> web.Response:
    """A reset: a single-use sign-in link (15 minutes) to hand to the person."""
    identity = request.app[IDENTITY]
    user = await people.existing(identity, request.match_info["username"])
    secret = await identity.new_link(user, principal(request))
    return web.json_response({"link": _link(request, secret)})


def _link(request: web.Request, secret: str) -> str:
    return str(request.url.with_path("/login").with_query(link=secret))


async def list_tokens(request: web.Request) -> web.Response:
    who = principal(request)
    every = request.query.get("all") == "1" and who.can(Permission.TOKENS_MANAGE)
    rows = await people.list_tokens(request.app[IDENTITY], None if every else who.user_id)
    return web.json_response({"tokens": [row.to_json(owner) for row, owner in rows]})


async def create_token(request: web.Request) -> web.Response:
    body = await json_body(request)
    identity, who = request.app[IDENTITY], principal(request)
    owner_name = body.get("username") or who.username
    if not isinstance(owner_name, str):
        raise InvalidRequest("username must be a string")
    owner = await people.existing(identity, owner_name)
    role = body.get("role")
    if role is not None and not isinstance(role, str):
        raise InvalidRequest("role must be a string")
    secret, row = await people.create_token(
        identity, who, owner, text_field(body, "name", limit=100), role
    )
    return web.json_response({"token": secret, "info": row.to_json(owner.username)}, status=201)


async def revoke_token(request: web.Request) -> web.Response:
    row = await people.revoke_token(
        request.app[IDENTITY], principal(request), int(request.match_info["token_id"])
    )
    return web.json_response({"info": row.to_json()})


def _when(request: web.Request, name: str) -> str | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw).isoformat()
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO date or time (2026-11-29)") from None


def _filters(request: web.Request, limit: int) -> audit_store.Filters:
    q = request.query
    before = q.get("before")
    if before is not None and not before.isdigit():
        raise InvalidRequest("before must be a row id")
    return audit_store.Filters(
        username=q.get("user") or None, patient_id=q.get("patient_id") or None,
        action=q.get("action") or None, since=_when(request, "from"),
        until=_when(request, "to"), limit=limit, before_id=int(before) if before else None,
    )  # fmt: skip


async def audit_log(request: web.Request) -> web.Response:
    filters = _filters(request, 200)
    async with request.app[DB].read() as conn:
        rows = await audit_store.query(conn, filters)
    subject(request, None, _describe(filters))
    return web.json_response({"entries": rows})


async def audit_csv(request: web.Request) -> web.Response:
    filters = _filters(request, 1_000_000)
    if filters.since is None or filters.until is None:
        raise InvalidRequest("from and to are required: the export is for a date range")
    async with request.app[DB].read() as conn:
        rows = await audit_store.stream(conn, filters)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(audit_store.COLUMNS.split(", "))
    writer.writerows(rows)
    subject(request, None, _describe(filters) + f" ({len(rows)} rows)")
    name = f"ocrlive-audit-{filters.since[:10]}-{filters.until[:10]}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return web.Response(text=out.getvalue(), content_type="text/csv", headers=headers)


def _describe(f: audit_store.Filters) -> str:
    parts = [f"{k}={v}" for k, v in (("user", f.username), ("patient", f.patient_id),
             ("action", f.action), ("from", f.since), ("to", f.until)) if v]  # fmt: skip
    return " ".join(parts)
