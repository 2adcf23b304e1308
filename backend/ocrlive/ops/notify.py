"""systemd's readiness protocol (sd_notify) without libsystemd: one datagram."""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger(__name__)


def sd_notify(state: str) -> bool:
    """Tell systemd READY=1 / STOPPING=1 when run as a Type=notify service."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError as exc:  # systemd gone or a stale variable: serving goes on regardless
        log.warning("could not tell systemd %r: %s", state.split("\n")[0], exc)
        return False
    return True
