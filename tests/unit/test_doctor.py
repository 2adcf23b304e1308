"""`ocrlive doctor` on a healthy data folder and on broken ones (a missing model, a
corrupt database, a schema from the future), through the real command."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from tests.helpers.server import free_port

from ocrlive.cli import main
from ocrlive.ocr.types import EngineConfig
from ocrlive.store.db import migrate


@pytest.fixture
def healthy(tmp_path: Path, engine_config: EngineConfig, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder as `ocrlive serve` leaves it, with its own copy of the models."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    models = data / "models"
    for folder in (engine_config.det_model_dir, engine_config.rec_model_dir):
        shutil.copytree(folder, models / Path(folder).name)
    migrate(data / "ocrlive.db")
    monkeypatch.delenv("OCRLIVE_MODELS_DIR", raising=False)
    monkeypatch.setenv("OCRLIVE_PORT", str(free_port()))
    return data


def doctor(data: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["doctor", "--data-dir", str(data)])
    return code, capsys.readouterr().out


def test_healthy_folder_passes(healthy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = doctor(healthy, capsys)
    assert code == 0, out
    assert "[FAIL]" not in out
    for check in ("models", "database", "schema", "disk", "permissions", "port", "versions"):
        assert f"] {check}:" in out
    assert "integrity ok" in out and "(newest)" in out
    assert "paddleocr 3.7.0" in out and "onnxruntime" in out
    assert out.strip().endswith("everything looks right")


def test_missing_model_is_reported_with_the_fix(
    healthy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (healthy / "models" / "PP-OCRv6_rec_small" / "inference.onnx").unlink()
    code, out = doctor(healthy, capsys)
    assert code == 1
    assert "[FAIL] models:" in out and "PP-OCRv6_rec_small lacks inference.onnx" in out
    assert "fix: run `ocrlive models" in out


def test_damaged_model_file_does_not_pass(
    healthy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (healthy / "models" / "PP-OCRv6_det_small" / "inference.onnx").write_bytes(b"\0" * 4096)
    code, out = doctor(healthy, capsys)
    assert code == 1 and "does not load" in out


def test_corrupt_database_is_reported(healthy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = healthy / "ocrlive.db"
    raw = bytearray(db.read_bytes())
    raw[:100] = b"this is not a sqlite database" + bytes(71)
    db.write_bytes(bytes(raw))
    code, out = doctor(healthy, capsys)
    assert code == 1
    assert "[FAIL] database:" in out and "damaged" in out
    assert "ocrlive restore" in out


def test_damaged_pages_fail_the_integrity_check(
    healthy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = healthy / "ocrlive.db"
    with sqlite3.connect(db) as conn:
        rows = [(f"k{i}", "v" * 500) for i in range(400)]
        conn.executemany("INSERT INTO meta VALUES (?, ?)", rows)
    conn.close()
    raw = bytearray(db.read_bytes())
    middle = len(raw) // 4096 // 2 * 4096  # a page of meta's rows, past the schema's
    raw[middle + 200 : middle + 1200] = b"\xff" * 1000
    db.write_bytes(bytes(raw))
    code, out = doctor(healthy, capsys)
    assert code == 1 and "[FAIL] database:" in out


def test_schema_newer_than_this_version(healthy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(healthy / "ocrlive.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    conn.close()
    code, out = doctor(healthy, capsys)
    assert code == 1 and "9999_future is unknown" in out


def test_port_taken_by_another_program(healthy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code = main(["doctor", "--data-dir", str(healthy), "--port", str(port)])
        out = capsys.readouterr().out
    assert code == 1 and "[FAIL] port:" in out and "--port" in out


def test_folder_open_to_others_is_a_warning(
    healthy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    healthy.chmod(0o755)
    code, out = doctor(healthy, capsys)
    assert code == 0 and "[warn] permissions:" in out and "chmod o-rwx" in out


def test_postgres_database_is_checked_on_its_server(
    healthy: Path,
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With OCRLIVE_DATABASE_URL the server is asked, not a SQLite file in the folder."""
    monkeypatch.setenv("OCRLIVE_DATABASE_URL", database_url)
    code, out = doctor(healthy, capsys)
    assert code == 0, out
    assert "PostgreSQL 15." in out and "(newest)" in out
    assert "ocrlive.db" not in out


def test_unreachable_postgres_fails_without_showing_the_password(
    healthy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://ocrlive:s3cret-pw@127.0.0.1:{free_port()}/ocrlive"
    monkeypatch.setenv("OCRLIVE_DATABASE_URL", url)
    code, out = doctor(healthy, capsys)
    assert code == 1, out
    assert "[FAIL] database:" in out and "does not answer" in out
    assert "s3cret-pw" not in out and "pg_hba.conf" in out
