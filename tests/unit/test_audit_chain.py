"""The audit log's chain against tampering with sqlite3 itself (and with psycopg on
PostgreSQL): a changed row is named, a deleted row is named as a gap; triggers refuse
UPDATE and DELETE; retention keeps the chain verifiable."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ocrlive.events import utcnow
from ocrlive.store import audit
from ocrlive.store.audit import Entry
from ocrlive.store.db import migrate
from ocrlive.store.postgres.connection import PgConnection, libpq_url


def make_log(path: Path, rows: int = 6, at: str | None = None) -> sqlite3.Connection:
    migrate(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    entries = [Entry(at=at or utcnow(), action="result.read", username=f"u{n}", task_id=f"t{n}",
                     patient_id=f"P-{n}", address="10.0.0.9") for n in range(rows)]  # fmt: skip
    audit.append(conn, entries)
    conn.execute("COMMIT")
    return conn


def test_an_intact_chain_verifies(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db")
    verdict = audit.verify(conn)
    assert verdict.ok and verdict.rows == 6


def test_triggers_refuse_update_and_delete(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET patient_id = 'P-X' WHERE id = 3")
    with pytest.raises(sqlite3.IntegrityError, match="retention"):
        conn.execute("DELETE FROM audit_log WHERE id = 3")
    assert audit.verify(conn).ok


def test_a_changed_row_is_named(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db")
    conn.execute("DROP TRIGGER audit_log_no_update")  # an attacker with the file can
    conn.execute("UPDATE audit_log SET patient_id = 'P-other' WHERE id = 3")
    verdict = audit.verify(conn)
    assert not verdict.ok and verdict.row_id == 3 and "row 3 was altered" in verdict.problem


def test_a_changed_row_with_a_recomputed_hash_is_named(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db")
    conn.execute("DROP TRIGGER audit_log_no_update")
    row = conn.execute(f"SELECT {audit.COLUMNS} FROM audit_log WHERE id = 4").fetchone()
    fields = dict(zip(audit.FIELDS, row[1:-2], strict=True)) | {"username": "someone-else"}
    forged = audit.row_hash(4, fields, row[-2])
    conn.execute("UPDATE audit_log SET username = 'someone-else', hash = ? WHERE id = 4", (forged,))
    verdict = audit.verify(conn)
    assert not verdict.ok and verdict.row_id == 4


def test_a_deleted_row_is_named_as_a_gap(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id = 4")
    verdict = audit.verify(conn)
    assert not verdict.ok and verdict.row_id == 4
    assert "row 4 removed" in verdict.problem


def test_deleting_the_first_rows_is_a_gap_too(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id <= 2")
    verdict = audit.verify(conn)
    assert not verdict.ok and "row 1-2 removed" in verdict.problem


def test_retention_removes_only_old_rows_and_the_rest_still_verifies(tmp_path: Path) -> None:
    conn = make_log(tmp_path / "a.db", rows=4, at="2019-01-01T00:00:00+00:00")
    conn.execute("BEGIN IMMEDIATE")
    audit.append(conn, [Entry(at=utcnow(), action="login", username="new")])
    removed = audit.purge_before(conn, "2020-01-01T00:00:00+00:00")
    audit.append(conn, [Entry(at=utcnow(), action="login", username="newer")])
    conn.execute("COMMIT")
    assert removed == 4
    assert [r[0] for r in conn.execute("SELECT id FROM audit_log")] == [5, 6]
    assert audit.verify(conn).ok
    with pytest.raises(sqlite3.IntegrityError):  # the cutoff does not reach the new rows
        conn.execute("DELETE FROM audit_log WHERE id = 5")


def test_ocrlive_audit_verify_names_the_altered_row(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    conn = make_log(data / "ocrlive.db")
    cmd = [sys.executable, "-m", "ocrlive", "audit", "verify", "--data-dir", str(data)]
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "intact: 6 rows" in ok.stdout
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE id = 5")
    bad = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and "row 5 was altered" in bad.stdout


def test_on_postgres_triggers_refuse_tampering_retention_keeps_the_chain_and_verify_names_it(
    database_url: str, tmp_path: Path
) -> None:
    """The same guarantees from PostgreSQL's triggers, and `ocrlive audit verify` on a URL."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
        db = PgConnection(conn)
        with conn.transaction():
            old = [Entry(at="2019-01-01T00:00:00+00:00", action="login", username=f"o{n}")
                   for n in range(3)]  # fmt: skip
            audit.append(db, [*old, *(Entry(at=utcnow(), action="result.read") for _ in range(3))])
        for sql, why in (("UPDATE audit_log SET outcome = 'x' WHERE id = 5", "append-only"),
                         ("DELETE FROM audit_log WHERE id = 5", "retention"),
                         ("TRUNCATE audit_log", "append-only")):  # fmt: skip
            with pytest.raises(psycopg.errors.RaiseException, match=why), conn.transaction():
                conn.execute(sql)
        with conn.transaction():
            assert audit.purge_before(db, "2020-01-01T00:00:00+00:00") == 3
        assert audit.verify(db).ok and audit.verify(db).rows == 3
        cmd = [sys.executable, "-m", "ocrlive", "audit", "verify", "--data-dir", str(tmp_path)]
        env = {**os.environ, "OCRLIVE_DATABASE_URL": database_url}
        ok = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        assert ok.returncode == 0 and "intact: 3 rows" in ok.stdout, ok.stderr
        with conn.transaction():  # an attacker with the database owner's rights can
            conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
            conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE id = 5")
        bad = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        assert bad.returncode == 1 and "row 5 was altered" in bad.stdout
