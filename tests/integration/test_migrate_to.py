"""`ocrlive migrate-to URL`: a SQLite installation with finished, corrected and queued
tasks, people, API tokens and an audit log, moved onto a real PostgreSQL server, keeps
its tasks, results and revisions, events, seqs and epoch; people sign in with the same
token; the audit chain verifies; search finds the corrected text."""

from __future__ import annotations

import pytest
from tests.helpers.people import token_for
from tests.unit.test_manager import RecordingPublisher, new_task
from tests.unit.test_records_store import edit, make_result

from ocrlive.audit.log import AuditLog
from ocrlive.events import TaskStatus
from ocrlive.identity import people
from ocrlive.identity.secrets import digest
from ocrlive.identity.service import Identity, IdentityConfig
from ocrlive.records import open_records
from ocrlive.records.base import SearchFilters
from ocrlive.records.query import parse_query
from ocrlive.settings import Settings
from ocrlive.store import audit as audit_store
from ocrlive.store import open_store
from ocrlive.store import people as people_store
from ocrlive.store.copy import TargetNotEmpty, copy_sqlite_to
from ocrlive.store.database import Database
from ocrlive.store.db import migrate
from ocrlive.tasks.manager import TaskManager


async def sqlite_installation(settings: Settings) -> tuple[TaskManager, str]:
    """Tasks (one corrected), an admin with an API token (which audits itself)."""
    migrate(settings.db_path)
    token = await token_for(settings, "admin", "admin")
    manager = TaskManager(open_store(settings.db_path), RecordingPublisher())
    await manager.start()
    done, _ = await manager.create(new_task("first"))
    await manager.mark_started(done.id)
    await manager.complete(done.id, make_result([("potasium 4.1", 0.5), ("signed", 0.99)]))
    await manager.edit_line(done.id, edit(1, 0, "correct", "potassium 4.1", "admin", 1))
    await manager.create(new_task("second"))
    return manager, token


async def test_everything_moves_to_postgres(settings: Settings, database_url: str) -> None:
    manager, token = await sqlite_installation(settings)
    sqlite = manager.store
    before = await sqlite.log.read_since(0, manager.epoch)
    epoch, head = manager.epoch, sqlite.log.head()
    done = await sqlite.tasks.find_by_idempotency_key("first")
    waiting = await sqlite.tasks.find_by_idempotency_key("second")
    assert done is not None and waiting is not None
    await sqlite.close()

    counts = copy_sqlite_to(settings.db_path, database_url)
    assert (counts["tasks"], counts["events"], counts["results"]) == (2, 5, 1)
    assert (counts["line_edits"], counts["users"], counts["api_tokens"]) == (1, 1, 1)
    assert counts["audit_log"] >= 2  # the person and the token were recorded

    postgres = open_store(database_url)
    records = open_records(database_url)
    try:
        await postgres.log.open()
        assert (postgres.log.epoch, postgres.log.head()) == (epoch, head)
        assert await postgres.log.read_since(0, epoch) == before
        queued = await postgres.tasks.get(waiting.id)
        assert queued is not None and queued.status == TaskStatus.QUEUED
        current = await records.reads.current(done.id)
        assert current is not None and current[1] == 2  # the correction's revision
        history = await records.reads.history(done.id)
        assert [e["text_after"] for e in history["edits"]] == ["potassium 4.1"]
        found = await records.search.search(
            parse_query("potassium"), SearchFilters(), limit=10, offset=0
        )
        assert [h.task.id for h in found.hits] == [done.id]
        async with postgres.db.read() as conn:  # the same secret finds its token and owner
            stored = await people_store.get_token(conn, digest(token))
            owner = await people_store.get_user(conn, stored.user_id) if stored else None
        assert owner is not None and owner.username == "admin" and owner.password_hash
        verdict = await postgres.db.writer.run(audit_store.verify)
        assert verdict.ok and verdict.rows == counts["audit_log"]
    finally:
        await records.close()
        await postgres.close()
    with pytest.raises(TargetNotEmpty):
        copy_sqlite_to(settings.db_path, database_url)


async def test_ids_given_after_the_move_follow_the_copied_ones(
    settings: Settings, database_url: str
) -> None:
    manager, _ = await sqlite_installation(settings)
    await manager.store.close()
    copy_sqlite_to(settings.db_path, database_url)
    db = Database.open(database_url)
    try:
        ident = Identity(db, AuditLog(db.writer), IdentityConfig())
        user = await people.add_user(ident, None, "clerk-2", "clerk", None)
        assert user.id == 2
    finally:
        await db.close()
