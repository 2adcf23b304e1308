"""A bounded per-connection outbox in which progress events collapse to the newest."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Frame:
    """A serialized message, shared by every connection it goes to.

    `key` is set for events that may be superseded (task.progress of one task on one
    topic); `seq` is 0 for frames that are not events (results, hello).
    """

    text: str
    seq: int = 0
    key: tuple[str, str] | None = None


class Outbox:
    """FIFO of frames. Pushing a frame with a key marks the older queued frame with
    the same key dead instead of moving it, so the order of seqs stays increasing."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: deque[tuple[int, Frame]] = deque()
        self._latest: dict[tuple[str, str], int] = {}
        self._counter = 0
        self._dead = 0

    def __len__(self) -> int:
        return len(self._items) - self._dead

    @property
    def overflowing(self) -> bool:
        return len(self) > self.limit

    def push(self, frame: Frame) -> None:
        self._counter += 1
        if frame.key is not None:
            if frame.key in self._latest:
                self._dead += 1
            self._latest[frame.key] = self._counter
        self._items.append((self._counter, frame))

    def pop(self) -> Frame | None:
        """The next live frame, or None when empty."""
        while self._items:
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
        self._items.clear()
        self._latest.clear()
        self._dead = 0
