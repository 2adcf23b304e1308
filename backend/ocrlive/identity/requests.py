"""Who is asking, for an HTTP request or a WebSocket handshake: a session cookie, an
API token (Bearer), or a trusted reverse proxy's user header. Shared by http/ and ws/,
so that neither imports the other."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from ocrlive.errors import ForbiddenOrigin, RateLimited
from ocrlive.identity.addresses import Network, client_address, is_trusted
from ocrlive.identity.permissions import Principal, Role, Via
from ocrlive.identity.service import Identity, principal_for
from ocrlive.ratelimit import SlidingWindow

COOKIE = "ocrlive_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FAILURES_PER_MINUTE = 10
FAILURE_DELAY = 1.0  # seconds a wrong credential over the limit waits for its 429


@dataclass
class Credentials:
    kind: str  # "bearer", "cookie", "proxy" or "" for none
    value: str


@dataclass
class RequestAuth:
    identity: Identity
    trusted: tuple[Network, ...] = ()
    proxy_header: str = ""  # e.g. Remote-User; believed only from a trusted proxy
    proxy_role: str = ""  # role of a proxy-named person not yet known ("": refused)
    failures: SlidingWindow = field(default_factory=lambda: SlidingWindow(FAILURES_PER_MINUTE))

    def address(self, request: web.Request) -> str:
        return client_address(request, self.trusted)

    def credentials(self, request: web.Request) -> Credentials:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            return Credentials("bearer", header[7:].strip())
        if self.proxy_header and is_trusted(request.remote, self.trusted):
            user = request.headers.get(self.proxy_header, "").strip()
            if user:
                return Credentials("proxy", user)
        cookie = request.cookies.get(COOKIE, "")
        return Credentials("cookie", cookie) if cookie else Credentials("", "")

    async def authenticate(self, request: web.Request, *, touch: bool = True) -> Principal | None:
        """The principal, None without credentials; wrong ones count as a failure of
        this address and, past the limit, answer 429 (a right one is never refused)."""
        creds = self.credentials(request)
        if not creds.kind:
            return None
        address = self.address(request)
        principal = await self.resolve(creds, address, touch=touch)
        if principal is None:
            await self.failed(address)
        return principal

    async def resolve(
        self, creds: Credentials, address: str, *, touch: bool = True, recent: bool = False
    ) -> Principal | None:
        """recent=True: a WebSocket handshake, which may use a token verified within the
        last seconds (identity/recent.py); an HTTP request always reads the database."""
        if creds.kind == "bearer":
            return await self.identity.from_token(creds.value, address, recent=recent)
        if creds.kind == "cookie":
            return await self.identity.from_session(creds.value, address, touch=touch)
        if creds.kind == "proxy":
            return await self._from_proxy(creds.value, address)
        return None

    async def failed(self, address: str) -> None:
        if not self.failures.hit(address):
            # Slow the guesser down as well as answer it: ~1 guess a second per connection.
            await asyncio.sleep(FAILURE_DELAY)
            raise RateLimited("Too many failed authentications from this address; wait a minute")

    async def _from_proxy(self, username: str, address: str) -> Principal | None:
        user = await self.identity.user(username)
        if user is None and self.proxy_role:
            from ocrlive.identity.people import add_user

            user = await add_user(self.identity, None, username, self.proxy_role, source="proxy")
        if user is None or user.disabled:
            return None
        return principal_for(user, Via.PROXY, address, Role(user.role))


def check_origin(request: web.Request) -> None:
    """A cookie rides along on any request the browser makes, even one another site
    starts: state changes and WebSocket handshakes must come from our own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        if site in ("same-origin", "none"):
            return
        raise ForbiddenOrigin("This request came from another site")
    origin = request.headers.get("Origin")
    if origin is None:
        if request.method in SAFE_METHODS:
            return  # a WebSocket handshake from a non-browser client
        raise ForbiddenOrigin("A state change by cookie needs the Origin header")
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address: not our origin
        netloc = None
    if netloc != request.host.lower():
        raise ForbiddenOrigin("This page may not act on ocrlive")


def check_browser_origin(request: web.Request) -> None:
    """For a request without a cookie (sign-in): judged only when a browser sent it."""
    if "Sec-Fetch-Site" in request.headers or "Origin" in request.headers:
        check_origin(request)


def served_securely(request: web.Request, trusted: tuple[Network, ...]) -> bool:
    """TLS here, or at a trusted proxy that says so: the cookie is then `Secure`."""
    if request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").lower()
    return proto == "https" and is_trusted(request.remote, trusted)
