"""Where a run's page images are kept.

Each run of a task (named by the seq of its `task.started` event, as the run fence
names it: tasks/journal.py) writes its page images into a folder of its own,
`<pages_dir>/<task_id>/run-<seq>/page-N.png`, and the result it stores names that run
(`run`; its pages' `image_url` carry it). A stale run still writing (cancelled on
another node, its worker taken for dead and its pages read elsewhere, or replaced by a
re-run) writes only into its own folder, so it can never replace the images of the
run whose text is shown, and no lock or rename is needed on a folder shared by several
machines. An earlier revision keeps pointing at its own run's images.

Results stored before runs had folders name no run: their images are `page-N.png` in
the task's folder, read as they always were.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUN_PREFIX = "run-"


def run_folder(task_folder: Path, run: int) -> Path:
    """Where the run `run` of the task whose folder is `task_folder` writes its pages."""
    return task_folder / f"{RUN_PREFIX}{run}"


def result_folder(task_folder: Path, result: Mapping[str, Any]) -> Path:
    """The folder of the page images of a stored result (an old one's: the task's)."""
    run = result.get("run")
    if isinstance(run, int) and not isinstance(run, bool):
        return run_folder(task_folder, run)
    return task_folder


def page_path(folder: Path, number: int) -> Path:
    return folder / f"page-{number}.png"


def image_url(task_id: str, number: int, run: int) -> str:
    return f"/api/tasks/{task_id}/pages/{number}.png?run={run}"
