"""The page shell (aiohttp-jinja2) that loads the compiled React bundle, and login."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ocrlive import __version__
from ocrlive.keys import AUTH

DIST = Path(__file__).resolve().parent.parent / "static" / "dist"
ENTRY = "src/main.tsx"


def bundle_assets(dist: Path = DIST) -> dict[str, Any] | None:
    """Hashed file names of the entry point, from Vite's manifest (None: not built).
    Keyed by the manifest's mtime, so a rebuild is picked up without a restart."""
    manifest = dist / ".vite" / "manifest.json"
    try:
        return _read_manifest(manifest, manifest.stat().st_mtime_ns)
    except FileNotFoundError:
        return None


@lru_cache(maxsize=4)
def _read_manifest(manifest: Path, _mtime: int) -> dict[str, Any]:
    entry = json.loads(manifest.read_text())[ENTRY]
    return {"js": entry["file"], "css": list(entry.get("css", []))}


async def index(request: web.Request) -> web.StreamResponse:
    auth = request.app[AUTH]
    token = request.query.get("token")
    if token is not None:
        if not auth.check_token(token):
            return _render(request, status=401, login_error=True)
        # Redirect so the token leaves the address bar and the browser history.
        response = web.HTTPFound("/")
        auth.set_cookie(response, secure=request.secure)
        raise response
    return _render(request, status=200, login_error=False)


def _render(request: web.Request, *, status: int, login_error: bool) -> web.Response:
    authenticated = request.app[AUTH].authenticated(request)
    context = {
        "assets": bundle_assets(),
        "authenticated": authenticated,
        "login_error": login_error,
        "version": __version__,
    }
    response = aiohttp_jinja2.render_template("index.html", request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    # Older browsers do not count ws:/wss: as 'self', so the socket's origin is named.
    host = request.host
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
        f"connect-src 'self' ws://{host} wss://{host}; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
