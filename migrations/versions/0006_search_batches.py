"""The full-text index filled in batches: a stored result is queued in `search_pending`
(inside its own transaction, so nothing is lost on a crash) and the writer indexes the
queue in one transaction (store/sqlite/indexing.py): when it holds a batch, a second
after the first entry, before any search, and when the store opens or closes.

Why: FTS5 writes a new segment at every commit that touched it and merges segments
as they pile up; a page indexed in its own transaction cost ~0.53 ms of CPU against
~0.21 ms when 10-50 pages share one (scripts/bench_search.py, a 30,000-page index).
A correction, a retag and a purge still change the index at once (rare, and a
search must see them); a queued document they touch leaves the queue.

A stored result's review-queue row is written by the SQLite writer from the result it
holds parsed (store/sqlite/log.py); the trigger read it back from the JSON text, ~0.2
ms of CPU a document. A correction's (an UPDATE of the result) stays with the trigger.

Revision ID: 0006_search_batches
Revises: 0005_nodes
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0006_search_batches"
down_revision = "0005_nodes"
branch_labels = None
depends_on = None


def _load(name: str) -> ModuleType:
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"ocrlive_migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_V2 = _load("0002_records")
_V4 = _load("0004_search_tags")
_V4_FORGET = next(st for st in _V4.STATEMENTS if st.startswith("CREATE TRIGGER results_forget "))


def _unqueued(trigger: str, row: str) -> str:
    head, _, _ = trigger.rpartition("END")
    return f"{head}    DELETE FROM search_pending WHERE task_id = {row}.task_id;\n    END"


# search_docs.status: what the writer's retag compares with (0004); a status that
# moves while queued has the document indexed at once.
_QUEUE = """
    INSERT INTO search_docs (task_id, status)
    VALUES (new.task_id, (SELECT status FROM tasks WHERE id = new.task_id))
    ON CONFLICT (task_id) DO UPDATE SET status = excluded.status;
    INSERT OR IGNORE INTO search_pending (task_id) VALUES (new.task_id);
"""

# The pages of the queued documents, tagged as their tasks are now: the writer inserts
# them into search_pages row by row (store/sqlite/indexing.py). One INSERT ... SELECT
# cost twice as much CPU a page (~0.44 against ~0.23 ms a document, 32 a transaction),
# and a trigger's INSERT ... SELECT per document more again.
PENDING_PAGES = f"""CREATE VIEW search_pending_pages AS
    SELECT d.id * 65536 + p.key AS id, json_extract(p.value, '$.text') AS body,
           {_V4.tags_sql("t")} AS tags, r.task_id AS task_id,
           json_extract(p.value, '$.number') AS page
    FROM search_pending AS q JOIN results AS r ON r.task_id = q.task_id
         JOIN search_docs AS d ON d.task_id = q.task_id
         JOIN tasks AS t ON t.id = q.task_id, json_each(r.result, '$.pages') AS p"""

TRIGGERS = [
    # 0004's, and out of the queue.
    _unqueued(_V4_FORGET, "old"),
    # The revision, for writers other than the writer's INSERT (which gives it, 0004).
    # The review queue's row is the writer's too (store/sqlite/log.py), from the result
    # it holds parsed: read back here from the JSON text it cost ~0.2 ms a document.
    f"""CREATE TRIGGER results_index AFTER INSERT ON results BEGIN
        UPDATE results SET revision = 1 + coalesce(
            (SELECT max(revision) FROM result_history WHERE task_id = new.task_id), 0)
        WHERE task_id = new.task_id AND revision = 0;
        {_QUEUE}
    END""",
    # At once (a correction, a retag): out of the queue, indexed here.
    f"""CREATE TRIGGER results_reindex AFTER UPDATE OF result ON results BEGIN
        {_V4._FORGET_PAGES}
        DELETE FROM search_pending WHERE task_id = new.task_id;
        {_V4._PAGE_ROWS}
        {_V2._REVIEW_ROW}
    END""",
]
_NAMES = ("results_forget", "results_index", "results_reindex")


def _postgres() -> bool:
    """PostgreSQL indexes each page's tsvector by trigger (0002): nothing to do."""
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgres():
        return
    op.execute("CREATE TABLE search_pending (task_id TEXT PRIMARY KEY)")
    op.execute(PENDING_PAGES)
    for name in _NAMES:
        op.execute(f"DROP TRIGGER {name}")
    for statement in TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if _postgres():
        return
    op.execute("INSERT INTO search_pages (rowid, body, tags, task_id, page) "
               "SELECT * FROM search_pending_pages")  # fmt: skip
    for name in _NAMES:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP VIEW search_pending_pages")
    op.execute("DROP TABLE search_pending")
    for statement in _V4.STATEMENTS:
        if statement.lstrip().startswith(tuple(f"CREATE TRIGGER {n} " for n in _NAMES)):
            op.execute(statement)
