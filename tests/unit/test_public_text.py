"""What clients see of names and errors: filenames without control or bidirectional
characters, error messages without server paths (issue #12, items 4 and 10)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from ocrlive.errors import scrub_paths
from ocrlive.http.uploads import clean_filename

HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


@given(st.text(max_size=300))
def test_a_clean_filename_has_no_hidden_characters(raw: str) -> None:
    name = clean_filename(raw)
    assert 0 < len(name) <= 200
    assert "/" not in name and "\\" not in name
    assert all(unicodedata.category(c) not in HIDDEN or c in "\u200c\u200d" for c in name)


def test_clean_filename_examples() -> None:
    assert clean_filename("report\u202egnp.exe") == "reportgnp.exe"
    assert clean_filename("C:\\scans\\ward 3\\card.png") == "card.png"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("\u0000\u2066") == "document"
    assert clean_filename("نامه\u200cها.pdf") == "نامه\u200cها.pdf"  # ZWNJ spells Persian


def test_scrub_paths_keeps_the_last_part_only() -> None:
    text = "cannot identify image file '/srv/ocrlive/files/ab/abcd.png'"
    assert scrub_paths(text) == "cannot identify image file '…/abcd.png'"
    assert (
        scrub_paths("No PaddleOCR model in /opt/m/PP-OCRv6_det")
        == "No PaddleOCR model in …/PP-OCRv6_det"
    )
    assert (
        scrub_paths("see https://example.org/a/b, P-12/3") == "see https://example.org/a/b, P-12/3"
    )


@given(st.lists(st.sampled_from(["srv", "data", "x y", "f.png"]), min_size=2, max_size=5))
def test_no_absolute_path_survives(parts: list[str]) -> None:
    path = "/" + "/".join(p.replace(" ", "_") for p in parts)
    assert path not in scrub_paths(f"error at {path}: failed")
