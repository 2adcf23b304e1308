"""A bounded per-connection outbox in which progress events collapse to the newest."""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field


def text_frame(payload: bytes) -> bytes:
    """A complete server-to-client WebSocket text frame (RFC 6455: unmasked, FIN set)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


@dataclass(frozen=True, slots=True)
class Frame:
    """A serialized message, shared by every connection it goes to.

    `key` is set for events that may be superseded (task.progress of one task on one
    topic); `seq` is 0 for frames that are not events (results, hello). `wire` is the
    encoded WebSocket frame, built once for all the connections it goes to.
    """

    text: str
    seq: int = 0
    key: tuple[str, str] | None = None
    wire: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "wire", text_frame(self.text.encode()))


class Outbox:
    """FIFO of frames. Pushing a frame with a key marks the older queued frame with
    the same key dead instead of moving it, so the order of seqs stays increasing."""

    __slots__ = ("_counter", "_dead", "_items", "_latest", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        # Made on first use: most connections never queue (frames go straight out),
        # and at thousands of sockets an idle deque and dict each is memory for nothing.
        self._items: deque[tuple[int, Frame]] | None = None
        self._latest: dict[tuple[str, str], int] | None = None
        self._counter = 0
        self._dead = 0

    def __len__(self) -> int:
        return len(self._items) - self._dead if self._items else 0

    @property
    def entries(self) -> int:
        """Queued frames, superseded ones not yet dropped included."""
        return len(self._items) if self._items else 0

    @property
    def overflowing(self) -> bool:
        return len(self) > self.limit

    def push(self, frame: Frame) -> None:
        if self._items is None or self._latest is None:
            self._items, self._latest = deque(), {}
        self._counter += 1
        if frame.key is not None:
            if frame.key in self._latest:
                self._dead += 1
            self._latest[frame.key] = self._counter
        self._items.append((self._counter, frame))
        if self._dead > max(64, len(self._items) // 2):
            self._compact()

    def _compact(self) -> None:
        """Drop superseded frames, so a client that stopped reading holds at most one
        progress frame per task however many it is sent."""
        assert self._items is not None and self._latest is not None
        live = [(n, f) for n, f in self._items if f.key is None or self._latest.get(f.key) == n]
        self._items = deque(live)
        self._dead = 0

    def pop(self) -> Frame | None:
        """The next live frame, or None when empty."""
        while self._items and self._latest is not None:
            number, frame = self._items.popleft()
            if frame.key is None:
                return frame
            if self._latest.get(frame.key) != number:
                self._dead -= 1
                continue
            del self._latest[frame.key]
            return frame
        return None

    def clear(self) -> None:
        self._items = self._latest = None
        self._dead = 0
