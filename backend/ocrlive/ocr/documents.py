"""Open uploaded documents (PNG, JPEG, TIFF, PDF) as RGB page images.

The type comes from the file's first bytes, never its name. Every limit
(pages, pixels) is checked from headers before anything is decoded, so a
decompression bomb fails fast without allocating its pixels.
"""

from __future__ import annotations

import io
import math
import struct
import sys
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from ocrlive.events import TaskErrorCode

from .types import (
    OcrFailure,
)

PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
PDF = "application/pdf"
SUPPORTED_TYPES = (PNG, JPEG, TIFF, PDF)
SNIFF_BYTES = 1024  # PDF readers accept the %PDF- header anywhere in the first 1 KiB
# Pages above this are scaled down before they are read (see OCRLIVE_READ_PIXELS).
READ_PIXELS = 8_000_000

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"II+\x00", TIFF),  # BigTIFF
    (b"MM\x00+", TIFF),
)
_PIL_FORMATS = {PNG: "PNG", JPEG: "JPEG", TIFF: "TIFF"}
_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255)
# What broken files make PIL and pdfium raise; anything else is a bug of ours.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    struct.error,
    zlib.error,
    pdfium.PdfiumError,
)


def sniff_content_type(head: bytes) -> str | None:
    """The supported type these leading bytes announce, or None."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    if b"%PDF-" in head[:SNIFF_BYTES]:
        return PDF
    return None


def sniff_file(path: str | Path) -> str | None:
    with open(path, "rb") as file:
        return sniff_content_type(file.read(SNIFF_BYTES))


# A document is read from its path, or from its bytes where there is no shared disk
# (a page job on a Dask worker on another machine).
Source = str | Path | bytes


class Document:
    """An opened, already validated document whose pages decode one at a time."""

    content_type: str
    page_count: int

    def pages(self) -> Iterator[Image.Image]:
        for number in range(1, self.page_count + 1):
            yield self.page(number)

    def page(self, number: int) -> Image.Image:
        """Page `number` (1-based) as an RGB image; only that page is decoded."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Document:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_document(
    source: Source, *, pdf_dpi: int, max_pages: int, max_pixels: int,
    read_pixels: int = READ_PIXELS,
) -> Document:  # fmt: skip
    """Open and validate `source`; raises OcrFailure with a public code. Pages larger
    than `read_pixels` are scaled down to it (aspect kept) as they are decoded."""
    content_type = _sniff_or_fail(source)
    limits = _Limits(max_pages, max_pixels, read_pixels)
    if content_type == PDF:
        return _PdfDocument(source, pdf_dpi, limits)
    return _ImageDocument(source, content_type, limits)


def load_pages(
    path: str | Path, *, pdf_dpi: int, max_pages: int, max_pixels: int,
    read_pixels: int = READ_PIXELS,
) -> Iterator[Image.Image]:  # fmt: skip
    """Each page of `path` as an RGB image, validated before the first is decoded."""
    document = open_document(
        path, pdf_dpi=pdf_dpi, max_pages=max_pages, max_pixels=max_pixels,
        read_pixels=read_pixels,
    )  # fmt: skip
    with document:
        yield from document.pages()


def count_pages(path: str | Path) -> int:
    """The number of pages, without decoding any (no limits applied)."""
    with open_document(path, pdf_dpi=1, max_pages=sys.maxsize, max_pixels=sys.maxsize) as doc:
        return doc.page_count


class _Limits:
    def __init__(self, max_pages: int, max_pixels: int, read_pixels: int = READ_PIXELS) -> None:
        self.max_pages = max_pages
        self.max_pixels = max_pixels
        self.read_pixels = read_pixels

    def read_scale(self, width: int, height: int) -> float:
        """The factor (<= 1) that brings a page within read_pixels."""
        pixels = width * height
        return 1.0 if pixels <= self.read_pixels else math.sqrt(self.read_pixels / pixels)

    def fit(self, image: Image.Image) -> Image.Image:
        scale = self.read_scale(*image.size)
        if scale >= 1.0:
            return image
        size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
        return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)

    def check_pages(self, count: int) -> None:
        if count > self.max_pages:
            raise OcrFailure(
                TaskErrorCode.TOO_MANY_PAGES,
                f"The document has {count} pages; at most {self.max_pages} can be read.",
            )

    def check_pixels(self, number: int, width: int, height: int) -> None:
        if width * height > self.max_pixels:
            raise OcrFailure(
                TaskErrorCode.TOO_MANY_PIXELS,
                f"Page {number} is {width} x {height} pixels, more than the "
                f"{self.max_pixels:,} allowed.",
            )


class _PdfDocument(Document):
    def __init__(self, source: Source, dpi: int, limits: _Limits) -> None:
        self.content_type = PDF
        self._scale = dpi / 72  # PDF sizes are in points
        self._limits = limits
        try:
            self._pdf = pdfium.PdfDocument(source if isinstance(source, bytes) else str(source))
            self.page_count = len(self._pdf)
            limits.check_pages(self.page_count)
            for index in range(self.page_count):
                width, height = self._pixel_size(index)
                limits.check_pixels(index + 1, width, height)
            self._pdf.init_forms()  # so filled-in form fields are drawn
        except _DECODE_ERRORS as exc:
            self.close()
            raise _unreadable(exc) from exc
        except OcrFailure:
            self.close()
            raise

    def _pixel_size(self, index: int) -> tuple[int, int]:
        width, height = self._pdf.get_page_size(index)
        return math.ceil(width * self._scale), math.ceil(height * self._scale)

    def page(self, number: int) -> Image.Image:
        try:
            page = self._pdf[number - 1]
            # A page over read_pixels is rendered smaller, never rendered then shrunk.
            scale = self._scale * self._limits.read_scale(*self._pixel_size(number - 1))
            bitmap = page.render(scale=scale, may_draw_forms=True)
            image: Image.Image = bitmap.to_pil().convert("RGB")
            page.close()
        except _DECODE_ERRORS as exc:
            raise _unreadable(exc, number) from exc
        return image

    def close(self) -> None:
        pdf = getattr(self, "_pdf", None)
        if pdf is not None:
            pdf.close()


class _ImageDocument(Document):
    def __init__(self, source: Source, content_type: str, limits: _Limits) -> None:
        self.content_type = content_type
        self._limits = limits
        self._image: Image.Image | None = None
        file = io.BytesIO(source) if isinstance(source, bytes) else source
        try:
            with warnings.catch_warnings():
                # We enforce our own pixel limit; PIL's warning adds nothing.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._image = Image.open(file, formats=[_PIL_FORMATS[content_type]])
                # Only TIFF pages are pages; extra PNG/JPEG frames are previews.
                frames: int = getattr(self._image, "n_frames", 1)
                self.page_count = frames if content_type == TIFF else 1
                limits.check_pages(self.page_count)
                for index in range(self.page_count):
                    self._image.seek(index)
                    limits.check_pixels(index + 1, *self._image.size)
        except Image.DecompressionBombError as exc:
            self.close()
            raise OcrFailure(
                TaskErrorCode.TOO_MANY_PIXELS, f"The image is too large: {exc}"
            ) from exc
        except _DECODE_ERRORS as exc:
            self.close()
            raise _unreadable(exc) from exc
        except OcrFailure:
            self.close()
            raise

    def page(self, number: int) -> Image.Image:
        assert self._image is not None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                self._image.seek(number - 1)
                self._draft(self._image)
                self._image.load()
                return self._limits.fit(_to_rgb(_upright(self._image)))
        except Image.DecompressionBombError as exc:
            raise OcrFailure(
                TaskErrorCode.TOO_MANY_PIXELS, f"The image is too large: {exc}"
            ) from exc
        except _DECODE_ERRORS as exc:
            raise _unreadable(exc, number) from exc

    def pages(self) -> Iterator[Image.Image]:
        for number in range(1, self.page_count + 1):
            page = self.page(number)
            if number == self.page_count:
                self.close()  # the decoded source (up to max_pixels) must not outlive it
            yield page

    def _draft(self, image: Image.Image) -> None:
        """A JPEG over read_pixels decodes at 1/2, 1/4 or 1/8 scale straight from its
        DCT data (never below the size fit() scales to): a 48 MP photo never holds
        its full 144 MB of pixels."""
        scale = self._limits.read_scale(*image.size)
        if scale < 1.0 and self.content_type == JPEG:
            image.draft("RGB", (int(image.width * scale), int(image.height * scale)))

    def close(self) -> None:
        if self._image is not None:
            self._image.close()
            self._image = None


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation phones record instead of rotating pixels."""
    if image.getexif().get(_EXIF_ORIENTATION, 1) in (1, None):
        return image
    return ImageOps.exif_transpose(image)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image.copy()  # detach from the file, which is closed after the last page
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels would turn black under dark text: flatten on paper white.
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit scans: keep the top 8 bits instead of clipping everything to white.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    return image.convert("RGB")


def _sniff_or_fail(source: Source) -> str:
    try:
        if isinstance(source, bytes):
            content_type = sniff_content_type(source[:SNIFF_BYTES])
        else:
            content_type = sniff_file(source)
    except OSError as exc:
        raise _unreadable(exc) from exc
    if content_type is None:
        raise OcrFailure(
            TaskErrorCode.UNSUPPORTED_TYPE, "The file is not a PNG, JPEG, TIFF or PDF document."
        )
    return content_type


def _unreadable(exc: BaseException, page: int | None = None) -> OcrFailure:
    where = f"page {page} of the document" if page else "the document"
    detail = str(exc) or type(exc).__name__
    return OcrFailure(TaskErrorCode.UNREADABLE_DOCUMENT, f"Could not read {where}: {detail}")
