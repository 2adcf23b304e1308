"""Signing in and out: password, single-use link, the current session."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ocrlive.errors import Forbidden, InvalidCredentials, InvalidRequest, Unauthorized
from ocrlive.http.access import principal
from ocrlive.identity import people
from ocrlive.identity.passwords import verify_password
from ocrlive.identity.permissions import Principal, Via
from ocrlive.identity.requests import COOKIE, served_securely
from ocrlive.keys import AUTH, IDENTITY, SETTINGS


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body must be a JSON object") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 1024) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise InvalidRequest(f"{name} must be a string of 1 to {limit} characters")
    return value


def set_cookie(request: web.Request, response: web.StreamResponse, secret: str) -> None:
    # No max-age: the cookie ends with the browser; the server ends the session on its
    # idle and absolute timeouts whatever the browser keeps.
    secure = served_securely(request, request.app[AUTH].trusted)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="Strict", secure=secure, path="/")


async def session_json(request: web.Request, who: Principal) -> dict[str, Any]:
    identity = request.app[IDENTITY]
    body: dict[str, Any] = {"user": who.describe()}
    if who.via is Via.SESSION:
        body |= await identity.session_deadlines(who)
        body["idle_timeout"] = identity.config.idle_timeout
        user = await identity.user(who.username)
        body["user"]["has_password"] = bool(user and (user.password_hash or user.source != "local"))
    return body


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username, password = text_field(body, "username", limit=200), text_field(body, "password")
    auth = request.app[AUTH]
    agent = request.headers.get("User-Agent", "")
    who, secret = await request.app[IDENTITY].login(
        username, password, auth.address(request), agent
    )
    response = web.json_response(await session_json(request, who))
    set_cookie(request, response, secret)
    return response


async def login_link(request: web.Request) -> web.StreamResponse:
    """The single-use link printed on first run or made by an admin: a session, then
    the dashboard (which asks for a password when the person has none yet)."""
    secret = request.query.get("link", "")
    auth = request.app[AUTH]
    agent = request.headers.get("User-Agent", "")
    try:
        _who, session = await request.app[IDENTITY].use_link(secret, auth.address(request), agent)
    except Unauthorized:
        raise web.HTTPFound("/?link=invalid") from None
    # Redirect so the secret leaves the address bar and the browser history.
    response = web.HTTPFound("/")
    set_cookie(request, response, session)
    raise response


async def logout(request: web.Request) -> web.Response:
    await request.app[IDENTITY].logout(principal(request))
    response = web.json_response({"ok": True})
    response.del_cookie(COOKIE, path="/")
    return response


async def current(request: web.Request) -> web.Response:
    return web.json_response(await session_json(request, principal(request)))


async def change_password(request: web.Request) -> web.Response:
    """Your own password; the current one is asked unless you have none yet (first run
    or a reset link)."""
    who, body = principal(request), await json_body(request)
    identity = request.app[IDENTITY]
    user = await people.existing(identity, who.username)
    if who.via is not Via.SESSION:
        raise Forbidden("Change a password from a signed-in browser, not with a token")
    if user.password_hash is not None:
        current_pw = text_field(body, "current")
        if not verify_password(user.password_hash, current_pw):
            raise InvalidCredentials("The current password is wrong")
    await people.set_password(identity, who, who.username, text_field(body, "password"))
    return web.json_response({"ok": True})


async def auth_config(request: web.Request) -> web.Response:
    """What the sign-in page offers."""
    settings = request.app[SETTINGS]
    oidc = {"name": settings.oidc_name, "url": "/login/oidc"} if settings.oidc_issuer else None
    return web.json_response({"password": True, "oidc": oidc})
