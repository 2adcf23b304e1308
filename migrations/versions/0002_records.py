"""Documents as records: revisions, line edits, the full-text index, the review queue.

The index and the review queue are maintained by triggers on `results`, so every path
that writes a result (a completion, a correction, a re-run, a retry, a purge) keeps
them in step inside its own transaction, whichever Python code issues the write.
A replaced result (a re-run) is archived in `result_history` by a trigger too; the
rows of a deleted task (retention) go with it.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# One FTS row per page. Its rowid is search_docs.id * 65536 + the page's index, so a
# document's rows are one rowid range (deleted without a scan) and stay put through a
# VACUUM (results' own rowid could be renumbered by one). 65536 > OCRLIVE_MAX_PAGES.
_PAGE_ROWS = """
    INSERT OR IGNORE INTO search_docs (task_id) VALUES (new.task_id);
    INSERT INTO search_pages (rowid, body, task_id, page)
    SELECT (SELECT id FROM search_docs WHERE task_id = new.task_id) * 65536 + p.key,
           json_extract(p.value, '$.text'), new.task_id, json_extract(p.value, '$.number')
    FROM json_each(new.result, '$.pages') AS p;
"""
_FORGET_PAGES = """
    DELETE FROM search_pages WHERE rowid BETWEEN
        (SELECT id FROM search_docs WHERE task_id = old.task_id) * 65536
        AND (SELECT id FROM search_docs WHERE task_id = old.task_id) * 65536 + 65535;
"""
# A document waits in the review queue while one of its lines is unreviewed (`reviewed`
# is absent until a person confirms or corrects it); the queue keeps the lowest score of
# those lines, so that the threshold (OCRLIVE_REVIEW_THRESHOLD) is applied when reading
# and can change without rewriting anything.
_REVIEW_ROW = """
    DELETE FROM review_queue WHERE task_id = new.task_id;
    INSERT INTO review_queue (task_id, min_score)
    SELECT new.task_id, min(l.value ->> 'score')
    FROM json_each(new.result, '$.pages') AS p, json_each(p.value, '$.lines') AS l
    WHERE (l.value ->> 'reviewed') IS NULL
    HAVING count(*) > 0;
"""

STATEMENTS = [
    "ALTER TABLE results ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX ix_tasks_patient ON tasks (patient_id, created_at)",
    """CREATE TABLE result_history (
        task_id TEXT NOT NULL, revision INTEGER NOT NULL, result TEXT NOT NULL,
        replaced_at TEXT NOT NULL, PRIMARY KEY (task_id, revision))""",
    """CREATE TABLE line_edits (
        id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, revision INTEGER NOT NULL,
        page INTEGER NOT NULL, line INTEGER NOT NULL, action TEXT NOT NULL,
        text_before TEXT NOT NULL, text_after TEXT NOT NULL, ocr_text TEXT NOT NULL,
        author TEXT NOT NULL, created_at TEXT NOT NULL)""",
    "CREATE INDEX ix_line_edits_task ON line_edits (task_id, page, line, revision)",
    "CREATE TABLE search_docs (id INTEGER PRIMARY KEY, task_id TEXT NOT NULL UNIQUE)",
    # unicode61 folds case and (with remove_diacritics 2) accents: "Müller" finds "muller".
    """CREATE VIRTUAL TABLE search_pages USING fts5(
        body, task_id UNINDEXED, page UNINDEXED,
        tokenize = 'unicode61 remove_diacritics 2')""",
    "CREATE TABLE review_queue (task_id TEXT PRIMARY KEY, min_score REAL NOT NULL)",
    "CREATE INDEX ix_review_queue_score ON review_queue (min_score)",
    """CREATE TRIGGER results_archive BEFORE DELETE ON results BEGIN
        INSERT OR REPLACE INTO result_history (task_id, revision, result, replaced_at)
        VALUES (old.task_id, old.revision, old.result, strftime('%Y-%m-%dT%H:%M:%f+00:00'));
    END""",
    f"""CREATE TRIGGER results_forget AFTER DELETE ON results BEGIN
        {_FORGET_PAGES}
        DELETE FROM search_docs WHERE task_id = old.task_id;
        DELETE FROM review_queue WHERE task_id = old.task_id;
    END""",
    f"""CREATE TRIGGER results_index AFTER INSERT ON results BEGIN
        UPDATE results SET revision = 1 + coalesce(
            (SELECT max(revision) FROM result_history WHERE task_id = new.task_id), 0)
        WHERE task_id = new.task_id AND revision = 0;
        {_PAGE_ROWS}
        {_REVIEW_ROW}
    END""",
    f"""CREATE TRIGGER results_reindex AFTER UPDATE OF result ON results BEGIN
        {_FORGET_PAGES}
        {_PAGE_ROWS}
        {_REVIEW_ROW}
    END""",
    """CREATE TRIGGER tasks_forget AFTER DELETE ON tasks BEGIN
        DELETE FROM results WHERE task_id = old.id;
        DELETE FROM result_history WHERE task_id = old.id;
        DELETE FROM line_edits WHERE task_id = old.id;
    END""",
    # Results stored before this revision: revision 1, indexed, queued for review.
    "UPDATE results SET revision = 1",
    "INSERT INTO search_docs (task_id) SELECT task_id FROM results",
    """INSERT INTO search_pages (rowid, body, task_id, page)
       SELECT d.id * 65536 + p.key, json_extract(p.value, '$.text'), r.task_id,
              json_extract(p.value, '$.number')
       FROM results AS r JOIN search_docs AS d ON d.task_id = r.task_id,
            json_each(r.result, '$.pages') AS p""",
    """INSERT INTO review_queue (task_id, min_score)
       SELECT r.task_id, min(l.value ->> 'score')
       FROM results AS r, json_each(r.result, '$.pages') AS p, json_each(p.value, '$.lines') AS l
       GROUP BY r.task_id""",
]

DROPS = [
    "DROP TRIGGER tasks_forget",
    "DROP TRIGGER results_reindex",
    "DROP TRIGGER results_index",
    "DROP TRIGGER results_forget",
    "DROP TRIGGER results_archive",
    "DROP TABLE review_queue",
    "DROP TABLE search_pages",
    "DROP TABLE search_docs",
    "DROP TABLE line_edits",
    "DROP TABLE result_history",
    "DROP INDEX ix_tasks_patient",
    "ALTER TABLE results DROP COLUMN revision",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROPS:
        op.execute(statement)
