"""The SQLite writer's two ways to run a transaction (store/sqlite/writer.py): a short
one commits on the event loop when the thread is idle and the write lock is free, and
waits on the thread otherwise; one connection, never two transactions at once."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from tests.unit.test_manager import RecordingPublisher, new_task, progress

from ocrlive.events import EventType, TaskStatus
from ocrlive.settings import Settings
from ocrlive.store.db import migrate
from ocrlive.store.sqlite import checkpoint, open_sqlite
from ocrlive.store.sqlite.writer import SqliteWriter
from ocrlive.tasks.manager import TaskManager


@pytest.fixture
def path(tmp_path: Path) -> Path:
    db = tmp_path / "w.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER, thread INTEGER)")
    conn.close()  # the last connection: its WAL goes into the file
    return db


@pytest.fixture
async def writer(path: Path) -> AsyncIterator[SqliteWriter]:
    w = SqliteWriter(path)
    yield w
    await w.close()


def insert(n: int, log: list[int] | None = None) -> Callable[[sqlite3.Connection], int]:
    def fn(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t VALUES (?, ?)", (n, threading.get_ident()))
        if log is not None:
            log.append(n)
        return threading.get_ident()

    return fn


def stored(path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as conn:
        return [tuple(row) for row in conn.execute("SELECT n, thread FROM t ORDER BY rowid")]


async def test_a_short_transaction_commits_on_the_loop_when_the_thread_is_idle(
    writer: SqliteWriter, path: Path
) -> None:
    ran_on = await writer.run_short(insert(1))
    assert ran_on == threading.get_ident()  # the loop's own thread
    assert stored(path) == [(1, ran_on)]  # committed: another connection reads it
    ran_on = await writer.run(insert(2))
    assert ran_on != threading.get_ident()


async def test_it_waits_on_the_thread_while_another_process_holds_the_write_lock(
    writer: SqliteWriter, path: Path
) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as the `ocrlive` CLI or a backup tool may
    other.execute("INSERT INTO t VALUES (0, 0)")
    short = asyncio.create_task(writer.run_short(insert(1)))
    ticks = 0
    while ticks < 20:  # the loop keeps turning: the wait is on the thread
        await asyncio.sleep(0.01)
        ticks += 1
    assert not short.done()
    other.execute("COMMIT")
    other.close()
    ran_on = await short
    assert ran_on != threading.get_ident()
    assert [n for n, _ in stored(path)] == [0, 1]


async def test_a_failed_short_transaction_rolls_back_and_the_next_one_commits(
    writer: SqliteWriter, path: Path
) -> None:
    def failing(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t VALUES (1, 0)")
        raise RuntimeError("the plan refused")

    with pytest.raises(RuntimeError, match="refused"):
        await writer.run_short(failing)
    assert stored(path) == []
    await writer.run_short(insert(2))
    assert [n for n, _ in stored(path)] == [2]


async def test_a_short_transaction_never_overtakes_a_job_handed_to_the_thread(
    writer: SqliteWriter, path: Path
) -> None:
    order: list[int] = []
    started = threading.Event()

    def slow(conn: sqlite3.Connection) -> None:
        started.set()
        threading.Event().wait(0.2)  # a retention chunk, say
        conn.execute("INSERT INTO t VALUES (1, 0)")
        order.append(1)

    long_job = asyncio.create_task(writer.run(slow))
    await asyncio.to_thread(started.wait, 5)
    ran_on = await writer.run_short(insert(2, order))
    await long_job
    assert order == [1, 2]
    assert ran_on != threading.get_ident()  # it queued on the thread behind the job
    assert [n for n, _ in stored(path)] == [1, 2]


async def test_commits_are_checkpointed_into_the_database_file_off_the_writer(
    writer: SqliteWriter, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "CHECKPOINT_COMMITS", 5)
    for n in range(4):
        await writer.run_short(insert(n))
    assert rows_in_the_file_alone(path, tmp_path / "before.db") == 0  # all in the WAL
    await writer.run_short(insert(4))
    running = writer._checkpoints._running
    assert running is not None
    await running
    assert rows_in_the_file_alone(path, tmp_path / "after.db") == 5


def rows_in_the_file_alone(path: Path, copy: Path) -> int:
    """The rows a checkpoint has copied into the database file (its WAL left behind)."""
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as conn:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])


async def test_an_event_whose_commit_fails_is_neither_published_nor_given_a_seq(
    manager: TaskManager, settings: Settings
) -> None:
    """The journal's commit on the loop: a failure rolls back, publishes nothing, and
    the next event takes the seq the failed one would have had."""
    task = await manager.get(await started(manager))
    seen = manager.journal.publisher.seen  # type: ignore[attr-defined]
    published = len(seen)
    with sqlite3.connect(settings.db_path) as conn:  # the disk refuses the event's row
        conn.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN {RAISE} END")
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        await manager.transition(task.id, EventType.PROGRESS, lambda t: t.evolve(progress=5),
                                 allowed=frozenset({TaskStatus.PROCESSING}))  # fmt: skip
    assert len(seen) == published and manager.store.log.head() == task.version
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DROP TRIGGER refuse")
    await manager.apply_progress(progress(task.id, 10))
    assert [e.seq for e in seen[published:]] == [task.version + 1]
    assert seen[-1].task.progress == 10
    replay = await manager.store.log.read_since(task.version, manager.epoch)
    assert replay == seen[published:]


RAISE = "SELECT RAISE(ABORT, 'refused');"


@pytest.fixture
async def manager(settings: Settings) -> AsyncIterator[TaskManager]:
    migrate(settings.db_path)
    store = open_sqlite(settings.db_path)
    m = TaskManager(store, RecordingPublisher())
    await m.start()
    yield m
    await store.close()


async def started(manager: TaskManager) -> str:
    return (await manager.mark_started((await manager.create(new_task()))[0].id)).id


async def test_a_change_is_committed_and_published_without_leaving_the_loop(
    manager: TaskManager,
) -> None:
    task_id = await started(manager)
    seen = manager.journal.publisher.seen  # type: ignore[attr-defined]
    step = manager.apply_progress(progress(task_id, 30))
    with pytest.raises(StopIteration):  # done at the first step: it never awaited
        step.send(None)
    assert seen[-1].task.progress == 30 and seen[-1].seq == manager.store.log.head()


async def test_changes_queue_in_order_behind_a_commit_that_waits_for_the_lock(
    manager: TaskManager, settings: Settings
) -> None:
    ids = [await started(manager) for _ in range(3)]
    seen = manager.journal.publisher.seen  # type: ignore[attr-defined]
    before, head = len(seen), manager.store.log.head()
    other = sqlite3.connect(settings.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writes: the commit waits
    reports = [manager.apply_progress(progress(task_id, 50)) for task_id in ids]
    waiting = [asyncio.create_task(report) for report in reports]
    await asyncio.sleep(0.2)
    assert len(seen) == before and not any(job.done() for job in waiting)
    late = asyncio.create_task(manager.apply_progress(progress(ids[0], 60)))
    await asyncio.sleep(0)  # submitted behind the others, not committed on its own
    other.execute("COMMIT")
    other.close()
    await asyncio.gather(*waiting, late)
    published = seen[before:]
    assert [e.seq for e in published] == list(range(head + 1, head + 5))
    assert [e.task.id for e in published] == [*ids, ids[0]]
    assert published[-1].task.progress == 60
    assert await manager.store.log.read_since(head, manager.epoch) == published
