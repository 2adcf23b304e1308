"""AuditLog: append entries through the single writer, in group commits.

A read of patient data waits for its row to be committed before the data goes out
(no record, no read). Entries that arrive while a commit is in flight share the next
one, so a burst of reads (a ward's dashboards reconnecting) costs a few transactions,
not one each; scripts/bench_audit.py measures what it adds to an upload and a
subscribe."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from functools import partial

from ocrlive.audit.actions import Action
from ocrlive.events import utcnow
from ocrlive.identity.permissions import Principal
from ocrlive.store import audit as store
from ocrlive.store.audit import Entry
from ocrlive.store.health import describe_error, is_storage_error
from ocrlive.store.sqlite.writer import Writer

log = logging.getLogger(__name__)

MIN_RETENTION_DAYS = 365  # a shorter setting is raised to this: one slip must not erase years


def entry(
    principal: Principal | None, action: Action, *, outcome: str = "ok",
    task_id: str | None = None, patient_id: str | None = None, address: str = "",
    detail: str = "", username: str = "",
) -> Entry:  # fmt: skip
    """An entry for `principal` (or for a name only, e.g. a failed login)."""
    return Entry(
        at=utcnow(), action=action.value, outcome=outcome,
        user_id=principal.user_id if principal else None,
        username=principal.username if principal else username,
        role=principal.role.value if principal else "",
        task_id=task_id, patient_id=patient_id,
        address=principal.address if principal and not address else address,
        detail=detail[:500],
    )  # fmt: skip


class AuditLog:
    def __init__(self, writer: Writer, *, enabled: bool = True) -> None:
        self._writer = writer
        self._pending: list[tuple[Entry, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        # Only scripts/bench_audit.py turns this off, to measure what auditing costs.
        self.enabled = enabled

    async def record(self, item: Entry) -> None:
        if not self.enabled:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                entries = [e for e, _ in batch]
                try:
                    await self._writer.run(partial(store.append, entries=entries))
                except Exception as exc:
                    if is_storage_error(exc):  # the disk's condition: one line, no traceback
                        log.error("audit rows could not be written: %s", describe_error(exc))
                    else:
                        log.exception("audit rows could not be written")
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flusher = None

    async def purge(self, retention_days: float) -> int:
        days = max(retention_days, MIN_RETENTION_DAYS)
        cutoff = (datetime.now(UTC) - timedelta(days=days)).isoformat()

        def run(conn: object) -> int:
            removed = store.purge_before(conn, cutoff)  # type: ignore[arg-type]
            if removed:
                note = entry(None, Action.AUDIT_PURGE, username="ocrlive",
                             detail=f"{removed} rows older than {cutoff} removed")  # fmt: skip
                store.append(conn, [note])  # type: ignore[arg-type]
            return removed

        return await self._writer.run(run)


async def retention_loop(audit: AuditLog, retention_days: float, every: float = 86400) -> None:
    """Its own retention (default 6 years), apart from the task purge."""
    while True:
        try:
            removed = await audit.purge(retention_days)
            if removed:
                log.info("audit retention: %d rows removed", removed)
        except Exception:
            log.exception("audit retention failed; retrying later")
        await asyncio.sleep(every)
