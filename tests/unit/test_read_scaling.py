"""Pages above the read size are scaled down as they are decoded (issue #12, item 7):
what bounds a worker's memory is the read size, not the bomb guard."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from tests.helpers.drawing import draw_page, write_pdf

from ocrlive.ocr.documents import load_pages

LIMITS = {"pdf_dpi": 200, "max_pages": 50, "max_pixels": 60_000_000}


def test_a_large_image_is_read_at_the_read_size_with_its_aspect(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (4000, 2000), "white").save(path)
    (page,) = load_pages(path, **LIMITS, read_pixels=2_000_000)
    assert page.width * page.height <= 2_000_000
    assert page.size == (2000, 1000)


def test_a_jpeg_is_decoded_small_not_decoded_then_shrunk(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (6000, 4000), "white").save(path, quality=50)
    (page,) = load_pages(path, **LIMITS, read_pixels=1_500_000)
    assert page.width * page.height <= 1_500_000
    assert abs(page.width / page.height - 1.5) < 0.01


def test_a_pdf_page_is_rendered_at_the_read_size(tmp_path: Path) -> None:
    path = write_pdf([draw_page(["a line"], (1654, 2339))], tmp_path / "a4.pdf")
    (full,) = load_pages(path, **LIMITS)
    (small,) = load_pages(path, **LIMITS, read_pixels=1_000_000)
    assert abs(full.width - 1654) <= 1 and abs(full.height - 2339) <= 1
    assert small.width * small.height <= 1_000_000
    assert abs(small.width / small.height - full.width / full.height) < 0.01


def test_pages_within_the_read_size_are_untouched(tmp_path: Path) -> None:
    path = tmp_path / "a4.png"
    draw_page(["a line"]).save(path)
    (page,) = load_pages(path, **LIMITS)
    assert page.size == (1654, 2339)
