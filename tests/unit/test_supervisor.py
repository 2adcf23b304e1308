"""A background loop that dies is started again, and why is logged and shown."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import pytest

from ocrlive.tasks import supervisor as sup
from ocrlive.tasks.supervisor import Supervisor


async def test_a_loop_that_dies_is_restarted_and_the_reason_kept(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sup, "BACKOFF_FIRST_S", 0.01)
    runs: list[int] = []
    done = asyncio.Event()

    async def body() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("a bug")
        if len(runs) == 2:
            raise sqlite3.OperationalError("database or disk is full")
        done.set()
        await asyncio.sleep(3600)

    supervisor = Supervisor()
    with caplog.at_level(logging.ERROR):
        supervisor.start("runner-0", body)
        await asyncio.wait_for(done.wait(), 5)
    (state,) = supervisor.describe()
    assert state["restarts"] == 2 and "disk is full" in str(state["last_error"])
    assert "runner-0 died" in caplog.text and "RuntimeError: a bug" in caplog.text
    storage = [r for r in caplog.records if "storage fault" in r.getMessage()]
    assert storage and storage[0].exc_info is None  # one line, no traceback
    await supervisor.close()


async def test_a_loop_that_returns_is_not_restarted() -> None:
    runs: list[int] = []

    async def body() -> None:
        runs.append(1)

    supervisor = Supervisor()
    supervisor.start("once", body)
    await asyncio.sleep(0.1)
    assert runs == [1]
    await supervisor.close()
