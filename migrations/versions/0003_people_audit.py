"""People, sessions, API tokens, login links, and the append-only audit log.

Revision ID: 0003_people_audit
Revises: 0002 (records)
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_people_audit"
down_revision = "0002"
branch_labels = None
depends_on = None

NO_UPDATE = """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"""
# Only rows older than the retention cutoff may go, and only the retention purge
# moves the cutoff (store/audit.py: purge_before).
NO_DELETE = """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN OLD.at >= COALESCE((SELECT value FROM meta WHERE key = 'audit_purge_cutoff'), '')
BEGIN SELECT RAISE(ABORT, 'audit_log rows are kept for their retention period'); END
"""


# PostgreSQL: the same rules as trigger functions; TRUNCATE (which skips row triggers)
# is refused as well.
PG_GUARDS = """
CREATE FUNCTION ocrlive_audit_no_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$ LANGUAGE plpgsql;
CREATE FUNCTION ocrlive_audit_no_delete() RETURNS trigger AS $$
BEGIN
    IF OLD.at >= COALESCE((SELECT value FROM meta WHERE key = 'audit_purge_cutoff'), '') THEN
        RAISE EXCEPTION 'audit_log rows are kept for their retention period';
    END IF;
    RETURN OLD;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ocrlive_audit_no_update();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION ocrlive_audit_no_update();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION ocrlive_audit_no_delete()"""


def _postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(), nullable=False, unique=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("disabled", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("password_hash", sa.String()),
        sa.Column("source", sa.String(), nullable=False, server_default="local"),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("updated_at", sa.String(), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("last_seen_at", sa.String(), nullable=False),
        sa.Column("expires_at", sa.String(), nullable=False),
        sa.Column("ended_at", sa.String()),
        sa.Column("end_reason", sa.String()),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("user_agent", sa.String(), nullable=False, server_default=""),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False, unique=True),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("last_used_at", sa.String()),
        sa.Column("revoked_at", sa.String()),
    )
    op.create_table(
        "login_links",
        sa.Column("link_hash", sa.String(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.String(), nullable=False),
        sa.Column("expires_at", sa.String(), nullable=False),
        sa.Column("used_at", sa.String()),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer()),
        sa.Column("username", sa.String(), nullable=False, server_default=""),
        sa.Column("role", sa.String(), nullable=False, server_default=""),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("task_id", sa.String()),
        sa.Column("patient_id", sa.String()),
        sa.Column("address", sa.String(), nullable=False, server_default=""),
        sa.Column("detail", sa.String(), nullable=False, server_default=""),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
    )
    for column in ("at", "username", "patient_id", "action"):
        op.create_index(f"ix_audit_{column}", "audit_log", [column])
    if _postgres():
        op.execute(PG_GUARDS)
        return
    op.execute(NO_UPDATE)
    op.execute(NO_DELETE)


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TABLE audit_log")  # its triggers go with it
        op.execute("DROP FUNCTION ocrlive_audit_no_update(), ocrlive_audit_no_delete()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.drop_table("audit_log")
    op.drop_table("login_links")
    op.drop_table("api_tokens")
    op.drop_index("ix_sessions_user", "sessions")
    op.drop_table("sessions")
    op.drop_table("users")
