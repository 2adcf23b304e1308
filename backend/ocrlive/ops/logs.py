"""Log lines for a terminal, for the systemd journal, or as JSON for log collectors."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from ocrlive.settings import LOG_FORMATS

__all__ = ["LOG_FORMATS", "configure_logging", "say"]
# syslog priorities: the journal reads a `<N>` prefix on each line as the level.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class JournalFormatter(logging.Formatter):
    """The journal stamps time and unit itself; it only needs the priority."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 2 if record.levelno > logging.ERROR else 6)
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (tests and embedders replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def stderr_is_journal() -> bool:
    """systemd sets JOURNAL_STREAM=dev:inode when stderr is connected to the journal."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


_chosen = "text"


def say(text: str) -> None:
    """A line for the person who started the server (the address, the login link):
    printed, or one more JSON log line when the log is JSON."""
    if _chosen == "json":
        logging.getLogger("ocrlive").info("%s", text)
    else:
        print(text, flush=True)


def configure_logging(fmt: str = "auto", level: int = logging.INFO) -> str:
    """Returns the format chosen (auto: journal under systemd, else text)."""
    global _chosen
    if fmt == "auto":
        fmt = "journal" if stderr_is_journal() else "text"
    _chosen = fmt
    handler = StderrHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    elif fmt == "journal":
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # one line per plugin
    return fmt
