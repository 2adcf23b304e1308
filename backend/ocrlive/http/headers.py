"""Security headers on every answer."""

from __future__ import annotations

from aiohttp import web


def content_security_policy(host: str) -> str:
    # No inline or eval'd script anywhere. Older browsers do not count ws:/wss: as
    # 'self', so the socket's origin is named.
    return (
        "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
        "img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
        f"connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'; "
        "form-action 'self'"
    )


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer as it is sent, errors included. A signal rather
    than a middleware: a middleware's coroutine waits on every open WebSocket for its
    whole life (~290 B an idle socket)."""
    if response.status != 101:  # a WebSocket upgrade carries no page
        _apply(request, response)


def _apply(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    if request.secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
