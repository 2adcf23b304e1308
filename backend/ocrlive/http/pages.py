"""The page shell (aiohttp-jinja2) that loads the compiled React bundle. The bundle
signs in and out itself (/api/login, /api/session), so the shell is public."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ocrlive import __version__

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
    context = {"assets": bundle_assets(), "version": __version__}
    response = aiohttp_jinja2.render_template("index.html", request, context)
    response.headers["Cache-Control"] = "no-store"
    return response
