"""SQLite's full-text index filled in batches (store/sqlite/indexing.py): a completed
document waits in `search_pending`, committed with its result, and is still found by
the next search, indexed a moment later without one, and after a crash at start-up."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from tests.unit.test_manager import RecordingPublisher
from tests.unit.test_records_store import edit, finished, ids, make_result, search

from ocrlive.records import open_records
from ocrlive.records.base import Records
from ocrlive.settings import Settings
from ocrlive.store.db import alembic_config, migrate
from ocrlive.store.sqlite import indexing, open_sqlite
from ocrlive.tasks.manager import TaskManager


def queued(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM search_pending").fetchone()[0])


@pytest.fixture
def path(settings: Settings) -> Path:
    migrate(settings.db_path)
    return settings.db_path


@pytest.fixture
async def manager(path: Path) -> AsyncIterator[TaskManager]:
    store = open_sqlite(path)
    m = TaskManager(store, RecordingPublisher(), progress_interval=0.05)
    await m.start()
    yield m
    await store.close()


@pytest.fixture
async def unsettled(path: Path) -> AsyncIterator[Records]:
    """Search on the index as it is, without indexing the queue first."""
    opened = open_records(path)
    yield opened
    await opened.close()


async def test_a_search_right_after_the_completion_finds_the_queued_document(
    manager: TaskManager, path: Path, unsettled: Records
) -> None:
    task = await finished(manager, make_result([("Haemoglobin low", 0.9)]))
    assert queued(path) == 1  # committed with the result, not yet indexed
    assert ids(await search(unsettled, "haemoglobin")) == []
    records = open_records(path, manager.store.log.index_queued)
    try:
        assert ids(await search(records, "haemoglobin")) == [task.id]
    finally:
        await records.close()
    assert queued(path) == 0


async def test_a_full_batch_is_indexed_right_after_its_completion_and_the_rest_soon(
    manager: TaskManager, path: Path, unsettled: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexing, "BATCH", 3)
    monkeypatch.setattr(indexing, "DELAY_S", 0.2)
    tasks = [await finished(manager, make_result([(f"Sodium {n}", 0.9)])) for n in range(3)]
    await asyncio.sleep(0)  # the next loop turn: the batch's flush goes to the writer's thread
    tasks.append(await finished(manager, make_result([("Sodium 3", 0.9)])))
    assert queued(path) == 1  # the third filled the batch, indexed before the fourth's write
    assert set(ids(await search(unsettled, "sodium"))) == {t.id for t in tasks[:3]}
    for _ in range(50):
        await asyncio.sleep(0.05)
        if not queued(path):
            break
    assert set(ids(await search(unsettled, "sodium"))) == {t.id for t in tasks}


async def test_a_queue_left_by_a_crash_is_indexed_when_the_store_opens(
    manager: TaskManager, path: Path, unsettled: Records
) -> None:
    task = await finished(manager, make_result([("Potassium raised", 0.9)]))
    assert queued(path) == 1
    # The first process is gone before its queue was indexed: the next one opens.
    store = open_sqlite(path)
    await store.log.open()
    assert queued(path) == 0
    assert ids(await search(unsettled, "potassium")) == [task.id]
    await store.close()


async def test_a_correction_retag_or_purge_of_a_queued_document_applies_at_once(
    manager: TaskManager, path: Path, unsettled: Records
) -> None:
    task = await finished(manager, make_result([("Creatinine normal", 0.5)]))
    await manager.edit_line(task.id, edit(1, 0, "correct", "Creatinine raised", "nurse"))
    assert queued(path) == 0  # the correction indexed it, once
    assert ids(await search(unsettled, "raised")) == [task.id]
    assert ids(await search(unsettled, "normal")) == []
    other = await finished(manager, make_result([("Glucose high", 0.5)]))
    await manager.store.log.purge("9999-12-31")
    assert queued(path) == 0 and ids(await search(unsettled, "glucose")) == []
    assert ids(await search(unsettled, "raised")) == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM search_docs").fetchone() == (0,)
    assert other.id not in ids(await search(unsettled, "glucose"))


async def test_the_pages_the_writer_holds_are_indexed_as_the_view_reads_them(
    manager: TaskManager, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer indexes the queue from the results it stored (parsed) rather than
    reading them back from their JSON: the rows are byte for byte the view's."""
    monkeypatch.setattr(indexing, "DELAY_S", 60.0)  # indexed here, not by the timer
    for patient in ("P-1", "Pätient 2/ü"):
        await finished(manager, make_result([("Sodium 140", 0.9)], [("Über Ärztin", 0.8)]),
                       patient=patient, doc_type="referral_letter")  # fmt: skip
    with sqlite3.connect(path) as conn:
        expected = conn.execute(f"{indexing.PAGES} ORDER BY id").fetchall()
    assert len(expected) == 4
    monkeypatch.setattr(indexing, "PAGES", "SELECT no_such_column FROM search_pending")
    await manager.store.log.index_queued()  # the held pages; the view would fail now
    with sqlite3.connect(path) as conn:
        indexed = conn.execute(
            "SELECT rowid, body, tags, task_id, page FROM search_pages ORDER BY rowid"
        ).fetchall()
    assert indexed == expected


def test_a_batch_reads_only_the_queued_documents_not_the_whole_index(path: Path) -> None:
    """The batch's look-up of its documents' ids costs what the queue holds, whatever
    the size of the index: with the queue as the inner loop the planner walked all of
    search_docs (~13 ms a batch at 185,000 pages, indexing.py)."""
    with sqlite3.connect(path) as conn:
        conn.executemany("INSERT INTO search_docs (task_id, status) VALUES (?, 'completed')",
                         [(f"doc{n:07d}",) for n in range(20_000)])  # fmt: skip
        conn.executemany("INSERT INTO search_pending (task_id) VALUES (?)",
                         [("doc0000007",), ("doc0019999",)])  # fmt: skip
        steps = [0]

        def count() -> int:
            steps[0] += 1
            return 0

        conn.set_progress_handler(count, 1)  # one call per virtual machine instruction
        found = conn.execute(indexing.QUEUED_DOCS).fetchall()
        conn.set_progress_handler(None, 1)
    assert sorted(found) == [("doc0000007", 8), ("doc0019999", 20_000)]
    assert steps[0] < 200  # the old plan: 60,016 for the 20,000 documents


def automerge(path: Path) -> int | None:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT v FROM search_pages_config WHERE k = 'automerge'").fetchone()
    return None if row is None else int(row[0])


def test_the_index_merges_sixteen_segments_a_level_and_four_after_a_downgrade(
    path: Path,
) -> None:
    """Migration 0009: FTS5 rewrites a page about half as often with 16 (0.177 against
    0.248 ms of CPU a document after 100,000), and the downgrade puts FTS5's default back."""
    assert automerge(path) == 16
    command.downgrade(alembic_config(path), "0008_search_pairs")
    assert automerge(path) == 4
    command.upgrade(alembic_config(path), "head")
    assert automerge(path) == 16
