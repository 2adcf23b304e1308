"""Single sign-on against a real OpenID Connect provider process (oidc-provider-mock):
authorization code with PKCE, the ID token verified, a group claim mapped to a role;
a person whose groups map to no role, a forged state and a local account's name are
refused, each on the audit record."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from tests.helpers.oidc_provider import ProviderProcess
from tests.helpers.server import free_port

from ocrlive.keys import SETTINGS
from ocrlive.settings import Settings

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def provider() -> Any:
    proc = ProviderProcess(free_port())
    yield proc
    proc.stop()


def person(provider: ProviderProcess, sub: str, **claims: Any) -> None:
    req = urllib.request.Request(
        f"{provider.url}/users/{sub}",
        data=json.dumps(claims).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=5)


@pytest.fixture
async def sso(
    provider: ProviderProcess, start_app: Callable[..., Any], make_settings: Callable[..., Settings]
) -> AsyncIterator[Client]:
    settings = make_settings(
        oidc_issuer=provider.url, oidc_client_id="ocrlive", oidc_client_secret="s3cret",
        oidc_name="Hospital SSO", oidc_role_claim="groups",
        oidc_role_map="ocr-admins=admin, ward-7=clinician, records=clerk",
    )  # fmt: skip
    yield await start_app(settings)


async def sign_on(
    client: Client, browser: aiohttp.ClientSession, sub: str
) -> aiohttp.ClientResponse:
    """The browser's round trip: ocrlive -> provider (the person picks `sub`) -> ocrlive."""
    start = await browser.get(client.make_url("/login/oidc"), allow_redirects=False)
    assert start.status == 302
    authorize = start.headers["Location"]
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    assert (await browser.get(authorize)).status == 200  # the provider's sign-in form
    chosen = await browser.post(authorize, data={"sub": sub}, allow_redirects=False)
    assert chosen.status == 302
    back = chosen.headers["Location"]
    assert back.startswith(f"http://{client.host}:{client.port}/login/oidc/callback?")
    return await browser.get(back, allow_redirects=False)


def audit(client: Client) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(client.server.app[SETTINGS].db_path)
    found = db.execute("SELECT action, username, detail FROM audit_log ORDER BY id").fetchall()
    db.close()
    return found


async def test_sign_on_maps_the_group_claim_to_a_role(
    sso: Client, provider: ProviderProcess
) -> None:
    person(provider, "u-1001", preferred_username="Dr.Smith", groups=["staff", "ward-7"])
    config = await (await sso.get("/api/auth")).json()
    assert config["oidc"] == {"name": "Hospital SSO", "url": "/login/oidc"}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        done = await sign_on(sso, browser, "u-1001")
        assert done.status == 302 and done.headers["Location"] == "/"
        assert "SameSite=Strict" in done.headers.getall("Set-Cookie")[0]
        me = await (await browser.get(sso.make_url("/api/session"))).json()
        assert me["user"]["username"] == "dr.smith" and me["user"]["role"] == "clinician"
        refused = await browser.post(
            sso.make_url("/api/tasks"), headers={"Origin": f"http://{sso.host}:{sso.port}"}
        )
        assert refused.status == 403
    person(provider, "u-1001", preferred_username="Dr.Smith", groups=["records"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_on(sso, browser, "u-1001")
        me = await (await browser.get(sso.make_url("/api/session"))).json()
        assert me["user"]["role"] == "clerk"  # the provider's groups rule
    assert ("login", "dr.smith", "oidc") in audit(sso)


async def test_groups_without_a_role_are_refused(sso: Client, provider: ProviderProcess) -> None:
    person(provider, "u-2002", preferred_username="visitor", groups=["visitors"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        done = await sign_on(sso, browser, "u-2002")
        assert done.headers["Location"] == "/?sso=failed"
        assert (await browser.get(sso.make_url("/api/session"))).status == 401
    assert audit(sso)[-1][0] == "login.failed" and "no role" in audit(sso)[-1][2]


async def test_a_callback_with_a_forged_state_is_refused(
    sso: Client, provider: ProviderProcess
) -> None:
    person(provider, "u-3003", preferred_username="nurse.k", groups=["ward-7"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        start = await browser.get(sso.make_url("/login/oidc"), allow_redirects=False)
        authorize = start.headers["Location"]
        chosen = await browser.post(authorize, data={"sub": "u-3003"}, allow_redirects=False)
        callback = chosen.headers["Location"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as attacker:
        # Another browser (no flow cookie) replaying the callback gets nothing.
        done = await attacker.get(callback, allow_redirects=False)
        assert done.headers["Location"] == "/?sso=failed"
        assert (await attacker.get(sso.make_url("/api/session"))).status == 401


async def test_a_provider_cannot_take_over_a_local_account(
    sso: Client, provider: ProviderProcess
) -> None:
    person(provider, "u-4004", preferred_username="admin", groups=["ocr-admins"])
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        done = await sign_on(sso, browser, "u-4004")
        assert done.headers["Location"] == "/?sso=failed"
    assert "local account" in audit(sso)[-1][2]
