"""Exports of a document's current revision: a searchable PDF, plain text, JSON, and a
selection of documents as one ZIP.

The searchable PDF is each page's image with the (corrected) text laid invisibly
(PDF text render mode 3) over the box it was read from, stretched to the box's width,
so that selecting, searching or extracting text in any PDF reader finds each line where
it is on the image. Pure functions of the result and the page images: the HTTP layer
runs them in a thread, they take ~0.1 s a page.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import TextMode

FORMATS = ("pdf", "txt", "json")
MEDIA_TYPES = {"pdf": "application/pdf", "txt": "text/plain; charset=utf-8",
               "json": "application/json", "zip": "application/zip"}  # fmt: skip
# DejaVu Sans covers Latin, Greek and Cyrillic (Debian's fonts-dejavu-core, installed by
# scripts/install.sh); without it the core Helvetica covers Latin-1 only.
FONT_PATHS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),)
# Glyph extent of DejaVu Sans above and below the baseline, in ems: a font size of
# 0.8 x the box height keeps every glyph inside the box.
_ASCENT, _DESCENT, _SIZE_OF_BOX = 0.928, 0.236, 0.8


@dataclass(frozen=True)
class Document:
    """What an export needs: the shaped current result and where its pages are."""

    task_id: str
    name: str  # a safe file stem, e.g. patient_filename
    result: dict[str, Any]
    pages_dir: Path
    dpi: int


def to_text(result: dict[str, Any]) -> bytes:
    pages = [p.get("text", "") for p in result.get("pages", [])]
    return ("\n\f\n".join(pages) + "\n").encode()  # a form feed between pages, as pdftotext


def to_json(result: dict[str, Any]) -> bytes:
    return json.dumps(result, ensure_ascii=False, indent=1).encode()


def _font(pdf: FPDF) -> tuple[str, bool]:
    for path in FONT_PATHS:
        if path.is_file():
            pdf.add_font("ocrtext", fname=str(path))
            return "ocrtext", True
    return "helvetica", False


def _bounds(box: list[list[float]]) -> tuple[float, float, float, float]:
    xs, ys = [pt[0] for pt in box], [pt[1] for pt in box]
    return min(xs), min(ys), max(xs), max(ys)


def _place_line(pdf: FPDF, line: dict[str, Any], scale: float, unicode_font: bool) -> None:
    text = (
        line["text"]
        if unicode_font
        else line["text"].encode("latin-1", "replace").decode("latin-1")
    )
    if not text.strip() or len(line.get("box") or []) < 3:
        return
    left, top, right, bottom = (v * scale for v in _bounds(line["box"]))
    size = max(1.0, (bottom - top) * _SIZE_OF_BOX)
    pdf.set_font_size(size)
    pdf.set_stretching(100)
    natural = pdf.get_string_width(text)
    if natural > 0:
        pdf.set_stretching(100 * (right - left) / natural)
    # Centre the glyphs' extent vertically in the box; y is the baseline.
    baseline = top + (bottom - top - size * (_ASCENT + _DESCENT)) / 2 + size * _ASCENT
    pdf.text(left, baseline, text)


def searchable_pdf(doc: Document) -> bytes:
    """One PDF page per result page, sized from the image at `dpi`, in points."""
    pdf = FPDF(unit="pt")
    pdf.set_auto_page_break(False)
    pdf.set_title(doc.name)
    pdf.set_creator("ocrlive")
    family, unicode_font = _font(pdf)
    pdf.set_font(family)
    scale = 72 / doc.dpi
    for page in doc.result.get("pages", []):
        width, height = page["width"] * scale, page["height"] * scale
        pdf.add_page(format=(width, height))
        image = doc.pages_dir / f"page-{page['number']}.png"
        if image.is_file():
            pdf.image(str(image), x=0, y=0, w=width, h=height)
        with pdf.local_context(text_mode=TextMode.INVISIBLE):
            for line in page.get("lines", []):
                _place_line(pdf, line, scale, unicode_font)
    return bytes(pdf.output())


def render(doc: Document, fmt: str) -> bytes:
    if fmt == "pdf":
        return searchable_pdf(doc)
    if fmt == "txt":
        return to_text(doc.result)
    return to_json(doc.result)


def zip_documents(docs: Iterable[Document], fmt: str) -> bytes:
    """One file per document (names made unique), stored as each format compresses."""
    buffer = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for doc in docs:
            name = f"{doc.name}.{fmt}"
            if name in seen:
                name = f"{doc.name}-{doc.task_id[:8]}.{fmt}"
            seen.add(name)
            # PDFs are mostly PNG data already compressed: deflating again saves ~1%.
            kind = zipfile.ZIP_STORED if fmt == "pdf" else zipfile.ZIP_DEFLATED
            archive.writestr(name, render(doc, fmt), compress_type=kind)
    return buffer.getvalue()
