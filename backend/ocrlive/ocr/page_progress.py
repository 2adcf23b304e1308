"""One progress bar for a document whose pages are read at the same time on several
workers. Each page reports as the engine does for a whole document read in order
(its share of 0..100); this keeps how far each page has come and reports the sum."""

from __future__ import annotations

from collections.abc import Callable

from ocrlive.events import Stage
from ocrlive.ocr.types import Progress


def plural(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


class DocumentProgress:
    def __init__(self, task_id: str, pages_total: int, emit: Callable[[Progress], None]) -> None:
        self.task_id, self.pages_total, self._emit = task_id, pages_total, emit
        self._within = [0.0] * pages_total  # 0..1 for each page
        self._done: set[int] = set()
        self._lines = 0

    @property
    def pages_done(self) -> int:
        return len(self._done)

    def opened(self) -> None:
        message = f"Opening the document ({plural(self.pages_total, 'page')})"
        self._report(Stage.LOADING, message)

    def page_progress(self, progress: Progress) -> None:
        """A report of one page, as the engine made it (page N of pages_total)."""
        number = progress.page
        if not 1 <= number <= self.pages_total or number in self._done:
            return  # late, or for a page already read
        share = 100 / self.pages_total
        within = progress.progress / share - (number - 1)
        self._within[number - 1] = max(self._within[number - 1], min(1.0, max(0.0, within)))
        lines = {"lines_done": progress.lines_done, "lines_total": progress.lines_total}
        self._report(progress.stage, progress.message, **lines)

    def page_done(self, number: int, lines: int) -> None:
        if number in self._done:
            return
        self._done.add(number)
        self._within[number - 1] = 1.0
        self._lines += lines
        if len(self._done) < self.pages_total:
            self._report(Stage.RECOGNIZING, f"{self.pages_done} of {self.pages_total} pages read")
            return
        pages = plural(self.pages_total, "page")
        message = f"Done: {plural(self._lines, 'line')} of text on {pages}"
        total = self.pages_total
        self._emit(Progress(self.task_id, Stage.DONE, 100.0, message, total, total))

    def _report(self, stage: Stage, message: str, **lines: int) -> None:
        # 100 only once every page is read; page N means N - 1 pages are done.
        percent = min(99.99, round(100 * sum(self._within) / self.pages_total, 2))
        page = min(self.pages_done + 1, self.pages_total)
        self._emit(Progress(self.task_id, stage, percent, message, page, self.pages_total, **lines))
