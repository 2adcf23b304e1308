"""The engine settings a re-run asked for, kept beside the document's page images until
the new reading is stored: a queued re-run keeps them through a server restart, a retry
of a failed re-run reads with them again, and the next plain re-run has none.

A file rather than a column: the task's row and the event log's schema stay as they
are on every backend, and the settings only matter to this server's runner."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ocrlive.ocr.types import ReadSettings

FILE = "read-settings.json"


def save(folder: Path, settings: ReadSettings) -> None:
    """Written whole or not at all (a temporary file renamed), synced."""
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{FILE}.part"
    with open(part, "w", encoding="utf-8") as out:
        json.dump(settings.to_json(), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(part, folder / FILE)


def load(folder: Path) -> ReadSettings:
    """The saved settings; none (the server's) when there is no file."""
    try:
        data = json.loads((folder / FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ReadSettings()
    return ReadSettings.parse(data)


def forget(folder: Path) -> None:
    (folder / FILE).unlink(missing_ok=True)
