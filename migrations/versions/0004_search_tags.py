"""Search filters inside the full-text index: each page carries its document's patient,
type, status and upload date as tokens of a second indexed column (`tags`), so FTS5
intersects them with the words itself instead of SQLite looking up each matching
page's task (at 100,000 documents a word with the type, status and date filters took
p95 ~60 ms of CPU that way, a phrase ~500 ms).

A tag is a letter and the value's UTF-8 bytes in hex (any patient ID is one token);
dates are tagged at four sizes (decade, year, month, day) so that any date range is a
short OR of tokens (records/tags.py builds the query side). Patient, type and date
never change; the status does after the text is indexed (a re-run queues it again):
`search_docs.status` says which status a document was tagged with, and the writer has
the index re-read the stored result when a task's status moves away from it
(store/sqlite/log.py). A trigger on `tasks` would do that here, but made every task
update, each progress event, open the full-text index: +0.7 ms of CPU a task.

The result's revision is now given by the writer's INSERT; the trigger's UPDATE of the
just-inserted row (a rewrite of its whole JSON) only serves other writers.

Revision ID: 0004_search_tags
Revises: 0003_people_audit
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0004_search_tags"
down_revision = "0003_people_audit"
branch_labels = None
depends_on = None


def _previous() -> ModuleType:
    path = Path(__file__).with_name("0002_records.py")
    spec = importlib.util.spec_from_file_location("ocrlive_migration_0002", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tags_sql(t: str) -> str:
    """The tags of the task row `t`, as records/tags.py spells them."""
    month = f"substr({t}.created_at, 1, 4) || substr({t}.created_at, 6, 2)"
    day = f"{month} || substr({t}.created_at, 9, 2)"
    return (
        f"'p' || hex({t}.patient_id) || ' t' || hex({t}.document_type) || ' s' || "
        f"hex({t}.status) || ' e' || substr({t}.created_at, 1, 3) || ' y' || "
        f"substr({t}.created_at, 1, 4) || ' m' || {month} || ' d' || {day}"
    )


_TAGS_OF_NEW = f"(SELECT {tags_sql('t')} FROM tasks AS t WHERE t.id = new.task_id)"
_PAGE_ROWS = f"""
    INSERT INTO search_docs (task_id, status)
    VALUES (new.task_id, (SELECT status FROM tasks WHERE id = new.task_id))
    ON CONFLICT (task_id) DO UPDATE SET status = excluded.status;
    INSERT INTO search_pages (rowid, body, tags, task_id, page)
    SELECT (SELECT id FROM search_docs WHERE task_id = new.task_id) * 65536 + p.key,
           json_extract(p.value, '$.text'), {_TAGS_OF_NEW}, new.task_id,
           json_extract(p.value, '$.number')
    FROM json_each(new.result, '$.pages') AS p;
"""


# A document's rowid range. A document not in the index has none (coalesce): FTS5 reads
# `rowid BETWEEN NULL AND NULL` as no bounds at all and scans the whole table (240 ms at
# 100,000 documents).
def doc_range(task_id: str) -> str:
    first = f"coalesce((SELECT id FROM search_docs WHERE task_id = {task_id}), -1) * 65536"
    return f"rowid BETWEEN {first} AND {first} + 65535"


_FORGET_PAGES = f"DELETE FROM search_pages WHERE {doc_range('old.task_id')};"
_PREVIOUS = _previous()
_REBUILT = ("results_index", "results_reindex", "results_forget")
_REBUILT_SQL = tuple(f"CREATE TRIGGER {name} " for name in _REBUILT)


def _retagged(statement: str) -> str:
    return statement.replace(_PREVIOUS._PAGE_ROWS, _PAGE_ROWS).replace(
        _PREVIOUS._FORGET_PAGES, _FORGET_PAGES
    )


STATEMENTS = [
    "DROP TABLE search_pages",
    "ALTER TABLE search_docs ADD COLUMN status TEXT",
    "UPDATE search_docs SET status = (SELECT status FROM tasks WHERE id = search_docs.task_id)",
    """CREATE VIRTUAL TABLE search_pages USING fts5(
        body, tags, task_id UNINDEXED, page UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2')""",
    # Ranked by the text alone: a tag matches every page it filters, and says nothing
    # of how well a page answers the words.
    "INSERT INTO search_pages (search_pages, rank) VALUES ('rank', 'bm25(1.0, 0.0)')",
    # 0002's triggers, each page tagged and a document's range never unbounded.
    *(f"DROP TRIGGER {name}" for name in _REBUILT),
    *(_retagged(st) for st in _PREVIOUS.STATEMENTS if st.startswith(_REBUILT_SQL)),
    f"""INSERT INTO search_pages (rowid, body, tags, task_id, page)
       SELECT d.id * 65536 + p.key, json_extract(p.value, '$.text'), {tags_sql("t")},
              r.task_id, json_extract(p.value, '$.number')
       FROM results AS r JOIN search_docs AS d ON d.task_id = r.task_id
            JOIN tasks AS t ON t.id = r.task_id, json_each(r.result, '$.pages') AS p""",
    "INSERT INTO search_pages (search_pages) VALUES ('optimize')",
]


def _postgres() -> bool:
    """PostgreSQL's search (0002) joins the tasks table for its filters: nothing to do."""
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if _postgres():
        return
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    """Back to 0002's index: the text alone, filters checked against the tasks table."""
    if _postgres():
        return
    for statement in ("DROP TRIGGER results_index", "DROP TRIGGER results_reindex",
                      "DROP TRIGGER results_forget", "DROP TABLE search_pages",
                      "ALTER TABLE search_docs DROP COLUMN status"):  # fmt: skip
        op.execute(statement)
    for statement in _PREVIOUS.STATEMENTS:
        text = statement.lstrip()
        rebuilt = text.startswith(("CREATE VIRTUAL", "INSERT INTO search_pages"))
        triggers = ("CREATE TRIGGER results_index", "CREATE TRIGGER results_reindex",
                    "CREATE TRIGGER results_forget")  # fmt: skip
        if rebuilt or text.startswith(triggers):
            op.execute(statement)
