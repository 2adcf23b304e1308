"""Log lines: JSON for log collectors, the journal's priorities under systemd (auto)."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator

import pytest

from ocrlive.ops import logs


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    logs.configure_logging("text")
    root.handlers[:] = handlers


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert logs.configure_logging("json") == "json"
    logging.getLogger("ocrlive.test").warning("disk %s", "full")
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("ocrlive.test").exception("failed")
    logs.say("serving on http://127.0.0.1:8080/")  # a JSON line too, not a bare print
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.err.splitlines()]
    assert out.out == ""
    assert lines[0]["level"] == "warning" and lines[0]["message"] == "disk full"
    assert lines[0]["logger"] == "ocrlive.test" and lines[0]["pid"] == os.getpid()
    assert "ValueError: boom" in lines[1]["exception"]
    assert lines[2]["message"] == "serving on http://127.0.0.1:8080/"


def test_journal_priorities_when_stderr_is_the_journal(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """capfd: stderr is a real file here, as the journal's socket is under systemd."""
    st = os.fstat(sys.stderr.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    assert logs.configure_logging("auto") == "journal"
    logging.getLogger("ocrlive").warning("two\nlines")
    logging.getLogger("ocrlive").info("fine")
    assert capfd.readouterr().err.splitlines() == [
        "<4>ocrlive: two",
        "<4>lines",
        "<6>ocrlive: fine",
    ]
    monkeypatch.setenv("JOURNAL_STREAM", "0:0")  # another stream: a terminal, plain text
    assert logs.configure_logging("auto") == "text"
