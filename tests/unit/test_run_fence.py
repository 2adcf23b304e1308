"""A run cancelled and retried at once never completes the retried task (issue #9), nor
replaces its page images, and a run cancelled on another node stops on the node that
reads it.

On PostgreSQL, node A reads a document; node B cancels it and retries it at once, and
reads it itself; A, which never heard of the cancel, reports late progress and its
result: both are dropped, and the task completes once, with B's reading. On SQLite
(one node) the same cancel and retry on A itself. Real databases, each node with its
own store and connections, as two processes have. The executor is a gate the test
opens: what is tested is when a late result arrives, not how a page is read."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image
from tests.unit.test_manager import RecordingPublisher, new_task

from ocrlive.events import EventType, Stage, Task, TaskStatus
from ocrlive.ocr.types import OcrJob, OcrPage, OcrResult, Progress
from ocrlive.settings import Settings
from ocrlive.store import open_store
from ocrlive.store.base import Store
from ocrlive.store.db import is_url
from ocrlive.tasks.manager import TaskManager
from ocrlive.tasks.runner import Runner

WAIT_S = 10.0
RED, BLUE = (200, 0, 0), (0, 0, 200)


class GatedExecutor:
    """Each run reports that it reads, waits until the test opens its gate, reports
    once more and returns a page that says which run read it. Like a node that never
    hears of a cancel made on another node, its `cancel` stops nothing (it is recorded).
    Given an image for a reader (`images`), it writes it as the page's image when the
    reader's gate opens, by a writer
    that a cancel does not stop (a pool worker's write, or Dask's save in a thread,
    already under way when its run is cancelled)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gates: asyncio.Queue[asyncio.Event] = asyncio.Queue()
        self.runs = 0
        self.versions: dict[str, str] = {}
        self.restart_causes: Counter[str] = Counter()
        self.on_reconnect: Callable[[], None] | None = None
        self.size, self.busy, self.queue_depth = 1, 0, 0
        self.broken: set[str] = set()  # readers that end in a bug, not a result
        self.cancelled: list[str] = []
        self.images: dict[str, bytes] = {}  # reader -> the page image it writes
        self.writes: list[asyncio.Task[None]] = []

    async def run(self, job: OcrJob, on_progress: Callable[[Progress], None]) -> OcrResult:
        self.runs += 1
        reader = f"{self.name}-{self.runs}"
        gate = asyncio.Event()
        self.gates.put_nowait(gate)
        if reader in self.images:
            image = self.images[reader]
            write = self._write_late(gate, Path(job.pages_dir) / "page-1.png", image)
            self.writes.append(asyncio.ensure_future(write))
        on_progress(Progress(job.task_id, Stage.RECOGNIZING, 10.0, f"{reader} reads", 1, 1))
        await gate.wait()
        if reader in self.broken:
            raise RuntimeError(f"{reader}: a bug")
        on_progress(Progress(job.task_id, Stage.RECOGNIZING, 90.0, f"{reader} is done", 1, 1))
        return OcrResult(pages=[OcrPage(number=1, width=10, height=10)], engine={"by": reader})

    async def next_gate(self) -> asyncio.Event:
        async with asyncio.timeout(WAIT_S):
            return await self.gates.get()

    @staticmethod
    async def _write_late(gate: asyncio.Event, path: Path, image: bytes) -> None:
        await gate.wait()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image)

    def cancel(self, task_id: str) -> bool:
        self.cancelled.append(task_id)
        return False

    def status(self) -> list[dict[str, object]]:
        return []


@dataclass
class Node:
    store: Store
    manager: TaskManager
    runner: Runner
    executor: GatedExecutor


@pytest.fixture
async def nodes(database: Path | str, settings: Settings) -> AsyncIterator[tuple[Node, Node]]:
    """Nodes A and B: two on PostgreSQL; on SQLite (one process per file) A twice."""
    made: list[Node] = []
    for name in ("a", "b") if is_url(database) else ("a",):
        store = open_store(database)
        manager = TaskManager(store, RecordingPublisher(), progress_interval=0.01)
        await manager.start()
        executor = GatedExecutor(name)
        runner = Runner(manager, executor, settings.pages_dir, queue_limit=10, concurrency=1)  # type: ignore[arg-type]
        await runner.start()
        made.append(Node(store, manager, runner, executor))
    yield made[0], made[-1]
    for node in made:
        await node.runner.close()
        await node.store.close()


async def until_status(manager: TaskManager, task_id: str, status: TaskStatus) -> None:
    async with asyncio.timeout(WAIT_S):
        while (await manager.get(task_id)).status != status:
            await asyncio.sleep(0.02)


async def test_a_late_result_of_a_cancelled_run_never_completes_the_retried_task(
    nodes: tuple[Node, Node],
) -> None:
    a, b = nodes
    task, _ = await a.runner.submit(new_task())
    first = await a.executor.next_gate()  # A reads it
    first_run = a.runner.running[task.id]
    await b.runner.cancel(task.id)
    await b.runner.retry(task.id)
    second = await b.executor.next_gate()  # the retried run, read by B
    first.set()  # A's late report and result (on SQLite its run was stopped)
    await asyncio.wait([first_run], timeout=WAIT_S)
    assert first_run.done()
    await asyncio.sleep(0.1)  # past the progress interval: a late report is stored now
    now = await b.manager.get(task.id)
    assert now.status == TaskStatus.PROCESSING, now
    second.set()
    await until_status(b.manager, task.id, TaskStatus.COMPLETED)
    reader = f"{b.executor.name}-{b.executor.runs}"
    result = await b.store.tasks.result(task.id)
    assert result is not None and result["engine"]["by"] == reader
    events = await b.store.log.read_since(0, b.manager.epoch, task_id=task.id)
    assert events is not None
    cancelled = [e.type for e in events].index(EventType.CANCELLED)
    assert [e.type for e in events if e.type != EventType.PROGRESS] == [
        EventType.CREATED, EventType.STARTED, EventType.CANCELLED, EventType.REQUEUED,
        EventType.STARTED, EventType.COMPLETED,
    ]  # fmt: skip
    after = [e.task.message for e in events[cancelled:] if e.type == EventType.PROGRESS]
    assert after and all(m.startswith(reader) for m in after), after


async def test_a_bug_in_a_cancelled_run_never_fails_the_retried_task(
    nodes: tuple[Node, Node],
) -> None:
    """An unexpected error fails a task with engine_error, but only in its own run."""
    a, b = nodes
    a.executor.broken.add("a-1")
    task, _ = await a.runner.submit(new_task())
    first = await a.executor.next_gate()
    first_run = a.runner.running[task.id]
    await b.runner.cancel(task.id)
    await b.runner.retry(task.id)
    second = await b.executor.next_gate()
    first.set()  # A's run ends in its bug (on SQLite its run was stopped before)
    await asyncio.wait([first_run], timeout=WAIT_S)
    assert first_run.done()
    now = await b.manager.get(task.id)
    assert now.status == TaskStatus.PROCESSING, now
    second.set()
    await until_status(b.manager, task.id, TaskStatus.COMPLETED)


async def test_a_bug_in_the_current_run_fails_the_task(nodes: tuple[Node, Node]) -> None:
    a, _ = nodes
    a.executor.broken.add("a-1")
    task, _ = await a.runner.submit(new_task())
    (await a.executor.next_gate()).set()
    await until_status(a.manager, task.id, TaskStatus.FAILED)
    failed = await a.manager.get(task.id)
    assert failed.error is not None and failed.error["code"] == "engine_error", failed


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_run_cancelled_on_another_node_stops_where_it_reads(
    nodes: tuple[Node, Node],
) -> None:
    """Node A hears B's cancel and stops its run as a cancel on A does: the executor told
    to forget the job, the run ended while its reader still waits (its gate is never
    opened), instead of reading the document to its end for a dropped result. Only on
    PostgreSQL: on SQLite one node serves the file, so every cancel is a local one."""
    a, b = nodes
    task, _ = await a.runner.submit(new_task())
    gate = await a.executor.next_gate()
    run = a.runner.running[task.id]
    await b.runner.cancel(task.id)
    await asyncio.wait([run], timeout=WAIT_S)
    assert run.done() and not gate.is_set()
    assert a.executor.cancelled == [task.id]
    assert task.id not in a.runner.running
    assert (await a.manager.get(task.id)).status == TaskStatus.CANCELLED


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_cancel_heard_as_the_run_starts_stops_it_before_it_reads(
    nodes: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    """B's cancel is committed, and heard on A, between the commit of A's task.started
    and A's runner learning which run that started: the run stops before it reads."""
    a, b = nodes
    start = a.manager.mark_started

    async def started_then_cancelled_elsewhere(task_id: str) -> Task:
        task = await start(task_id)
        await b.runner.cancel(task_id)
        async with asyncio.timeout(WAIT_S):  # until A has heard it
            while (a.manager.live.get(task_id) or task).status != TaskStatus.CANCELLED:
                await asyncio.sleep(0.01)
        return task

    monkeypatch.setattr(a.manager, "mark_started", started_then_cancelled_elsewhere)
    task, _ = await a.runner.submit(new_task())
    async with asyncio.timeout(WAIT_S):
        while (await a.manager.get(task.id)).status != TaskStatus.CANCELLED:
            await asyncio.sleep(0.01)
        while task.id in a.runner.running or task.id in a.runner.queue:
            await asyncio.sleep(0.01)
    assert a.executor.runs == 0


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_task_queued_here_and_cancelled_on_another_node_leaves_the_queue(
    nodes: tuple[Node, Node],
) -> None:
    """A's only reader is busy, so its second task waits in A's queue; cancelled on B
    and retried there at once, it must not be read by A too (A would start the task
    that B now owns and has queued)."""
    a, b = nodes
    await a.runner.submit(new_task())
    busy = await a.executor.next_gate()
    queued, _ = await a.runner.submit(new_task())
    await b.runner.cancel(queued.id)
    async with asyncio.timeout(WAIT_S):
        while queued.id in a.runner.queue:
            await asyncio.sleep(0.01)
    await b.runner.retry(queued.id)
    (await b.executor.next_gate()).set()
    busy.set()
    await until_status(b.manager, queued.id, TaskStatus.COMPLETED)
    assert a.executor.runs == 1


async def test_a_stale_run_writing_late_never_replaces_the_current_runs_images(
    nodes: tuple[Node, Node], database: Path | str, make_settings: Callable[..., Settings],
    start_app: Callable[..., Any],
) -> None:  # fmt: skip
    """A reads; the task is cancelled and retried through B, which reads and completes
    it; then A's image, whose write was under way, lands. The page image served for the
    result (by its `image_url`, and by the plain page route) and the one the searchable
    PDF embeds are B's. On SQLite the same cancel and retry on one node: a cancel does
    not stop a pool worker's write in flight either."""
    a, b = nodes
    a.executor.images["a-1"] = png(RED)
    task, _ = await a.runner.submit(new_task())
    first = await a.executor.next_gate()
    b.executor.images[f"{b.executor.name}-{b.executor.runs + 1}"] = png(BLUE)  # the retry
    await b.runner.cancel(task.id)
    await b.runner.retry(task.id)
    (await b.executor.next_gate()).set()
    await until_status(b.manager, task.id, TaskStatus.COMPLETED)
    first.set()
    await asyncio.gather(*a.executor.writes, *b.executor.writes)  # A's late image lands
    client = await start_app(make_settings(database_url=database if is_url(database) else ""))
    async with client.get(f"/api/tasks/{task.id}/result") as resp:
        page = (await resp.json())["pages"][0]
    for url in (page["image_url"], f"/api/tasks/{task.id}/pages/1.png"):
        async with client.get(url) as resp:
            assert resp.status == 200, url
            assert colour(await resp.read()) == BLUE, url
    async with client.get(f"/api/tasks/{task.id}/export.pdf") as resp:
        pdf = pdfium.PdfDocument(await resp.read())
    rendered = pdf[0].render(scale=10).to_pil()
    assert nearest(rendered.getpixel((rendered.width // 2, rendered.height // 2))) == BLUE


def png(rgb: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10), rgb).save(out, format="PNG")
    return out.getvalue()


def colour(data: bytes) -> tuple[int, int, int]:
    return nearest(Image.open(io.BytesIO(data)).convert("RGB").getpixel((5, 5)))


def nearest(pixel: Any) -> tuple[int, int, int]:
    """RED or BLUE, whichever the pixel is closer to (a rendered PDF blends a little)."""
    rgb = pixel[:3]
    return min((RED, BLUE), key=lambda c: sum((p - q) ** 2 for p, q in zip(rgb, c, strict=True)))


async def test_a_result_stored_before_runs_had_folders_shows_its_images_as_before(
    nodes: tuple[Node, Node], database: Path | str, settings: Settings,
    make_settings: Callable[..., Settings], start_app: Callable[..., Any],
) -> None:  # fmt: skip
    """An existing installation's result names no run; its images are page-N.png in the
    task's folder: the page route and the export still find them there."""
    a, _ = nodes
    task, _ = await a.manager.create(new_task())
    run = (await a.manager.mark_started(task.id)).version
    page = {"number": 1, "width": 10, "height": 10, "rotation": 0, "text": "", "lines": [],
            "image_url": f"/api/tasks/{task.id}/pages/1.png"}  # fmt: skip
    old = {"task_id": task.id, "text": "", "score": 0.0, "engine": {}, "pages": [page]}
    await a.manager.complete(task.id, old, run=run)  # type: ignore[arg-type]
    (settings.pages_dir / task.id).mkdir(parents=True)
    (settings.pages_dir / task.id / "page-1.png").write_bytes(png(RED))
    client = await start_app(make_settings(database_url=database if is_url(database) else ""))
    async with client.get(page["image_url"]) as resp:
        assert resp.status == 200 and colour(await resp.read()) == RED
    async with client.get(f"/api/tasks/{task.id}/export.pdf") as resp:
        rendered = pdfium.PdfDocument(await resp.read())[0].render(scale=10).to_pil()
    assert nearest(rendered.getpixel((rendered.width // 2, rendered.height // 2))) == RED
    async with client.get(f"/api/tasks/{task.id}/pages/1.png?run=0") as resp:
        assert resp.status == 400
