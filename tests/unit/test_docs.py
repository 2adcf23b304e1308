"""The public contract is documented: every code, type and setting the server uses."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from ocrlive.errors import HTTP_ERROR_CODES
from ocrlive.events import EventType, TaskErrorCode
from ocrlive.settings import SETTINGS_DOC, Settings
from ocrlive.ws.commands import COMMANDS
from ocrlive.ws.protocol import CloseCode, WsErrorCode

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()
README = (ROOT / "README.md").read_text()


def documented(word: str, text: str = PROTOCOL) -> bool:
    return f"`{word}`" in text or f"| {word} |" in text


def test_every_http_error_code_is_documented() -> None:
    assert [c for c in HTTP_ERROR_CODES if not documented(c)] == []


def test_every_websocket_error_code_is_documented() -> None:
    assert [c for c in WsErrorCode if not documented(c)] == []


def test_every_client_message_type_is_documented() -> None:
    types = [*COMMANDS, "auth"]
    assert [t for t in types if not documented(t)] == []


def test_every_server_message_type_is_documented() -> None:
    assert [t for t in ("hello", "auth_required", "result", "event") if not documented(t)] == []


def test_every_event_is_documented() -> None:
    assert [e for e in EventType if not documented(e)] == []


def test_every_task_error_code_is_documented() -> None:
    assert [c for c in TaskErrorCode if not documented(c)] == []


def test_every_close_code_is_documented() -> None:
    table = set(re.findall(r"^\| (\d{4}) \|", PROTOCOL, flags=re.M))
    assert [c for c in CloseCode if str(int(c)) not in table] == []


def test_every_setting_is_documented_in_the_readme() -> None:
    names = [f.name for f in fields(Settings)]
    assert sorted(SETTINGS_DOC) == sorted(names)
    missing = [n for n in names if f"OCRLIVE_{n.upper()}" not in README]
    assert missing == []


def _route_shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


def test_every_api_route_is_documented() -> None:
    from aiohttp import web

    from ocrlive.http.routes import setup_routes

    app = web.Application()
    setup_routes(app)
    listed = {
        (method, _route_shape(path))
        for method, path in re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^` ]*)", PROTOCOL)
    }
    routes = {
        (route.method, _route_shape(route.resource.canonical))
        for route in app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.method != "HEAD"
    }
    assert sorted(routes - listed) == []
