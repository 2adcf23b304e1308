"""Access-token authentication: session cookie for browsers, Bearer for programs."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from ocrlive.errors import ForbiddenOrigin

COOKIE = "ocrlive_session"


def load_or_create_token(configured: str, data_dir: Path) -> tuple[str, bool]:
    """The configured token, else the one kept in the data folder, else a new one.
    Keeping it lets browser sessions survive a restart of the server."""
    if configured:
        return configured, False
    path = data_dir / "token"
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token, False
    token = secrets.token_urlsafe(24)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, True


class Authenticator:
    def __init__(self, token: str) -> None:
        self.token = token
        self.session = hmac.new(token.encode(), b"ocrlive-session-v1", hashlib.sha256).hexdigest()

    def check_token(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def bearer(self, request: web.Request) -> bool | None:
        """True/False for a Bearer header that is right/wrong, None when there is none."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        return self.check_token(header[7:].strip())

    def cookie(self, request: web.Request) -> bool:
        value = request.cookies.get(COOKIE, "")
        return bool(value) and hmac.compare_digest(value.encode(), self.session.encode())

    def authenticated(self, request: web.Request) -> bool:
        bearer = self.bearer(request)
        return bearer if bearer is not None else self.cookie(request)

    def set_cookie(self, response: web.StreamResponse, secure: bool) -> None:
        response.set_cookie(
            COOKIE, self.session, httponly=True, samesite="Strict", secure=secure,
            max_age=60 * 60 * 24 * 30, path="/",
        )  # fmt: skip


def check_origin(request: web.Request) -> None:
    """A browser always sends Origin on a WebSocket handshake; one from another site is
    a cross-site WebSocket hijacking attempt riding on the session cookie."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    if urlsplit(origin).netloc.lower() != request.host.lower():
        raise ForbiddenOrigin("This page may not open a socket on ocrlive")
