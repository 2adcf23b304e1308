"""One server per data folder: the lock, the note, and what `ocrlive users link` reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrlive.cli import login_url
from ocrlive.ops.instance import AlreadyRunning, Instance
from ocrlive.settings import load_settings


def test_a_second_instance_finds_the_first_and_its_address(tmp_path: Path) -> None:
    first, second = Instance(tmp_path), Instance(tmp_path)
    assert first.running_url() is None
    first.acquire()
    first.announce("http://127.0.0.1:50123")
    with pytest.raises(AlreadyRunning) as running:
        second.acquire()
    assert running.value.info["url"] == "http://127.0.0.1:50123"
    assert second.running_url() == "http://127.0.0.1:50123"
    settings = load_settings(environ={}, data_dir=tmp_path, port=8080)
    assert login_url(settings, "s3cret") == "http://127.0.0.1:50123/login?link=s3cret"
    first.release()
    assert second.running_url() is None and not (tmp_path / "server.json").exists()
    assert login_url(settings, "s3cret") == "http://127.0.0.1:8080/login?link=s3cret"
    second.acquire()  # free again
    second.release()


def test_a_note_without_a_lock_holder_is_stale(tmp_path: Path) -> None:
    """A killed server leaves server.json behind; the kernel dropped its lock."""
    (tmp_path / "server.lock").touch()
    (tmp_path / "server.json").write_text('{"pid": 1, "url": "http://127.0.0.1:1"}')
    assert Instance(tmp_path).running_url() is None
    Instance(tmp_path).acquire()  # not blocked by the stale note
