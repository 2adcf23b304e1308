"""Single sign-on with OpenID Connect: the authorization code flow with PKCE (S256),
the provider's ID token checked with joserfc against its published keys (signature,
issuer, audience, expiry, nonce), a claim mapped to a role.

The flow's secrets (state, nonce, code verifier) stay on the server for 10 minutes,
keyed by the state, and the state is also bound to the browser by a short cookie, so
a callback with someone else's state is refused."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from ocrlive.errors import Forbidden, InvalidCredentials, InvalidLink, Unauthorized
from ocrlive.identity.permissions import Role, parse_role

FLOW_TTL = 600.0
MAX_PENDING = 10_000
CLOCK_LEEWAY = 60


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    role_claim: str = "groups"
    role_map: tuple[tuple[str, Role], ...] = ()
    scope: str = "openid profile email"


def parse_role_map(spec: str) -> tuple[tuple[str, Role], ...]:
    """'ocr-admins=admin, ward=clinician' -> ordered pairs (the first match wins)."""
    pairs = []
    for part in spec.split(","):
        if part.strip():
            value, sep, role = part.partition("=")
            if not sep:
                raise ValueError(f"OCRLIVE_OIDC_ROLE_MAP: {part.strip()!r} is not value=role")
            pairs.append((value.strip(), parse_role(role.strip())))
    return tuple(pairs)


@dataclass
class _Flow:
    nonce: str
    verifier: str
    redirect_uri: str
    started: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class SignOn:
    """Who the provider says signed in, and the role their claims map to."""

    username: str
    role: Role
    subject: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcClient:
    def __init__(self, config: OidcConfig) -> None:
        self.config = config
        self._pending: dict[str, _Flow] = {}
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def _get_json(self, session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as resp:
            resp.raise_for_status()
            body: dict[str, Any] = await resp.json(content_type=None)
            return body

    async def metadata(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        if self._metadata is None:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            self._metadata = await self._get_json(session, url)
        return self._metadata

    async def start(self, session: aiohttp.ClientSession, redirect_uri: str) -> tuple[str, str]:
        """(the provider's authorization URL to send the browser to, the state)."""
        self._expire()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        self._pending[state] = _Flow(nonce, verifier, redirect_uri)
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = {
            "response_type": "code", "client_id": self.config.client_id,
            "redirect_uri": redirect_uri, "scope": self.config.scope, "state": state,
            "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
        }  # fmt: skip
        endpoint = (await self.metadata(session))["authorization_endpoint"]
        return f"{endpoint}?{urlencode(query)}", state

    def _expire(self) -> None:
        now = time.monotonic()
        for state in [s for s, f in self._pending.items() if now - f.started > FLOW_TTL]:
            del self._pending[state]
        while len(self._pending) >= MAX_PENDING:
            self._pending.pop(next(iter(self._pending)))

    async def finish(
        self, session: aiohttp.ClientSession, state: str, code: str, bound_state: str
    ) -> SignOn:
        """The callback: the state must be ours and this browser's; then the code is
        exchanged (with the PKCE verifier) and the ID token checked."""
        flow = self._pending.pop(state, None) if state and state == bound_state else None
        if flow is None or time.monotonic() - flow.started > FLOW_TTL:
            raise InvalidLink("This sign-in is unknown or too old; start again")
        tokens = await self._exchange(session, code, flow)
        claims = await self._verified_claims(session, str(tokens.get("id_token", "")), flow.nonce)
        return SignOn(self._username(claims), self._role(claims), str(claims["sub"]))

    async def _exchange(
        self, session: aiohttp.ClientSession, code: str, flow: _Flow
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
            "client_id": self.config.client_id, "client_secret": self.config.client_secret,
            "code_verifier": flow.verifier,
        }  # fmt: skip
        endpoint = (await self.metadata(session))["token_endpoint"]
        async with session.post(endpoint, data=form, timeout=aiohttp.ClientTimeout(total=10)) as r:
            body: dict[str, Any] = await r.json(content_type=None)
            if r.status != 200 or "id_token" not in body:
                raise InvalidCredentials("The identity provider refused the sign-in")
            return body

    async def _verified_claims(
        self, session: aiohttp.ClientSession, id_token: str, nonce: str
    ) -> dict[str, Any]:
        meta = await self.metadata(session)
        if self._keys is None:
            self._keys = KeySet.import_key_set(await self._get_json(session, meta["jwks_uri"]))  # type: ignore[arg-type]
        registry = JWTClaimsRegistry(
            leeway=CLOCK_LEEWAY, iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": self.config.client_id},
            nonce={"essential": True, "value": nonce}, sub={"essential": True},
            exp={"essential": True},
        )  # fmt: skip
        try:
            token = jwt.decode(id_token, self._keys, algorithms=["RS256", "ES256", "PS256"])
            registry.validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise Unauthorized(f"The ID token is not valid: {type(exc).__name__}") from None
        return token.claims

    def _username(self, claims: dict[str, Any]) -> str:
        for name in ("preferred_username", "email", "sub"):
            value = claims.get(name)
            if isinstance(value, str) and value:
                return value.strip().lower()[:64]
        raise Unauthorized("The ID token names nobody")

    def _role(self, claims: dict[str, Any]) -> Role:
        raw = claims.get(self.config.role_claim)
        held = (
            {raw}
            if isinstance(raw, str)
            else {str(v) for v in raw or [] if isinstance(v, str | int)}
        )
        for value, role in self.config.role_map:
            if value in held:
                return role
        raise Forbidden(
            f"Your {self.config.role_claim} give no role in ocrlive; ask the administrator"
        )
