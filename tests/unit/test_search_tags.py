"""The filters as index tokens: a date range is covered exactly by decade, year, month
and day tokens, as migrations/versions/0004_search_tags.py tags each page."""

from __future__ import annotations

import random
from datetime import date, timedelta

from ocrlive.records.base import SearchFilters
from ocrlive.records.tags import EARLIEST, LATEST, date_tags, filter_tags, value_tag


def tags_of(day: date) -> set[str]:
    """What the migration's SQL writes for a page uploaded on `day`."""
    iso = day.isoformat()
    return {
        f"e{iso[:3]}",
        f"y{iso[:4]}",
        f"m{iso[:4]}{iso[5:7]}",
        f"d{iso[:4]}{iso[5:7]}{iso[8:10]}",
    }


def test_a_date_range_is_exactly_the_days_its_tokens_cover() -> None:
    rng = random.Random(5)
    for _ in range(300):
        first = date(2018, 1, 1) + timedelta(days=rng.randrange(3000))
        last = first + timedelta(days=rng.choice([0, 1, 27, 31, 200, 400, 1500, 4000]))
        tokens = set(date_tags(first, last))
        for day in (first - timedelta(days=1), first, last, last + timedelta(days=1),
                    first + (last - first) / 2):  # fmt: skip
            assert bool(tags_of(day) & tokens) == (first <= day <= last), (first, last, day)
        assert len(tokens) <= 80


def test_whole_spans_are_one_token_and_an_empty_range_none() -> None:
    assert date_tags(date(2026, 3, 1), date(2026, 4, 30)) == ["m202603", "m202604"]
    assert date_tags(date(2020, 1, 1), date(2029, 12, 31)) == ["e202"]
    assert date_tags(date(2026, 3, 5), date(2026, 3, 5)) == ["d20260305"]
    assert date_tags(date(2026, 3, 5), date(2026, 3, 4)) == []
    assert filter_tags(SearchFilters(date_from="2026-03-05", date_to="2026-03-04")) is None


def test_values_are_hex_tokens_and_open_ranges_reach_the_bounds() -> None:
    found = filter_tags(SearchFilters(patient_id="P-1 /x", status="queued", date_to="1999-12-31"))
    assert found is not None
    assert found[0] == [value_tag("p", "P-1 /x")] == ["p502d31202f78"]
    assert found[1] == ["s" + b"queued".hex()]
    assert found[2][0] == "e197" and found[2][-1] == "e199"
    assert date_tags(date(2020, 5, 1), LATEST)[-1] == "e219"
    assert date_tags(EARLIEST, date(1970, 1, 1)) == ["d19700101"]
