"""API tokens verified in the last few seconds, for WebSocket handshakes.

A handshake checked its token with two reads on the async engine: ~0.6 ms of the
server's CPU per socket and ~3 KiB of RSS per socket at 1,000 (the pool's extra
aiosqlite connections and threads), a third of what ocrlive's connect + subscribe cost
over plain aiohttp (scripts/bench_ws.py). Only the 256-bit token's SHA-256 is kept as
the key, never the token.

Exactness: every change made in this process (revocation, a role change, disabling
the person) forgets the entries at once (Identity.ended), and a read that was in
flight during such a change is not kept. A change made by another process (the CLI)
is seen by a handshake within RECHECK_S, the period of the socket sweep that closes
the sockets already open on that token (ws/guard.py), so a handshake is never let in
longer than an open socket is kept. HTTP requests always read the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from ocrlive.identity.permissions import Principal

RECHECK_S = 5.0  # the socket sweep's period (app.py): revocations elsewhere, same bound
MAX_ENTRIES = 10_000


class RecentTokens:
    __slots__ = ("_entries", "_generation", "max_entries", "ttl")

    def __init__(self, ttl: float = RECHECK_S, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._generation = 0  # moves on every forget: a read that spans one is not kept

    @property
    def generation(self) -> int:
        return self._generation

    def get(self, token_hash: str, address: str) -> Principal | None:
        """The principal verified within `ttl`, for this address (one object per address
        is shared by all its sockets: a Principal is immutable)."""
        seen = self._entries.get(token_hash)
        if seen is None:
            return None
        principal, until = seen
        if time.monotonic() >= until:
            del self._entries[token_hash]
            return None
        return principal if principal.address == address else replace(principal, address=address)

    def put(self, token_hash: str, principal: Principal, generation: int) -> None:
        """Keep a verification read while the generation was `generation`."""
        if generation != self._generation:
            return
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[token_hash] = (principal, time.monotonic() + self.ttl)

    def forget(self, covered: Callable[[Principal], bool]) -> None:
        self._generation += 1
        stale = [key for key, (principal, _) in self._entries.items() if covered(principal)]
        for key in stale:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
