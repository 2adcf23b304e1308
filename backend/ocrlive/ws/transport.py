"""The three aiohttp internals the fast fan-out needs, behind one small class.

Publishing writes a pre-encoded frame straight to the socket's transport while it is
below its high-water mark, and waits on the protocol's drain helper when it is above:
no task switch per client per event (burst delivery at 1,000 clients went from 0.53x
to 0.98x of a plain aiohttp broadcast). aiohttp exposes none of this publicly, so:

- `WebSocketResponse._writer.transport`: the asyncio transport of the socket,
- `WebSocketWriter.protocol._paused`: True while the transport is above its mark,
- `protocol._drain_helper()`: resolves when the transport drained below its mark.

`check_aiohttp()` runs at start-up (app.py) and in tests/unit/test_transport.py: an
aiohttp that changes any of them fails loudly there, not silently in production; this
is what pins aiohttp below 3.15 until the test passes on the newer release.
Writing around aiohttp's writer needs compression off (it is: see ws/view.py).
"""

from __future__ import annotations

import inspect

import aiohttp
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_websocket import WebSocketWriter


class AiohttpInternalsChanged(RuntimeError):
    pass


def check_aiohttp() -> None:
    """Raise AiohttpInternalsChanged when this aiohttp lacks what SocketWriter uses."""
    missing = []
    params = inspect.signature(WebSocketWriter.__init__).parameters
    missing += [
        f"WebSocketWriter.{name}" for name in ("protocol", "transport") if name not in params
    ]
    if not inspect.iscoroutinefunction(getattr(BaseProtocol, "_drain_helper", None)):
        missing.append("BaseProtocol._drain_helper()")
    if "_paused" not in getattr(BaseProtocol, "__slots__", ()):
        missing.append("BaseProtocol._paused")
    if not hasattr(web.WebSocketResponse(), "_writer"):
        missing.append("WebSocketResponse._writer")
    if missing:
        raise AiohttpInternalsChanged(
            f"aiohttp {aiohttp.__version__} changed what ocrlive.ws.transport uses: "
            f"{', '.join(missing)}; adapt SocketWriter before lifting the version pin"
        )


class SocketWriter:
    """Raw writes to one prepared WebSocketResponse's transport."""

    __slots__ = ("_ws",)

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws

    def _writer(self) -> WebSocketWriter | None:
        return self._ws._writer

    @property
    def closing(self) -> bool:
        writer = self._writer()
        return writer is None or writer.transport.is_closing()

    @property
    def writable(self) -> bool:
        """Open and below its high-water mark: a write now does not pile up in memory."""
        writer = self._writer()
        return not (writer is None or writer.transport.is_closing() or writer.protocol._paused)

    def try_write(self, wire: bytes) -> bool:
        """Write now if the socket is open and below its high-water mark; False (and
        nothing written) otherwise: `writable` then `write` with one look-up of the
        transport, for the fan-out's once per client per event (0.87-0.88x the time of
        the two calls over 1,000 socket pairs; the rest is the kernel's send)."""
        writer = self._ws._writer
        if writer is None or writer.protocol._paused:
            return False
        transport = writer.transport
        if transport.is_closing():
            return False
        transport.write(wire)
        return True

    def write(self, wire: bytes) -> None:
        """Write encoded frames; ConnectionResetError when the socket is gone."""
        writer = self._writer()
        if writer is None or writer.transport.is_closing():
            raise ConnectionResetError("the socket is closing")
        writer.transport.write(wire)

    async def drain(self) -> None:
        """Until the transport is below its high-water mark again."""
        writer = self._writer()
        if writer is not None and writer.protocol._paused:
            await writer.protocol._drain_helper()

    def abort(self) -> None:
        writer = self._writer()
        if writer is not None:
            writer.transport.abort()
