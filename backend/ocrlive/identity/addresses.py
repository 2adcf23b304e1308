"""The client's address: the peer, or behind a trusted reverse proxy the forwarded one.

Only proxies named in OCRLIVE_TRUSTED_PROXIES are believed; anyone else could write
any X-Forwarded-For they like. Rate limits and the audit log both use this address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network

from aiohttp import web

Network = IPv4Network | IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """'10.0.0.1, 192.168.0.0/16' -> networks; ValueError names a bad entry."""
    found: list[Network] = []
    for part in spec.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"not an address or network: {part[:60]!r}") from None
    return tuple(found)


def is_trusted(address: str | None, trusted: Iterable[Network]) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """Walk X-Forwarded-For from the right past trusted proxies: the first hop that is
    not one of ours is the client (a client can only forge hops to the left of it)."""
    peer = request.remote or "unknown"
    if not trusted or not is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not is_trusted(hop, trusted):
            return _valid(hop) or peer
    return peer


def _valid(hop: str) -> str | None:
    try:
        return str(ipaddress.ip_address(hop))
    except ValueError:
        return None
