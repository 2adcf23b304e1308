"""Single sign-on routes: /login/oidc sends the browser to the provider; the provider
sends it back to /login/oidc/callback, which starts a session."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from ocrlive.audit.actions import Action
from ocrlive.audit.log import entry
from ocrlive.errors import ApiError, NotFound
from ocrlive.http.session import set_cookie
from ocrlive.identity import people
from ocrlive.identity.oidc import OidcClient
from ocrlive.identity.requests import served_securely
from ocrlive.keys import AUDIT, AUTH, IDENTITY

OIDC = web.AppKey("oidc", OidcClient)
FLOW_COOKIE = "ocrlive_oidc"
CALLBACK = "/login/oidc/callback"


def _client(request: web.Request) -> OidcClient:
    client = request.app.get(OIDC)
    if client is None:
        raise NotFound("Single sign-on is not configured")
    return client


def _redirect_uri(request: web.Request) -> str:
    scheme = "https" if served_securely(request, request.app[AUTH].trusted) else "http"
    return f"{scheme}://{request.host}{CALLBACK}"


async def start(request: web.Request) -> web.StreamResponse:
    async with aiohttp.ClientSession() as session:
        url, state = await _client(request).start(session, _redirect_uri(request))
    response = web.HTTPFound(url)
    # Lax, not Strict: it must come back on the provider's cross-site redirect.
    secure = served_securely(request, request.app[AUTH].trusted)
    response.set_cookie(
        FLOW_COOKIE,
        state,
        httponly=True,
        samesite="Lax",
        secure=secure,
        path="/login/oidc",
        max_age=600,
    )
    raise response


async def callback(request: web.Request) -> web.StreamResponse:
    client, address = _client(request), request.app[AUTH].address(request)
    agent = request.headers.get("User-Agent", "")
    identity = request.app[IDENTITY]
    try:
        async with aiohttp.ClientSession() as session:
            sign_on = await client.finish(
                session,
                request.query.get("state", ""),
                request.query.get("code", ""),
                request.cookies.get(FLOW_COOKIE, ""),
            )
        user = await people.signed_on(identity, sign_on.username, sign_on.role)
        _who, secret = await identity.start_session(user, address, agent, Action.LOGIN, "oidc")
    except (ApiError, aiohttp.ClientError) as exc:
        detail = exc.message if isinstance(exc, ApiError) else "provider unreachable"
        await request.app[AUDIT].record(
            entry(
                None,
                Action.LOGIN_FAILED,
                outcome="denied",
                address=address,
                detail=f"oidc: {detail}",
            )
        )
        raise web.HTTPFound("/?sso=failed") from None
    response = web.HTTPFound("/")
    set_cookie(request, response, secret)
    response.del_cookie(FLOW_COOKIE, path="/login/oidc")
    raise response
