"""Documents as records: search, revisions of corrected lines, the review queue, the
patient view, exports.

Between tasks/ and store/: a line edit is made inside the event log's transaction
(store/base.py `Revision`, through TaskManager.edit_line); search and the record reads
are protocols (base.py) with a SQLite backend (sqlite.py) beside the task store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from ocrlive.records.base import Records
from ocrlive.store.db import is_url


def open_records(
    database: Path | str, settle: Callable[[], Awaitable[None]] | None = None
) -> Records:
    """Search and record reads on the backend that holds the tasks (a SQLite file or a
    PostgreSQL URL), migrated already. `settle`: the task store's log's
    `index_queued`, which SQLite's search awaits first (its index is filled in batches)."""
    if is_url(database):
        from ocrlive.records.postgres import open_postgres_records

        return open_postgres_records(str(database))
    from ocrlive.records.sqlite import open_sqlite_records

    return open_sqlite_records(Path(database), settle)
