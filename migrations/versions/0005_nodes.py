"""Several server nodes on one database: who is alive, who leads, who owns a task.

`nodes` holds one row per running `ocrlive serve` process, its heartbeat renewed every
few seconds; a row not renewed within the lease marks a dead node. `leases` holds named
leases (today one: `leader`, the node that re-submits work in flight after a Dask
scheduler restart and adopts the tasks of dead nodes). `tasks.owner` names the node
that queued or runs a task (NULL: nobody, e.g. a task from before this revision).

Revision ID: 0005_nodes
Revises: 0004_search_tags
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_nodes"
down_revision = "0004_search_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("started_at", sa.String(), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("owner", sa.String(), nullable=True))
        batch.create_index("ix_tasks_owner", ["owner"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_owner")
        batch.drop_column("owner")
    op.drop_table("leases")
    op.drop_table("nodes")
