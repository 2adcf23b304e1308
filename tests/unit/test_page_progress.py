"""One progress bar for a document whose pages are read at once on several workers:
whatever the interleaving of the pages' reports, it never goes back, counts pages
read only up, and says `done` once, last, at 100."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ocrlive.ocr.page_progress import DocumentProgress
from ocrlive.ocr.types import Progress

# What the engine reports for one page of N (stage, share of the page done).
PAGE_STEPS = [("loading", 0.0), ("detecting", 0.05), ("recognizing", 0.4), ("recognizing", 0.7),
              ("recognizing", 1.0)]  # fmt: skip


def page_report(number: int, total: int, stage: str, within: float) -> Progress:
    percent = round((number - 1 + within) * 100 / total, 2)
    return Progress("t", stage, percent, f"Page {number} of {total}", number, total)


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, int]]]:
    """Pages 1..N, each a run of reports then its end, merged in a random order."""
    total = draw(st.integers(1, 6))
    queues = {n: [("report", n, i) for i in range(len(PAGE_STEPS))] + [("end", n, 0)]
              for n in range(1, total + 1)}  # fmt: skip
    merged: list[tuple[str, int, int]] = []
    while queues:
        number = draw(st.sampled_from(sorted(queues)))
        merged.append(queues[number].pop(0))
        if not queues[number]:
            del queues[number]
    late = draw(st.lists(st.integers(1, total), max_size=3))  # reports after a page ended
    return total, merged + [("report", n, 2) for n in late]


@given(interleavings())
def test_any_interleaving_of_pages_is_one_monotonic_bar(
    case: tuple[int, list[tuple[str, int, int]]],
) -> None:
    total, steps = case
    seen: list[Progress] = []
    bar = DocumentProgress("t", total, seen.append)
    bar.opened()
    for kind, number, index in steps:
        if kind == "end":
            bar.page_done(number, lines=2)
        else:
            stage, within = PAGE_STEPS[index]
            bar.page_progress(page_report(number, total, stage, within))
    percents = [p.progress for p in seen]
    assert percents == sorted(percents)
    assert [p.page for p in seen] == sorted(p.page for p in seen)
    done = [p for p in seen if p.stage == "done"]
    assert len(done) == 1 and done[0].progress == 100.0
    assert done[0].message == f"Done: {2 * total} lines of text on {total} page" + (
        "s" if total > 1 else ""
    )
    assert all(p.progress < 100 for p in seen if p.stage != "done")
    assert seen[-1] is done[0]  # late reports of pages already read say nothing


def test_pages_read_is_what_the_task_shows_as_pages_done() -> None:
    seen: list[Progress] = []
    bar = DocumentProgress("t", 3, seen.append)
    bar.opened()
    bar.page_progress(page_report(3, 3, "recognizing", 0.5))
    bar.page_done(3, lines=4)
    assert (seen[-1].page, seen[-1].message) == (2, "1 of 3 pages read")  # 1 page done
    assert seen[-1].progress == round(100 / 3, 2)
