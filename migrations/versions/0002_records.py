"""Documents as records: revisions, line edits, the full-text index, the review queue.

One revision, two dialects (`op.get_bind().dialect.name`): SQLite keeps the index in an
FTS5 table, PostgreSQL in a tsvector column with a GIN index (PG_STATEMENTS below);
both by triggers.

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

# --- PostgreSQL ------------------------------------------------------------------------
# One row per page with its tsvector (GIN-indexed). The text is cut into words exactly
# where records/query.py cuts what people type (at every character that is not a letter
# or digit, with the database's UTF-8 locale), so phrases line up with FTS5's; the
# `ocrlive` configuration folds case (simple) and, where the unaccent extension can be
# created, accents ("Müller" finds "muller", as unicode61 remove_diacritics 2 does).
_PG_CONFIG = """
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'unaccent is not available: accents are not folded in search';
    END;
    CREATE TEXT SEARCH CONFIGURATION ocrlive (COPY = simple);
    IF EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'unaccent') THEN
        ALTER TEXT SEARCH CONFIGURATION ocrlive ALTER MAPPING FOR
            asciiword, word, numword, asciihword, hword, numhword, hword_asciipart,
            hword_part, hword_numpart WITH unaccent, simple;
    END IF;
END $$"""
_PG_TIME = """to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')"""
# The pages and the review row of one stored result, replacing what was there.
_PG_INDEX = """
CREATE FUNCTION ocrlive_index_result(t TEXT, result TEXT) RETURNS void AS $$
    DELETE FROM search_pages WHERE task_id = t;
    INSERT INTO search_pages (task_id, ordinal, page, body, tsv)
    SELECT t, p.ord - 1, coalesce((p.value ->> 'number')::int, p.ord::int),
           coalesce(p.value ->> 'text', ''),
           to_tsvector('ocrlive', regexp_replace(coalesce(p.value ->> 'text', ''),
                                                 '[^[:alnum:]]+', ' ', 'g'))
    FROM jsonb_array_elements(coalesce(result::jsonb -> 'pages', '[]'))
         WITH ORDINALITY AS p(value, ord);
    DELETE FROM review_queue WHERE task_id = t;
    INSERT INTO review_queue (task_id, min_score)
    SELECT t, min((l ->> 'score')::float8)
    FROM jsonb_array_elements(coalesce(result::jsonb -> 'pages', '[]')) AS p,
         jsonb_array_elements(coalesce(p -> 'lines', '[]')) AS l
    WHERE (l ->> 'reviewed') IS NULL
    HAVING count(*) > 0;
$$ LANGUAGE sql"""
_PG_TRIGGERS = f"""
CREATE FUNCTION ocrlive_results_archive() RETURNS trigger AS $$
BEGIN
    INSERT INTO result_history (task_id, revision, result, replaced_at)
    VALUES (OLD.task_id, OLD.revision, OLD.result, {_PG_TIME})
    ON CONFLICT (task_id, revision) DO UPDATE
        SET result = EXCLUDED.result, replaced_at = EXCLUDED.replaced_at;
    RETURN OLD;
END $$ LANGUAGE plpgsql;
CREATE FUNCTION ocrlive_results_forget() RETURNS trigger AS $$
BEGIN
    DELETE FROM search_pages WHERE task_id = OLD.task_id;
    DELETE FROM review_queue WHERE task_id = OLD.task_id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE FUNCTION ocrlive_results_index() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' AND NEW.revision = 0 THEN
        UPDATE results SET revision = 1 + coalesce(
            (SELECT max(revision) FROM result_history WHERE task_id = NEW.task_id), 0)
        WHERE task_id = NEW.task_id;
    END IF;
    PERFORM ocrlive_index_result(NEW.task_id, NEW.result);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE FUNCTION ocrlive_tasks_forget() RETURNS trigger AS $$
BEGIN
    DELETE FROM results WHERE task_id = OLD.id;
    DELETE FROM result_history WHERE task_id = OLD.id;
    DELETE FROM line_edits WHERE task_id = OLD.id;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER results_archive BEFORE DELETE ON results
    FOR EACH ROW EXECUTE FUNCTION ocrlive_results_archive();
CREATE TRIGGER results_forget AFTER DELETE ON results
    FOR EACH ROW EXECUTE FUNCTION ocrlive_results_forget();
CREATE TRIGGER results_index AFTER INSERT ON results
    FOR EACH ROW EXECUTE FUNCTION ocrlive_results_index();
CREATE TRIGGER results_reindex AFTER UPDATE OF result ON results
    FOR EACH ROW EXECUTE FUNCTION ocrlive_results_index();
CREATE TRIGGER tasks_forget AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION ocrlive_tasks_forget()"""

PG_STATEMENTS = [
    # 0001 made seq an INTEGER, 64 bits on SQLite but 32 on PostgreSQL: at 100 events a
    # second that is eight months of seqs. (No PostgreSQL database predates this.)
    "ALTER TABLE events ALTER COLUMN seq TYPE BIGINT",
    "ALTER SEQUENCE events_seq_seq AS BIGINT",
    "ALTER TABLE results ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
    "CREATE INDEX ix_tasks_patient ON tasks (patient_id, created_at)",
    """CREATE TABLE result_history (
        task_id TEXT NOT NULL, revision INTEGER NOT NULL, result TEXT NOT NULL,
        replaced_at TEXT NOT NULL, PRIMARY KEY (task_id, revision))""",
    """CREATE TABLE line_edits (
        id SERIAL PRIMARY KEY, task_id TEXT NOT NULL, revision INTEGER NOT NULL,
        page INTEGER NOT NULL, line INTEGER NOT NULL, action TEXT NOT NULL,
        text_before TEXT NOT NULL, text_after TEXT NOT NULL, ocr_text TEXT NOT NULL,
        author TEXT NOT NULL, created_at TEXT NOT NULL)""",
    "CREATE INDEX ix_line_edits_task ON line_edits (task_id, page, line, revision)",
    _PG_CONFIG,
    """CREATE TABLE search_pages (
        task_id TEXT NOT NULL, ordinal INTEGER NOT NULL, page INTEGER NOT NULL,
        body TEXT NOT NULL, tsv TSVECTOR NOT NULL, PRIMARY KEY (task_id, ordinal))""",
    "CREATE INDEX ix_search_pages_tsv ON search_pages USING GIN (tsv)",
    "CREATE TABLE review_queue (task_id TEXT PRIMARY KEY, min_score REAL NOT NULL)",
    "CREATE INDEX ix_review_queue_score ON review_queue (min_score)",
    _PG_INDEX,
    _PG_TRIGGERS,
    # Results stored before this revision: revision 1, indexed, queued for review.
    "UPDATE results SET revision = 1",
    "SELECT ocrlive_index_result(task_id, result) FROM results",
]

PG_DROPS = [
    "DROP TRIGGER tasks_forget ON tasks",
    "DROP TRIGGER results_reindex ON results",
    "DROP TRIGGER results_index ON results",
    "DROP TRIGGER results_forget ON results",
    "DROP TRIGGER results_archive ON results",
    """DROP FUNCTION ocrlive_tasks_forget(), ocrlive_results_index(),
        ocrlive_results_forget(), ocrlive_results_archive(), ocrlive_index_result(TEXT, TEXT)""",
    "DROP TABLE review_queue",
    "DROP TABLE search_pages",
    "DROP TEXT SEARCH CONFIGURATION ocrlive",
    "DROP TABLE line_edits",
    "DROP TABLE result_history",
    "DROP INDEX ix_tasks_patient",
    "ALTER TABLE results DROP COLUMN revision",
    "ALTER SEQUENCE events_seq_seq AS INTEGER",
    "ALTER TABLE events ALTER COLUMN seq TYPE INTEGER",
]


def _statements(upgrading: bool) -> list[str]:
    if op.get_bind().dialect.name == "postgresql":
        return PG_STATEMENTS if upgrading else PG_DROPS
    return STATEMENTS if upgrading else DROPS


def upgrade() -> None:
    for statement in _statements(True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(False):
        op.execute(statement)
