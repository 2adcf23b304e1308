"""The task registry over the real SQLite event log (a real file), with a recording
publisher."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from ocrlive.errors import InvalidState, TaskNotFound
from ocrlive.events import Event, Publisher, Stage, TaskErrorCode
from ocrlive.ocr.types import LineJson, PageJson, Progress, TaskResult
from ocrlive.store.base import Store
from ocrlive.tasks.manager import NewTask, TaskManager
from ocrlive.tasks.retention import run_retention


class RecordingPublisher(Publisher):
    def __init__(self) -> None:
        self.seen: list[Event] = []

    def publish(self, event: Event) -> None:
        self.seen.append(event)


def new_task(key: str | None = None, priority: str = "normal") -> NewTask:
    return NewTask(
        patient_id="P-1", document_type="lab_report", filename="a.png",
        content_type="image/png", size=10, sha256="0" * 64, file_path="/nonexistent",
        priority=priority, idempotency_key=key,
    )  # fmt: skip


@pytest.fixture
async def manager(store: Store) -> TaskManager:
    m = TaskManager(store, RecordingPublisher(), progress_interval=0.05)
    await m.start()
    return m


def hub(manager: TaskManager) -> RecordingPublisher:
    publisher = manager.journal.publisher
    assert isinstance(publisher, RecordingPublisher)
    return publisher


async def logged_since(manager: TaskManager, since: int) -> list[Event]:
    events = await manager.store.log.read_since(since, manager.epoch)
    assert events is not None
    return events


def result(lines: int = 0) -> TaskResult:
    line: LineJson = {"text": "x", "score": 0.9, "box": [[0, 0], [1, 0], [1, 1], [0, 1]]}
    page: PageJson = {"number": 1, "width": 1, "height": 1, "text": "x", "lines": [line] * lines}
    return {
        "task_id": "t",
        "text": "x",
        "score": 0.9,
        "engine": {},
        "pages": [page] if lines else [],
    }


def progress(task_id: str, value: float, stage: Stage = Stage.RECOGNIZING) -> Progress:
    return Progress(task_id, stage, value, f"at {value}", 1, 2)


async def test_lifecycle_appends_events_with_increasing_seqs(manager: TaskManager) -> None:
    task, created = await manager.create(new_task())
    assert created and task.status == "queued"
    await manager.mark_started(task.id)
    await manager.apply_progress(progress(task.id, 40))
    done = await manager.complete(task.id, result(lines=1))
    assert done.status == "completed" and done.progress == 100 and done.pages_total == 1
    kinds = [e.type for e in hub(manager).seen]
    assert kinds == ["task.created", "task.started", "task.progress", "task.completed"]
    seqs = [e.seq for e in hub(manager).seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert done.version == seqs[-1]
    logged = await logged_since(manager, 0)
    assert await manager.store.tasks.result(task.id) is not None
    assert [e.seq for e in logged] == seqs
    assert logged[-1].task == done


async def test_finished_tasks_refuse_further_changes(manager: TaskManager) -> None:
    task, _ = await manager.create(new_task())
    await manager.cancel(task.id)
    with pytest.raises(InvalidState):
        await manager.mark_started(task.id)
    with pytest.raises(InvalidState):
        await manager.cancel(task.id)
    with pytest.raises(TaskNotFound):
        await manager.get("nope")
    retried = await manager.requeue(task.id, "again", reset_attempts=True)
    assert retried.status == "queued" and retried.error is None


async def test_idempotency_key_returns_the_existing_task(manager: TaskManager) -> None:
    first, created = await manager.create(new_task(key="k1"))
    again, created_again = await manager.create(new_task(key="k1"))
    assert created and not created_again and again.id == first.id
    assert len(hub(manager).seen) == 1


async def test_progress_is_coalesced_and_the_newest_wins(manager: TaskManager) -> None:
    task, _ = await manager.create(new_task())
    await manager.mark_started(task.id)
    for n in range(1, 21):
        manager.report_progress(progress(task.id, n * 4))
    await asyncio.sleep(0.2)
    events = [e for e in hub(manager).seen if e.type == "task.progress"]
    assert 2 <= len(events) <= 3, [e.task.progress for e in events]
    assert events[0].task.progress == 4  # the first report goes out at once
    assert events[-1].task.progress == 80  # the newest pending one is flushed


async def test_a_terminal_event_drops_pending_progress(manager: TaskManager) -> None:
    task, _ = await manager.create(new_task())
    await manager.mark_started(task.id)
    manager.report_progress(progress(task.id, 10))
    manager.report_progress(progress(task.id, 20))  # pending behind the interval
    await asyncio.sleep(0)
    await manager.fail(task.id, TaskErrorCode.ENGINE_ERROR, "boom")
    await asyncio.sleep(0.15)
    kinds = [e.type for e in hub(manager).seen]
    assert kinds[-1] == "task.failed"
    assert hub(manager).seen[-1].task.error == {"code": "engine_error", "message": "boom"}


async def test_retention_compacts_then_purges_and_raises_the_floor(
    manager: TaskManager, tmp_path: Path
) -> None:
    task, _ = await manager.create(new_task())
    active, _ = await manager.create(new_task())
    await manager.mark_started(task.id)
    await manager.apply_progress(progress(task.id, 50))
    await manager.complete(task.id, result())
    log = manager.store.log
    report = await run_retention(
        log, tmp_path / "pages", retention=timedelta(days=1), compact_after=timedelta(0)
    )
    assert report.compacted_events == 1 and report.purged_tasks == 0
    assert await log.read_since(0, manager.epoch) is None  # a hole now lies below the floor
    report = await run_retention(
        log, tmp_path / "pages", retention=timedelta(0), compact_after=timedelta(0)
    )
    assert report.purged_tasks == 1
    assert await manager.store.tasks.get(task.id) is None
    assert await manager.store.tasks.get(active.id) is not None  # nothing active is touched
    floor = log.floor()
    last = await logged_since(manager, floor)
    assert floor == hub(manager).seen[-1].seq
    assert last == []  # the active task's only event is below the floor (seq 2)
    newer, _ = await manager.create(new_task())
    assert newer.version > floor  # seqs never go back after a purge
    reopened = type(log)(log._writer, log._reader)  # type: ignore[attr-defined]
    await reopened.open()  # the floor and the head outlive the process
    assert (reopened.floor(), reopened.head(), reopened.epoch) == (
        floor,
        newer.version,
        manager.epoch,
    )


async def test_recovery_gives_a_snapshot_when_the_log_was_purged_past_since(
    manager: TaskManager, tmp_path: Path
) -> None:
    from ocrlive.ws.recovery import RecoveryService

    task, _ = await manager.create(new_task())
    await manager.mark_started(task.id)
    await manager.complete(task.id, result())
    store = manager.store
    service = RecoveryService(store.log, store.tasks, manager.live)
    kept = await service.recover(None, 1, manager.epoch)
    assert kept is not None and kept.recovered and [e.seq for e in kept.events] == [2, 3]
    assert [t["id"] for t in json.loads(kept.snapshot)] == [task.id]
    await run_retention(
        store.log, tmp_path / "pages", retention=timedelta(0), compact_after=timedelta(0),
        live=manager.live,
    )  # fmt: skip
    lost = await service.recover(None, 1, manager.epoch)
    assert lost is not None and not lost.recovered and lost.events == []
    assert json.loads(lost.snapshot) == [] and lost.seq == 3
    assert await service.recover("missing", None, manager.epoch) is None


def count_reads(
    manager: TaskManager, sinces: list[object] | None = None, gate: asyncio.Event | None = None
) -> list[int]:
    """Wrap the log's read_since: [reads so far, most at once], each answer 5 ms late
    (or held until `gate` is set); each read's `since` is appended to `sinces`."""
    log, counts = manager.store.log, [0, 0]
    read_since, reading = log.read_since, [0]

    async def counted(*args: object, **kwargs: object) -> list[Event] | None:
        counts[0] += 1
        if sinces is not None:
            sinces.append(args[0])
        reading[0] += 1
        counts[1] = max(counts[1], reading[0])
        try:
            found = await read_since(*args, **kwargs)  # type: ignore[arg-type]
            await (gate.wait() if gate else asyncio.sleep(0.005))  # a slow database
            return found
        finally:
            reading[0] -= 1

    log.read_since = counted  # type: ignore[method-assign]
    return counts


async def test_a_storm_of_recoveries_reads_the_log_a_few_at_a_time(manager: TaskManager) -> None:
    """1,000 resuming clients at once must wait for the log in the recovery service, not
    in the database pool (whose timeout answered internal_error); those resuming from
    the same position share one read."""
    from ocrlive.ws.recovery import READS_AT_ONCE, RecoveryService

    tasks = [(await manager.create(new_task()))[0] for _ in range(8)]
    for task in tasks:
        await manager.mark_started(task.id)
    counts = count_reads(manager)
    service = RecoveryService(manager.store.log, manager.store.tasks, manager.live)
    wanted = [t.id for t in tasks] * 5  # 8 positions, 40 clients
    found = await asyncio.gather(*(service.recover(i, 1, manager.epoch) for i in wanted))
    assert all(r is not None and r.recovered and r.events for r in found)
    by_task = {r.task.id: [e.seq for e in r.events] for r in found if r and r.task}
    assert all([e.seq for e in r.events] == by_task[r.task.id] for r in found if r and r.task)
    assert counts == [8, READS_AT_ONCE]


async def test_a_client_joining_a_read_gets_what_was_published_since(
    manager: TaskManager,
) -> None:
    from ocrlive.ws.recovery import RecoveryService

    task, _ = await manager.create(new_task())
    await manager.mark_started(task.id)
    sinces: list[object] = []
    gate = asyncio.Event()
    counts = count_reads(manager, sinces, gate)
    service = RecoveryService(manager.store.log, manager.store.tasks, manager.live)
    first = asyncio.ensure_future(service.recover(task.id, 1, manager.epoch))
    while counts[0] == 0:  # until its read has begun
        await asyncio.sleep(0)
    await manager.apply_progress(progress(task.id, 10.0))  # published after that read began
    second = asyncio.ensure_future(service.recover(task.id, 1, manager.epoch))
    for _ in range(5):  # the second joins the first's read
        await asyncio.sleep(0)
    gate.set()
    early, late = await first, await second
    assert early is not None and late is not None
    assert [e.seq for e in early.events] == [e.seq for e in late.events] == [2, 3]
    assert sinces.count(1) == 1  # one shared read; the rest topped up from seq 2


async def test_concurrent_changes_share_commits_and_keep_seq_order(manager: TaskManager) -> None:
    tasks = await asyncio.gather(*(manager.create(new_task()) for _ in range(20)))
    ids = [t.id for t, _ in tasks]
    await asyncio.gather(*(manager.mark_started(i) for i in ids))
    same_key = await asyncio.gather(*(manager.create(new_task(key="dup")) for _ in range(5)))
    assert sum(created for _, created in same_key) == 1
    assert len({t.id for t, _ in same_key}) == 1
    results = await asyncio.gather(
        *(manager.mark_started(i) for i in ids[:3]), return_exceptions=True
    )  # already started: refused one by one, the rest of the batch unaffected
    assert all(isinstance(r, InvalidState) for r in results)
    seqs = [e.seq for e in hub(manager).seen]
    assert seqs == list(range(1, len(seqs) + 1))
    logged = await logged_since(manager, 0)
    rows = {i: await manager.store.tasks.get(i) for i in ids}
    assert [e.seq for e in logged] == seqs
    assert all(row is not None and row.status == "processing" for row in rows.values())


async def test_a_late_progress_in_the_same_batch_never_revives_a_completed_task(
    manager: TaskManager,
) -> None:
    """complete() and a late progress report for the same task committed together: the
    report must see the task completed (and be refused), not the stored row."""
    task, _ = await manager.create(new_task())
    await manager.mark_started(task.id)
    manager.journal._active.clear()  # as after a restart: the rows are the only truth
    done, _late = await asyncio.gather(
        manager.complete(task.id, result(1)),
        manager.apply_progress(progress(task.id, 90)),
        return_exceptions=True,
    )
    assert not isinstance(done, BaseException)
    stored = await manager.store.tasks.get(task.id)
    assert stored is not None and stored.status == "completed"
    assert hub(manager).seen[-1].type == "task.completed"


async def test_snapshots_and_replays_from_memory_agree_with_the_store(
    manager: TaskManager, store: Store
) -> None:
    """LiveTasks and the log's recent events are caches: what they serve equals what
    a fresh read of the database says (the snapshot's order included)."""
    ids = [(await manager.create(new_task()))[0].id for _ in range(4)]
    await manager.mark_started(ids[0])
    await manager.apply_progress(progress(ids[0], 30))
    await manager.complete(ids[0], result())
    await manager.cancel(ids[1])
    cached = json.loads(manager.live.snapshot_json())
    stored = [t.to_json() for t in await store.tasks.snapshot(manager.live.finished_limit)]
    assert cached == stored
    memory = await store.log.read_since(2, manager.epoch, task_id=ids[0])
    store.log._recent.clear()  # type: ignore[attr-defined]  # now from the database
    disk = await store.log.read_since(2, manager.epoch, task_id=ids[0])
    assert memory == disk and memory is not None and [e.task.id for e in memory] == [ids[0]] * 3
    fresh = TaskManager(store, RecordingPublisher())
    await fresh.live.load(store.tasks)  # after a restart: loaded from the store
    assert json.loads(fresh.live.snapshot_json()) == stored


async def test_a_task_topic_at_or_past_the_tasks_version_needs_no_replay(
    manager: TaskManager, store: Store
) -> None:
    """Other tasks moved the head on; the client's task did not: recovered, nothing to
    replay, and nothing read from the log (the recent events are not even there)."""
    from ocrlive.ws.recovery import RecoveryService

    quiet, _ = await manager.create(new_task())
    busy, _ = await manager.create(new_task())
    await manager.mark_started(busy.id)
    await manager.apply_progress(progress(busy.id, 10))
    store.log._recent.clear()  # type: ignore[attr-defined]
    service = RecoveryService(store.log, store.tasks, manager.live)
    rec = await service.recover(quiet.id, quiet.version, manager.epoch)
    assert rec is not None and rec.recovered and rec.events == []
    assert rec.seq == store.log.head() > quiet.version
    behind = await service.recover(busy.id, busy.version, manager.epoch)  # from the database
    assert behind is not None and [e.type for e in behind.events] == [
        "task.started",
        "task.progress",
    ]
