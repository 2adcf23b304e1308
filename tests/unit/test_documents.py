"""Opening uploaded documents: type by content, limits before decoding, pages as RGB."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest
from PIL import Image
from tests.helpers.drawing import draw_caution_card, write_pdf, write_tiff

from ocrlive.ocr.documents import (
    JPEG,
    PDF,
    PNG,
    TIFF,
    count_pages,
    load_pages,
    open_document,
    sniff_content_type,
    sniff_file,
)
from ocrlive.ocr.types import OcrFailure

LIMITS = {"pdf_dpi": 200, "max_pages": 50, "max_pixels": 60_000_000}
MIB = 1 << 20


def pages_of(path: Path, **limits: int) -> list[Image.Image]:
    return list(load_pages(path, **{**LIMITS, **limits}))


def failure_code(path: Path, **limits: int) -> str:
    with pytest.raises(OcrFailure) as caught:
        pages_of(path, **limits)
    return str(caught.value.code)


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def png_bomb(width: int, height: int) -> bytes:
    """A small PNG that declares width x height RGB pixels (its data runs out early)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 64 * 1024, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", PNG),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", JPEG),
        (b"II*\x00\x08\x00\x00\x00", TIFF),
        (b"MM\x00*\x00\x00\x00\x08", TIFF),
        (b"%PDF-1.7\n", PDF),
        (b"\r\n" * 100 + b"%PDF-1.4\n", PDF),  # junk before the header is legal PDF
        (b"GIF89a\x01\x00", None),
        (b" " * 1024 + b"%PDF-1.4\n", None),  # PDF readers only look in the first KiB
        (b"hello", None),
        (b"", None),
    ],
)
def test_sniff_content_type(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


def test_type_comes_from_content_not_name(tmp_path: Path) -> None:
    card = draw_caution_card()
    disguised = tmp_path / "scan.pdf"
    disguised.write_bytes(encoded(card, "PNG"))
    assert sniff_file(disguised) == PNG
    (page,) = pages_of(disguised)
    assert page.size == card.size and page.mode == "RGB"
    assert page.getpixel((300, 5)) == card.getpixel((300, 5))


def test_text_file_named_png_is_unsupported(tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("Patient: John Smith\n")
    assert failure_code(fake) == "unsupported_type"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF"])
def test_truncated_image_is_unreadable(tmp_path: Path, fmt: str) -> None:
    data = encoded(draw_caution_card(), fmt)
    broken = tmp_path / f"broken.{fmt.lower()}"
    broken.write_bytes(data[: len(data) // 2])
    assert failure_code(broken) == "unreadable_document"


def test_garbage_after_png_magic_is_unreadable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50)
    assert failure_code(broken) == "unreadable_document"


def test_truncated_pdf_is_unreadable(tmp_path: Path) -> None:
    pdf = write_pdf([draw_caution_card()], tmp_path / "whole.pdf")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(pdf.read_bytes()[:200])
    assert failure_code(broken) == "unreadable_document"


@pytest.mark.parametrize("side", [3000, 100_000])  # under and over PIL's own bomb guard
def test_huge_declared_image_fails_before_decoding(tmp_path: Path, side: int) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(side, side))
    tracemalloc.start()
    try:
        code = failure_code(bomb, max_pixels=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "too_many_pixels"
    assert peak < 2 * MIB  # the 27+ MB of pixels were never allocated


def test_huge_pdf_page_fails_before_rendering(tmp_path: Path) -> None:
    # 100 x 100 px at 1 dpi: a page 100 inches square, 20000 x 20000 px at 200 dpi.
    pdf = tmp_path / "poster.pdf"
    Image.new("RGB", (100, 100), "white").save(pdf, "PDF", resolution=1.0)
    tracemalloc.start()
    try:
        code = failure_code(pdf)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "too_many_pixels"
    assert peak < 2 * MIB


def test_page_cap_for_tiff_and_pdf(tmp_path: Path) -> None:
    cards = [draw_caution_card()] * 3
    tiff = write_tiff(cards, tmp_path / "three.tiff")
    pdf = write_pdf(cards, tmp_path / "three.pdf")
    for path in (tiff, pdf):
        assert failure_code(path, max_pages=2) == "too_many_pages"
        assert len(pages_of(path, max_pages=3)) == 3


def test_multi_page_tiff_gives_every_page_as_rgb(tmp_path: Path) -> None:
    sizes = [(300, 200), (200, 300), (640, 400)]
    images = [Image.new("L", sizes[0], 40), Image.new("1", sizes[1], 1), draw_caution_card()]
    tiff = write_tiff(images, tmp_path / "scan.tif")
    pages = pages_of(tiff)
    assert [page.size for page in pages] == sizes
    assert all(page.mode == "RGB" for page in pages)
    assert pages[0].getpixel((5, 5)) == (40, 40, 40)
    assert pages[1].getpixel((5, 5)) == (255, 255, 255)
    assert count_pages(tiff) == 3


def test_pdf_pages_render_at_the_requested_dpi(tmp_path: Path) -> None:
    # Pages of 827 x 1169 px at 100 dpi measure 8.27 x 11.69 inches (A4).
    first = Image.new("RGB", (827, 1169), "white")
    second = Image.new("RGB", (827, 1169), (200, 30, 30))
    pdf = write_pdf([first, second], tmp_path / "two.pdf", dpi=100)
    assert count_pages(pdf) == 2
    pages = pages_of(pdf, pdf_dpi=150)
    assert len(pages) == 2
    for page in pages:
        assert page.mode == "RGB"
        assert abs(page.width - 1240) <= 1 and abs(page.height - 1754) <= 1
    assert pages[0].getpixel((600, 900)) == (255, 255, 255)
    red, green, blue = rgb(pages[1], (600, 900))
    assert red > 180 and green < 60 and blue < 60


def test_exif_orientation_of_a_phone_photo_is_applied(tmp_path: Path) -> None:
    # Stored sideways with a red block top-left; orientation 6 = rotate 90° clockwise.
    stored = Image.new("RGB", (300, 100), "white")
    stored.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encoded(stored, "JPEG", exif=exif, quality=95))
    (page,) = pages_of(photo)
    assert page.size == (100, 300)
    red, green, _ = rgb(page, (90, 10))  # the block is now top-right
    assert red > 200 and green < 60
    assert rgb(page, (10, 10))[1] > 200


def test_transparent_png_is_flattened_on_white(tmp_path: Path) -> None:
    image = Image.new("RGBA", (50, 20), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (0, 0, 10, 20))
    path = tmp_path / "label.png"
    image.save(path)
    (page,) = pages_of(path)
    assert page.getpixel((40, 10)) == (255, 255, 255)
    assert page.getpixel((5, 10)) == (0, 0, 0)


def test_sixteen_bit_grey_keeps_its_tones(tmp_path: Path) -> None:
    path = tmp_path / "xray.png"
    Image.new("I;16", (20, 20), 32768).save(path)
    (page,) = pages_of(path)
    assert page.getpixel((5, 5)) == (128, 128, 128)


def test_open_document_reports_type_and_count_before_decoding(tmp_path: Path) -> None:
    pdf = write_pdf([draw_caution_card()] * 2, tmp_path / "two.pdf")
    with open_document(pdf, **LIMITS) as document:
        assert document.content_type == PDF
        assert document.page_count == 2


@pytest.mark.parametrize("kind", ["pdf", "tiff"])
def test_one_page_from_the_bytes_is_that_page_of_the_file(tmp_path: Path, kind: str) -> None:
    """A Dask worker reads page N alone from the document's bytes (no shared disk)."""
    drawn = [draw_caution_card([f"Page {n}", "x", "y", "z", "w", "v"]) for n in (1, 2, 3)]
    path = tmp_path / f"doc.{kind}"
    (write_pdf if kind == "pdf" else write_tiff)(drawn, path)
    from_file = pages_of(path)
    with open_document(path.read_bytes(), **LIMITS) as document:
        assert document.page_count == 3
        for number in (3, 1, 2):  # in any order, each decoded on its own
            page = document.page(number)
            assert page.mode == "RGB"
            assert page.tobytes() == from_file[number - 1].tobytes()


def test_bytes_are_checked_like_a_file() -> None:
    with pytest.raises(OcrFailure) as caught:
        open_document(b"just text", **LIMITS)
    assert caught.value.code == "unsupported_type"
    with pytest.raises(OcrFailure) as caught:
        open_document(b"%PDF-1.7 truncated", **LIMITS)
    assert caught.value.code == "unreadable_document"
