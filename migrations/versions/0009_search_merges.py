"""SQLite: FTS5 merges 16 segments of a level at a time instead of 4 (`automerge`).

Why: every batch the writer indexes is a new level-0 segment (store/sqlite/indexing.py),
and FTS5 merges a level's segments once `automerge` of them pile up, rewriting each
word of each page once per level. With 4 a 100,000-document index has about five
levels, with 16 about half as many, so a page is rewritten about half as often. FTS5
alone, 128-document batches interleaved on four copies (2026-11-30): after 20,000
documents 0.313 ms of CPU a document with 4, 0.197 with 8, 0.212 with 16; after
100,000 documents 0.248 with 4, 0.203 with 8, 0.177 with 16 (the commit, where the
merges run: 0.188 against 0.116). A query reads at most 15 segments a level instead of
3, across fewer levels: on copies of 138,400 documents (15 segments with 4, 17 with 16)
the 600 queries of scripts/bench_search.py, each run on both in turn, took p95 14.1 /
15.5 ms for words and 17.6 / 17.4 for prefixes (4 / 16). PostgreSQL: nothing to do.

Revision ID: 0009_search_merges
Revises: 0008_search_pairs
"""

from alembic import op

revision = "0009_search_merges"
down_revision = "0008_search_pairs"
branch_labels = None
depends_on = None

AUTOMERGE = 16
FTS5_DEFAULT = 4


def _set(automerge: int) -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.execute(
        f"INSERT INTO search_pages (search_pages, rank) VALUES ('automerge', {automerge})"
    )


def upgrade() -> None:
    _set(AUTOMERGE)


def downgrade() -> None:
    _set(FTS5_DEFAULT)
