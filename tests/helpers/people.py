"""People and API tokens in a test's database, made the way the CLI makes them."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient

from ocrlive.audit.log import AuditLog
from ocrlive.identity import people
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.settings import Settings
from ocrlive.store.database import Database
from ocrlive.store.db import migrate

PASSWORD = "correct horse battery"
TOKEN_KEY = web.AppKey("test_admin_token", str)


async def token_for(
    settings: Settings, username: str, role: str, *, password: str | None = PASSWORD,
    token_role: str | None = None,
) -> str:  # fmt: skip
    """A person (added unless they exist) and a new personal API token of theirs."""
    migrate(settings.database)
    db = Database.open(settings.database)
    try:
        ident = Identity(db, AuditLog(db.writer), IdentityConfig())
        user = await ident.user(username)
        if user is None:
            user = await people.add_user(ident, None, username, role, password)
        secret, _ = await people.create_token(ident, None, user, f"{username}-test", token_role)
        return secret
    finally:
        await db.close()


def admin_token(client: TestClient) -> str:  # type: ignore[type-arg]
    """The admin's token that the `client` fixture sends."""
    return client.app[TOKEN_KEY]


async def sign_in(
    browser: aiohttp.ClientSession, client: TestClient,  # type: ignore[type-arg]
    username: str = "admin", password: str = PASSWORD,
) -> aiohttp.ClientResponse:  # fmt: skip
    """Sign in as a browser on the dashboard would (same Origin); asserts success."""
    origin = f"http://{client.host}:{client.port}"
    resp = await browser.post(client.make_url("/api/login"), headers={"Origin": origin},
                              json={"username": username, "password": password})  # fmt: skip
    assert resp.status == 200, await resp.text()
    return resp
