"""The search index read ahead at start-up (records/warmup.py): every row of FTS5's
own tables is read, on a live database beside the writer, and a stop ends it early."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from tests.unit.test_manager import RecordingPublisher
from tests.unit.test_records_store import finished, make_result

from ocrlive.records import warmup
from ocrlive.settings import Settings
from ocrlive.store.db import migrate
from ocrlive.store.sqlite import open_sqlite
from ocrlive.tasks.manager import TaskManager


def index_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return sum(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                   for t in warmup.TABLES)  # fmt: skip


@pytest.fixture
async def indexed(settings: Settings) -> Path:
    """A database whose index holds three finished documents."""
    migrate(settings.db_path)
    store = open_sqlite(settings.db_path)
    manager = TaskManager(store, RecordingPublisher(), progress_interval=0.05)
    await manager.start()
    for word in ("haemoglobin", "platelets", "creatinine"):
        await finished(manager, make_result([(f"{word} within range", 0.9)]))
    await store.log.index_queued()
    await store.close()
    return settings.db_path


def test_every_row_of_the_index_tables_is_read(indexed: Path) -> None:
    rows = index_rows(indexed)
    assert rows > 3  # docsize has a row a page; idx and data their own
    assert warmup.warm_search_index(indexed, threading.Event()) == rows


def test_a_stop_ends_the_reading_between_fetches(
    indexed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warmup, "ROWS", 1)
    stop = threading.Event()
    stop.set()
    assert warmup.warm_search_index(indexed, stop) == 0


def test_a_database_without_the_index_reads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert warmup.warm_search_index(path, threading.Event()) == 0


async def test_the_server_stops_the_reading_at_exit_and_waits_for_it(
    indexed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []

    def slow(db_path: Path, stop: threading.Event) -> int:
        seen.append(stop.wait(30))  # a large index: still reading at exit
        return 0

    monkeypatch.setattr(warmup, "warm_search_index", slow)
    async with warmup.reading_ahead(indexed):
        pass
    assert seen == [True]
