"""Table definitions (SQLAlchemy Core). Schema changes go through migrations/."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String, primary_key=True),
    Column("patient_id", String, nullable=False),
    Column("document_type", String, nullable=False),
    Column("filename", String, nullable=False),
    Column("content_type", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String, nullable=False),
    Column("file_path", String, nullable=False),
    Column("priority", String, nullable=False, server_default="normal"),
    Column("status", String, nullable=False),
    Column("progress", Float, nullable=False, server_default="0"),
    Column("stage", String, nullable=False),
    Column("message", String, nullable=False, server_default=""),
    Column("pages_done", Integer, nullable=False, server_default="0"),
    Column("pages_total", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error_code", String),
    Column("error_message", String),
    Column("idempotency_key", String, unique=True),
    Column("created_at", String, nullable=False),
    Column("updated_at", String, nullable=False),
    Column("finished_at", String),
    Column("version", Integer, nullable=False, server_default="0"),
    Index("ix_tasks_status", "status"),
    Index("ix_tasks_finished_at", "finished_at"),
)

# seq is INTEGER PRIMARY KEY AUTOINCREMENT so that a seq is never reused, even
# after the newest events were purged: clients rely on seqs only growing.
events = Table(
    "events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("task", Text, nullable=False),
    Column("created_at", String, nullable=False),
    Index("ix_events_task_seq", "task_id", "seq"),
    sqlite_autoincrement=True,
)

results = Table(
    "results",
    metadata,
    Column("task_id", String, primary_key=True),
    Column("result", Text, nullable=False),
)
