"""Small in-memory rate limiters (one process, so no shared store is needed)."""

from __future__ import annotations

import time
from collections import deque


class TokenBucket:
    """`rate` events a second on average, bursts of up to `burst`."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")  # one per WebSocket

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._stamp = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class SlidingWindow:
    """At most `limit` events per `window` seconds for each key."""

    def __init__(self, limit: int, window: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str, weight: int = 1) -> bool:
        """Record an event; False when the key is over its limit."""
        now = time.monotonic()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._prune(now)
            hits = self._hits[key] = deque()
        while hits and now - hits[0] > self.window:
            hits.popleft()
        hits.extend([now] * weight)
        return len(hits) <= self.limit

    def forgive(self, key: str) -> None:
        """Take back the newest event of `key` (an attempt that turned out legitimate)."""
        hits = self._hits.get(key)
        if hits:
            hits.pop()

    def full(self, key: str) -> bool:
        """True when one more event for `key` would be over the limit."""
        hits = self._hits.get(key)
        now = time.monotonic()
        while hits and now - hits[0] > self.window:
            hits.popleft()
        return hits is not None and len(hits) >= self.limit

    def _prune(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or now - h[-1] > self.window]
        for key in stale:
            del self._hits[key]
