"""Documents as records over a real SQLite file and a real PostgreSQL database: the
writer's completions, corrections, re-runs and purges keep the search index, the
revisions and the review queue in step."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from tests.helpers.db import is_postgres, query
from tests.unit.test_manager import RecordingPublisher

from ocrlive.errors import InvalidRequest, InvalidState, NotFound, RevisionConflict
from ocrlive.events import EventType, Task
from ocrlive.ocr.types import TaskResult
from ocrlive.records import open_records
from ocrlive.records.base import Records, SearchFilters, SearchResults
from ocrlive.records.query import parse_query
from ocrlive.records.revisions import EditRequest
from ocrlive.records.snippets import make_snippet
from ocrlive.store.base import Store
from ocrlive.store.db import alembic_config
from ocrlive.tasks.manager import NewTask, TaskManager


def edit(page: int, line: int, action: str, text: str | None, author: str,
         base: int | None = None) -> EditRequest:  # fmt: skip
    return EditRequest(page=page, line=line, action=action, text=text, author=author,
                       base_revision=base)  # fmt: skip


def make_result(*pages: list[tuple[str, float]]) -> TaskResult:
    """A result as the runner stores it: pages of (text, score) lines with boxes."""
    shaped = []
    for number, lines in enumerate(pages, start=1):
        boxes = [
            [[10, 40 * i], [400, 40 * i], [400, 40 * i + 30], [10, 40 * i + 30]]
            for i in range(len(lines))
        ]
        shaped.append({
            "number": number, "width": 500, "height": 1000,
            "text": "\n".join(t for t, _ in lines),
            "lines": [{"text": t, "score": s, "box": b}
                      for (t, s), b in zip(lines, boxes, strict=True)],
        })  # fmt: skip
    return {"task_id": "t", "text": "\n\n".join(p["text"] for p in shaped), "score": 0.9,
            "engine": {"name": "test"}, "pages": shaped}  # type: ignore[typeddict-item]  # fmt: skip


@pytest.fixture
async def manager(store: Store) -> TaskManager:
    m = TaskManager(store, RecordingPublisher(), progress_interval=0.05)
    await m.start()
    return m


@pytest.fixture
async def records(database: Path | str, store: Store) -> AsyncIterator[Records]:
    opened = open_records(database, store.log.index_queued)  # the fixture migrated it
    yield opened
    await opened.close()


async def finished(
    manager: TaskManager, result: TaskResult, *, patient: str = "P-1",
    doc_type: str = "lab_report",
) -> Task:  # fmt: skip
    new = NewTask(
        patient_id=patient, document_type=doc_type, filename="scan.pdf",
        content_type="application/pdf", size=10, sha256="0" * 64, file_path="/nonexistent",
    )  # fmt: skip
    task, _ = await manager.create(new)
    await manager.mark_started(task.id)
    return await manager.complete(task.id, result)


async def search(records: Records, q: str, **filters: Any) -> SearchResults:
    query = parse_query(q)
    return await records.search.search(query, SearchFilters(**filters), limit=20, offset=0)


def ids(found: SearchResults) -> list[str]:
    return [hit.task.id for hit in found.hits]


async def test_a_word_on_page_three_is_found_on_page_three_with_its_context(
    records: Records, manager: TaskManager
) -> None:
    task = await finished(
        manager,
        make_result([("Referral letter", 0.99)], [("Blood pressure stable", 0.98)],
                    [("Known allergy to penicillin since 1990", 0.97)]),
    )  # fmt: skip
    found = await search(records, "penicillin")
    assert [(h.task.id, h.page) for h in found.hits] == [(task.id, 3)]
    assert ("penicillin", True) in found.hits[0].snippet
    assert "".join(t for t, _ in found.hits[0].snippet) == "Known allergy to penicillin since 1990"
    assert found.total == 1 and found.total_exact


async def test_words_prefixes_phrases_and_exclusions(
    records: Records, manager: TaskManager
) -> None:
    a = await finished(manager, make_result([("Takes warfarin daily", 0.99)]))
    b = await finished(manager, make_result([("Daily warfarin review", 0.99)]))
    assert set(ids(await search(records, "warfarin daily"))) == {a.id, b.id}
    assert ids(await search(records, '"warfarin daily"')) == [a.id]
    assert set(ids(await search(records, "warf*"))) == {a.id, b.id}
    assert ids(await search(records, "warfarin -review")) == [a.id]
    assert ids(await search(records, "WÄRFARIN takes")) == [a.id]  # case and accents folded
    assert ids(await search(records, 'warfarin "unclosed phr')) == []
    with pytest.raises(InvalidRequest):
        parse_query('-only "" *')


async def test_a_phrase_matches_only_where_its_words_meet(
    records: Records, manager: TaskManager, database: Path | str
) -> None:
    """On PostgreSQL the phrase is first narrowed by the pages' word pairs (migration
    0008); a page holding both words apart, however often, is still not a hit."""
    apart = [(f"blood test {n}, pressure later", 0.9) for n in range(5)]
    far = await finished(manager, make_result(apart, [("Pressure blood", 0.9)]))
    near = await finished(manager, make_result([("Blood Pressure 120/80 blood", 0.9)]))
    three = await finished(manager, make_result([("no known drug allergy", 0.9)]))
    assert ids(await search(records, '"blood pressure"')) == [near.id]
    assert ids(await search(records, '"pressure blood"')) == [far.id]
    assert ids(await search(records, '"known drug allergy"')) == [three.id]
    assert ids(await search(records, '"known allergy"')) == []
    assert ids(await search(records, "drug-aller*")) == [three.id]  # a prefix's last word
    assert ids(await search(records, '"BLÖOD pressure" -"drug allergy"')) == [near.id]
    if is_postgres(database):
        paired = "SELECT task_id FROM search_pages WHERE pairs @@ CAST(? AS tsquery)"
        assert query(database, paired, ("'blood pressure'",)) == [(near.id,)]
        assert query(database, paired, ("'known drug' & 'drug allergy'",)) == [(three.id,)]


async def test_pages_indexed_before_the_pair_index_are_paired_by_its_migration(
    records: Records, manager: TaskManager, database: Path | str
) -> None:
    """Migration 0008 down and up again (PostgreSQL's pairs; nothing on SQLite): the pages
    already indexed get their pairs, and the phrase is still found."""
    task = await finished(manager, make_result([("Chest pain resolved", 0.9)]))
    assert ids(await search(records, '"chest pain"')) == [task.id]
    command.downgrade(alembic_config(database), "0007_run_fence")
    later = await finished(manager, make_result([("Chest pain again", 0.9)]))
    command.upgrade(alembic_config(database), "head")
    assert set(ids(await search(records, '"chest pain"'))) == {task.id, later.id}
    if is_postgres(database):
        paired = "SELECT count(*) FROM search_pages WHERE pairs @@ CAST(? AS tsquery)"
        assert query(database, paired, ("'chest pain'",)) == [(2,)]


async def test_punctuation_cuts_words_alike_and_more_matches_rank_first(
    records: Records, manager: TaskManager
) -> None:
    """Both backends cut text where a query is cut (records/query.py), so numbers,
    hyphens and units match as typed; a page that holds the words more often ranks first."""
    lab = await finished(manager, make_result([("K+ 4.5 mmol/L; blood-pressure 120/80", 0.9)]))
    assert ids(await search(records, '"4.5 mmol"')) == [lab.id]
    assert ids(await search(records, "blood-pressure")) == [lab.id]
    assert ids(await search(records, '"120/80"')) == [lab.id]
    assert ids(await search(records, '"mmol l blood"')) == [lab.id]
    once = await finished(manager, make_result([("insulin given", 0.9), ("seen", 0.9)]))
    often = await finished(manager, make_result([("insulin dose; insulin given; insulin", 0.9)]))
    assert ids(await search(records, "insulin")) == [often.id, once.id]


async def test_past_the_count_cap_hits_come_newest_first_and_the_total_says_more(
    records: Records, manager: TaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word on more pages than are worth ranking: the newest documents first, the total
    capped and marked inexact; under the cap, ranked and exact (both backends)."""
    import ocrlive.records.postgres
    import ocrlive.records.sqlite

    for module in (ocrlive.records.sqlite, ocrlive.records.postgres):
        monkeypatch.setattr(module, "COUNT_CAP", 2)
    # PostgreSQL looks among the newest 1, then 3 documents, then all of them.
    monkeypatch.setattr(ocrlive.records.postgres, "RECENT_WINDOWS", (1, 3))
    made = [await finished(manager, make_result([("oxygen given", 0.9)])) for _ in range(4)]
    found = await search(records, "oxygen")
    assert (found.total, found.total_exact, found.order) == (2, False, "recent")
    assert ids(found) == [t.id for t in reversed(made)]  # newest first
    for offset, expected in ((0, made[:1:-1]), (2, made[1::-1])):
        query = parse_query("oxygen")
        paged = await records.search.search(query, SearchFilters(), limit=2, offset=offset)
        assert [h.task.id for h in paged.hits] == [t.id for t in expected]
    few = await search(records, "oxygen", patient_id="nobody-else")
    assert (few.total, few.total_exact) == (0, True)


async def test_every_filter_narrows_the_hits(records: Records, manager: TaskManager) -> None:
    lab = await finished(manager, make_result([("potassium normal", 0.99)]), patient="P-7")
    letter = await finished(
        manager, make_result([("potassium low", 0.99)]), patient="P-8", doc_type="referral_letter"
    )
    assert set(ids(await search(records, "potassium"))) == {lab.id, letter.id}
    assert ids(await search(records, "potassium", patient_id="P-8")) == [letter.id]
    assert ids(await search(records, '"potassium low"', patient_id="P-8")) == [letter.id]
    assert ids(await search(records, '"potassium low"', patient_id="P-7")) == []
    assert ids(await search(records, "potass*", patient_id="P-7")) == [lab.id]
    assert ids(await search(records, 'potassium -"potassium low"', patient_id="P-8")) == []
    assert ids(await search(records, '"low potassium"', patient_id="P-8")) == []
    assert ids(await search(records, "potassium", document_type="lab_report")) == [lab.id]
    await manager.rerun(letter.id)  # queued again: the old text stays searchable
    assert ids(await search(records, "potassium", status="queued")) == [letter.id]
    assert ids(await search(records, "potassium", status="completed")) == [lab.id]
    day = lab.created_at[:10]
    assert len(ids(await search(records, "potassium", date_from=day, date_to=day))) == 2
    assert ids(await search(records, "potassium", date_to="2000-01-01")) == []
    assert ids(await search(records, "potassium", date_from="2999-01-01")) == []


async def test_a_purged_document_is_forgotten_everywhere(
    records: Records, manager: TaskManager, database: Path | str
) -> None:
    task = await finished(manager, make_result([("creatinine raised", 0.5)]))
    await manager.edit_line(task.id, edit(1, 0, "correct", "creatinine raised!", "nurse"))
    assert ids(await search(records, "creatinine")) == [task.id]
    await manager.store.log.purge("9999-12-31")
    assert ids(await search(records, "creatinine")) == []
    tables = ["results", "result_history", "line_edits", "review_queue", "search_pages"]
    tables += [] if is_postgres(database) else ["search_docs"]  # FTS5's rowid ranges
    for table in tables:
        assert query(database, f"SELECT count(*) FROM {table}") == [(0,)], table


async def test_a_correction_is_a_revision_seen_by_search_and_announced(
    records: Records, manager: TaskManager
) -> None:
    task = await finished(manager, make_result([("Patient is alergic to penicilin", 0.62),
                                                ("Signed", 0.99)]))  # fmt: skip
    change = edit(1, 0, "correct", "Patient is allergic to penicillin", "dr-jones", 1)
    corrected, outcome = await manager.edit_line(task.id, change)
    assert outcome.revision == 2 and corrected.version > task.version
    publisher = manager.journal.publisher
    assert isinstance(publisher, RecordingPublisher)
    assert publisher.seen[-1].type == EventType.CORRECTED
    assert ids(await search(records, "allergic penicillin")) == [task.id]
    assert ids(await search(records, "penicilin")) == []
    stored = await records.reads.current(task.id)
    assert stored is not None
    result, revision = stored
    line = result["pages"][0]["lines"][0]
    assert revision == 2 and result["text"].startswith("Patient is allergic to penicillin")
    assert line["ocr_text"] == "Patient is alergic to penicilin" and line["reviewed"] == "corrected"
    with pytest.raises(RevisionConflict):  # an editor who saw revision 1 must reload
        await manager.edit_line(task.id, edit(1, 0, "confirm", None, "dr-who", 1))


async def test_the_revision_history_of_a_corrected_line(
    records: Records, manager: TaskManager
) -> None:
    task = await finished(manager, make_result([("Dose: 5 rng daily", 0.55), ("ok", 0.99)]))
    await manager.edit_line(task.id, edit(1, 0, "correct", "Dose: 5 mg daily", "nurse-a"))
    await manager.edit_line(task.id, edit(1, 0, "correct", "Dose: 2.5 mg daily", "dr-b"))
    await manager.edit_line(task.id, edit(1, 1, "confirm", None, "dr-b"))
    past = await records.reads.history(task.id, page=1, line=0)
    steps = [(e["revision"], e["text_before"], e["text_after"], e["author"]) for e in past["edits"]]
    assert steps == [
        (2, "Dose: 5 rng daily", "Dose: 5 mg daily", "nurse-a"),
        (3, "Dose: 5 mg daily", "Dose: 2.5 mg daily", "dr-b"),
    ]
    assert {e["ocr_text"] for e in past["edits"]} == {"Dose: 5 rng daily"}
    assert all(e["created_at"] for e in past["edits"])


async def test_edits_are_checked_and_refused_cleanly(
    records: Records, manager: TaskManager
) -> None:
    task = await finished(manager, make_result([("one line", 0.9)]))
    with pytest.raises(NotFound):
        await manager.edit_line(task.id, edit(2, 0, "correct", "x", "a"))
    with pytest.raises(NotFound):
        await manager.edit_line(task.id, edit(1, 5, "correct", "x", "a"))
    with pytest.raises(InvalidRequest):
        await manager.edit_line(task.id, edit(1, 0, "correct", "two\nlines", "a"))
    await manager.rerun(task.id)
    with pytest.raises(InvalidState):  # not while it is being read again
        await manager.edit_line(task.id, edit(1, 0, "confirm", None, "a"))


async def test_a_rerun_is_a_new_revision_that_keeps_the_old_ones(
    records: Records, manager: TaskManager, database: Path | str
) -> None:
    task = await finished(manager, make_result([("Haemoglobin 13.1", 0.7)]))
    await manager.edit_line(task.id, edit(1, 0, "correct", "Haemoglobin 13.7", "lab"))
    await manager.rerun(task.id)
    await manager.mark_started(task.id)
    await manager.complete(task.id, make_result([("Haemoglobin 13.7 g/dL", 0.98)]))
    stored = await records.reads.current(task.id)
    past = await records.reads.history(task.id)
    assert stored is not None and stored[1] == 3
    assert [r["revision"] for r in past["replaced"]] == [2]
    assert ids(await search(records, "dL")) == [task.id]
    (old,) = query(database, "SELECT result FROM result_history WHERE task_id = ?", (task.id,))
    assert json.loads(old[0])["pages"][0]["lines"][0]["text"] == "Haemoglobin 13.7"


async def test_the_review_queue_puts_the_most_doubtful_first_and_follows_reviews(
    records: Records, manager: TaskManager
) -> None:
    clean = await finished(manager, make_result([("clear", 0.99)]))
    fair = await finished(manager, make_result([("fair", 0.75), ("fine", 0.99)]))
    poor = await finished(manager, make_result([("p00r", 0.41), ("poor", 0.7)]))
    entries, total = await records.reads.review_queue(0.8, limit=10, offset=0)
    assert [(e.task.id, e.pending) for e in entries] == [(poor.id, 2), (fair.id, 1)]
    assert total == 2 and clean.id not in {e.task.id for e in entries}
    await manager.edit_line(poor.id, edit(1, 0, "correct", "poor", "a"))
    await manager.edit_line(fair.id, edit(1, 0, "confirm", None, "a"))
    entries, _ = await records.reads.review_queue(0.8, limit=10, offset=0)
    assert [(e.task.id, e.pending, e.min_score) for e in entries] == [(poor.id, 1, 0.7)]
    entries, _ = await records.reads.review_queue(0.5, limit=10, offset=0)  # stricter
    assert entries == []
    entries, total = await records.reads.review_queue(1.0, limit=10, offset=0)  # looser
    assert {e.task.id for e in entries} == {poor.id, fair.id, clean.id} and total == 3


async def test_the_patient_view_lists_newest_first_with_the_first_lines(
    records: Records, manager: TaskManager
) -> None:
    old = await finished(
        manager, make_result([("Old letter", 0.9), ("second", 0.9)]), patient="P-5"
    )
    new = await finished(manager, make_result([("New lab", 0.9)]), patient="P-5")
    await finished(manager, make_result([("someone else", 0.9)]), patient="P-6")
    docs, total = await records.reads.patient_documents("P-5", 0.8, limit=10, offset=0)
    assert [d.task.id for d in docs] == [new.id, old.id] and total == 2
    assert docs[1].first_lines == ["Old letter", "second"] and docs[0].revision == 1


def test_snippets_mark_what_the_index_matched_in_context() -> None:
    body = "Seen today.\nKnown allergy to Pénicilline since 1990; takes warfarin daily and more "
    body += "words here"
    parts = make_snippet(body, parse_query('penicill* "takes warfarin"'))
    assert [t for t, m in parts if m] == ["Pénicilline", "takes warfarin"]
    assert "".join(t for t, _ in parts) == (
        "…today. Known allergy to Pénicilline since 1990; takes warfarin daily and more words here"
    )
    assert make_snippet("", parse_query("x")) == []
    assert make_snippet("a b", parse_query("zzz")) == [("a b", False)]
