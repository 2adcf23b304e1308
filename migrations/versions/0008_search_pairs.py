"""PostgreSQL: each page's adjacent word pairs as lexemes of a second tsvector
(`search_pages.pairs`, GIN-indexed), so that a phrase is narrowed to the pages that
hold its pairs before the `<->` check.

Why: a GIN index on a tsvector keeps no word positions, so `tsv @@ 'a' <-> 'b'` fetches
every page holding both words and checks their positions row by row: a phrase of two
common words took ~1 s at p95 over 20,000 documents (scripts/bench_pg_search.py; SQLite
92 ms, FTS5 reads positions from its index). A pair lexeme ('a b', with a space: no
single word holds one) is in the index itself, so the pages fetched are those where the
words meet. The pairs are made from the positions of the page's own tsvector, so they
are exactly the neighbours that `<->` checks (records/postgres.py builds the query's).
Past COUNT_CAP matches the hits are the newest pages (records/postgres.py): looked for
among the newest documents first, by `ix_tasks_created`, rather than by sorting every
match, each checked for the phrase. SQLite: nothing to do.

Revision ID: 0008_search_pairs
Revises: 0007_run_fence
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0008_search_pairs"
down_revision = "0007_run_fence"
branch_labels = None
depends_on = None


def _load(name: str) -> ModuleType:
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"ocrlive_migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Every two lexemes at neighbouring positions, 'a b'; an empty tsvector for none.
# Positions past 16383 are all 16383 in a tsvector, so no pair is made there (nor does
# `<->` match there).
PAIRS_FUNCTION = """
CREATE FUNCTION ocrlive_pairs(v tsvector) RETURNS tsvector AS $$
    WITH w AS (SELECT u.lexeme, p FROM unnest(v) AS u, unnest(u.positions) AS p)
    SELECT coalesce(array_to_tsvector(array_agg(DISTINCT a.lexeme || ' ' || b.lexeme)),
                    ''::tsvector)
    FROM w AS a JOIN w AS b ON b.p = a.p + 1
$$ LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"""

_V2 = _load("0002_records")
_OLD_INDEX = _V2._PG_INDEX
_PAGE_ROWS = """    INSERT INTO search_pages (task_id, ordinal, page, body, tsv)
    SELECT t, p.ord - 1, coalesce((p.value ->> 'number')::int, p.ord::int),
           coalesce(p.value ->> 'text', ''),
           to_tsvector('ocrlive', regexp_replace(coalesce(p.value ->> 'text', ''),
                                                 '[^[:alnum:]]+', ' ', 'g'))
    FROM jsonb_array_elements(coalesce(result::jsonb -> 'pages', '[]'))
         WITH ORDINALITY AS p(value, ord);"""
# 0002's function, each page's pairs made from its tsvector as it is written.
_PAIRED_ROWS = """    INSERT INTO search_pages (task_id, ordinal, page, body, tsv, pairs)
    SELECT t, ord, page, body, tsv, ocrlive_pairs(tsv) FROM (
        SELECT p.ord - 1 AS ord, coalesce((p.value ->> 'number')::int, p.ord::int) AS page,
               coalesce(p.value ->> 'text', '') AS body,
               to_tsvector('ocrlive', regexp_replace(coalesce(p.value ->> 'text', ''),
                                                     '[^[:alnum:]]+', ' ', 'g')) AS tsv
        FROM jsonb_array_elements(coalesce(result::jsonb -> 'pages', '[]'))
             WITH ORDINALITY AS p(value, ord)) AS made;"""
assert _PAGE_ROWS in _OLD_INDEX, "0002's page rows changed: update the pairs migration"
NEW_INDEX = _OLD_INDEX.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
    _PAGE_ROWS, _PAIRED_ROWS
)

UPGRADE = [
    PAIRS_FUNCTION,
    "ALTER TABLE search_pages ADD COLUMN pairs TSVECTOR NOT NULL DEFAULT ''",
    "UPDATE search_pages SET pairs = ocrlive_pairs(tsv)",
    "CREATE INDEX ix_search_pages_pairs ON search_pages USING GIN (pairs)",
    "CREATE INDEX ix_tasks_created ON tasks (created_at)",
    NEW_INDEX,
]
DOWNGRADE = [
    _OLD_INDEX.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"),
    "DROP INDEX ix_tasks_created",
    "DROP INDEX ix_search_pages_pairs",
    "ALTER TABLE search_pages DROP COLUMN pairs",
    "DROP FUNCTION ocrlive_pairs(tsvector)",
]


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    if not _postgres():
        return
    for statement in UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    if not _postgres():
        return
    for statement in DOWNGRADE:
        op.execute(statement)
