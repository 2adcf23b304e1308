"""Background loops that cannot die: a loop that raises is logged with the reason and
started again after a backoff, so one bug or one fault of the disk never leaves the
server accepting uploads that nothing runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ocrlive.store.health import describe_error, is_storage_error

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


@dataclass
class LoopState:
    name: str
    restarts: int = 0
    last_error: str | None = None

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "restarts": self.restarts, "last_error": self.last_error}


@dataclass
class Supervisor:
    """Owns the loops it starts; `close()` cancels them all."""

    loops: dict[str, LoopState] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        state = self.loops[name] = LoopState(name)
        self._tasks.append(asyncio.create_task(self._keep(state, body), name=name))

    async def _keep(self, state: LoopState, body: Callable[[], Awaitable[None]]) -> None:
        failures = 0
        while True:
            try:
                await body()
                return  # a loop that returns has finished on purpose (e.g. shutdown)
            except Exception as exc:
                failures += 1
                state.restarts += 1
                state.last_error = describe_error(exc)
                delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** min(failures - 1, 8))
                _log_death(state.name, exc, delay)
            await asyncio.sleep(delay)

    def describe(self) -> list[dict[str, object]]:
        return [state.describe() for state in self.loops.values()]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


def _log_death(name: str, exc: Exception, delay: float) -> None:
    if is_storage_error(exc):  # the condition is the disk's; its cause is in one line
        log.error("background loop %s stopped on a storage fault (%s); restarting in %gs",
                  name, describe_error(exc), delay)  # fmt: skip
    else:
        log.error("background loop %s died; restarting in %gs", name, delay, exc_info=exc)
