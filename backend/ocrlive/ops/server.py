"""Serving: bind, announce, wait for a signal, drain.

On SIGTERM (systemd's stop) or SIGINT: systemd hears STOPPING=1, aiohttp stops
accepting, waits for requests in flight (uploads) up to SHUTDOWN_TIMEOUT_S, every
WebSocket is closed with 1001 (clients reconnect with backoff), the runner stops
handing out work and the pool stops its workers. Tasks that were being read stay
`processing` in the database and go back to the queue at the next start.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
import ssl
import webbrowser

from aiohttp import web

from ocrlive import __version__
from ocrlive.ops.instance import Instance
from ocrlive.ops.logs import say
from ocrlive.ops.notify import sd_notify
from ocrlive.settings import Settings

log = logging.getLogger("ocrlive")
SHUTDOWN_TIMEOUT_S = 10.0  # an upload in flight on a hospital LAN ends well within this


def base_url(settings: Settings, port: int | None = None) -> str:
    """Where a browser on this machine reaches the server."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    host = f"[{host}]" if ":" in host else host
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{host}:{port or settings.port}"


def login_url(url: str, secret: str) -> str:
    return f"{url}/login?link={secret}"


def open_browser(url: str) -> None:
    """Honours $BROWSER; a machine without a browser just keeps the printed link."""
    try:
        if not webbrowser.open(url):
            log.info("no browser could be opened; use the link above")
    except webbrowser.Error as exc:
        log.info("no browser could be opened (%s); use the link above", exc)


async def run_server(
    settings: Settings, tls: ssl.SSLContext | None, instance: Instance, *, desktop: bool,
    browser: bool, fallback_port: bool,
) -> None:  # fmt: skip
    """desktop: every start prints (and opens) a sign-in link for the administrator;
    otherwise only the first start does, for the `admin` it creates."""
    from ocrlive.app import create_app
    from ocrlive.http.server import Runner
    from ocrlive.keys import IDENTITY
    from ocrlive.ops.desktop import sign_in_secret

    app = create_app(settings)
    runner = Runner(app, access_log=None)
    await runner.setup()
    try:
        port = await _bind(runner, settings, tls, fallback_port)
        url = base_url(settings, port)
        instance.announce(url)
        say(f"ocrlive {__version__} serving on {url}/ (data in {settings.data_dir})")
        secret = await sign_in_secret(app[IDENTITY], every_start=desktop)
        if secret is not None:
            announce_link(login_url(url, secret), desktop=desktop, browser=browser)
        sd_notify(f"READY=1\nSTATUS=serving on {url}")
        await _until_signal()
        say("ocrlive: shutting down")
        sd_notify("STOPPING=1")
    finally:
        await runner.cleanup()
        instance.release()


def announce_link(link: str, *, desktop: bool, browser: bool) -> None:
    if desktop:
        say("sign in with this single-use link (valid 15 minutes):")
    else:
        say("no one can sign in yet: an 'admin' was created. Open this single-use link "
            "within 15 minutes and choose a password:")  # fmt: skip
    say(f"  {link}")
    if browser:
        open_browser(link)


async def _bind(
    runner: web.AppRunner, settings: Settings, tls: ssl.SSLContext | None, fallback_port: bool
) -> int:
    """The configured port; a desktop start whose port another program holds takes a
    free one rather than failing."""
    for port in (settings.port, 0):
        site = web.TCPSite(runner, settings.host, port, shutdown_timeout=SHUTDOWN_TIMEOUT_S,
                           ssl_context=tls)  # fmt: skip
        try:
            await site.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or not fallback_port or port == 0:
                raise
            log.warning("port %d is taken by another program; choosing a free one", port)
            continue
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port
    raise AssertionError("unreachable")


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
