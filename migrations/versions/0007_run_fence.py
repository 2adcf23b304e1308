"""The run fence: an index of each task's `task.started` events.

A progress report, result or failure carries the run it comes from (the seq of that
run's `task.started` event) and is applied only while that run is the task's newest
(tasks/journal.py): a node whose run was cancelled and retried elsewhere must not
complete the new run with its late result. The journal reads the newest run inside
every such transaction; without this partial index the lookup reads every event of
the task (a run of a 50-page document logs hundreds of progress events, each of which
is checked), with it one index entry. Both SQLite and PostgreSQL have partial indexes.

Revision ID: 0007_run_fence
Revises: 0006_search_batches
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_run_fence"
down_revision = "0006_search_batches"
branch_labels = None
depends_on = None

_STARTED = sa.text("type = 'task.started'")


def upgrade() -> None:
    op.create_index(
        "ix_events_started", "events", ["task_id", "seq"], sqlite_where=_STARTED,
        postgresql_where=_STARTED,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_events_started", "events")
