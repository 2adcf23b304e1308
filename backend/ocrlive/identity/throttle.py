"""Failed sign-ins are slowed per account and per address, never locked for good.

After a few failures a key must wait before its next attempt, the wait doubling with
each further failure up to a cap, and failures are forgotten after a quiet window. A
success clears its account. The per-address cap is short and starts late, so a ward
behind one proxy is slowed, not shut out, by one person's typos; a guesser trying many
accounts from one address still meets it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0


@dataclass
class Backoff:
    free: int  # failures allowed before any wait
    cap: float  # longest wait, seconds
    forget: float = 900.0  # failures older than this (since the last one) are forgotten
    max_keys: int = 100_000
    _records: dict[str, _Record] = field(default_factory=dict)

    def wait(self, key: str, now: float | None = None) -> float:
        """Seconds until `key` may try again (0: now)."""
        now = time.monotonic() if now is None else now
        rec = self._records.get(key)
        if rec is None or now - rec.last > self.forget or rec.failures < self.free:
            return 0.0
        delay = min(self.cap, 2.0 ** (rec.failures - self.free))
        return max(0.0, rec.last + delay - now)

    def fail(self, key: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._records) >= self.max_keys:
            self._prune(now)
        rec = self._records.setdefault(key, _Record())
        if now - rec.last > self.forget:
            rec.failures = 0
        rec.failures += 1
        rec.last = now

    def clear(self, key: str) -> None:
        self._records.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in [k for k, r in self._records.items() if now - r.last > self.forget]:
            del self._records[key]


class LoginThrottle:
    def __init__(self) -> None:
        # Measured against a 12-character minimum: even at the address cap an online
        # guesser gets ~7,000 tries a day per address; the account cap halves that.
        self.accounts = Backoff(free=5, cap=60.0)
        self.addresses = Backoff(free=20, cap=10.0)

    def wait(self, username: str, address: str) -> int:
        """Whole seconds to wait before this attempt may be judged (0: go ahead)."""
        seconds = max(self.accounts.wait(username), self.addresses.wait(address))
        return math.ceil(seconds)

    def failed(self, username: str, address: str) -> None:
        self.accounts.fail(username)
        self.addresses.fail(address)

    def succeeded(self, username: str) -> None:
        self.accounts.clear(username)
