"""Test documents drawn with known text, and a word-recall measure."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

A4_200DPI = (1654, 2339)
_PREFERRED_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

_WORD_TEXT = (
    "patient admitted with chest pain and shortness of breath blood pressure "
    "stable heart rate regular oxygen saturation normal temperature discharge "
    "summary referral letter general practitioner hospital ward clinic review "
    "medication dose tablet daily morning evening allergy penicillin ibuprofen "
    "paracetamol insulin metformin follow appointment weeks results laboratory "
    "haemoglobin glucose sodium potassium creatinine kidney liver function "
    "x-ray scan ultrasound consultant surgery theatre recovery nursing notes"
)
_WORDS = _WORD_TEXT.split()


@cache
def font_path() -> Path:
    """DejaVu Sans, or the first TrueType font found under /usr/share/fonts."""
    if _PREFERRED_FONT.is_file():
        return _PREFERRED_FONT
    for found in sorted(Path("/usr/share/fonts").rglob("*.ttf")):
        return found
    raise FileNotFoundError("no TrueType font under /usr/share/fonts")


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), size)


def sample_lines(count: int = 30, seed: int = 1) -> list[str]:
    """Clinical-sounding lines of 5-9 words with a few numbers, reproducibly."""
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(5, 9))]
        words.insert(rng.randint(0, len(words)), f"{rng.randint(1, 999)}")
        lines.append(f"{i + 1}. " + " ".join(words).capitalize())
    return lines


def draw_page(lines: Sequence[str], size: tuple[int, int] = A4_200DPI) -> Image.Image:
    """A white page with one line of black text per entry (28-36 px type)."""
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    margin = size[0] // 12
    step = max(40, (size[1] - 2 * margin) // max(len(lines), 1))
    for i, text in enumerate(lines):
        draw.text((margin, margin + i * step), text, fill="black", font=font(28 + (i % 5) * 2))
    return page


CAUTION_CARD_LINES = (
    "CAUTION CARD",
    "Patient: John Smith",
    "Date of birth: 12/03/1961",
    "Allergy: Penicillin",
    "Blood group: A positive",
    "Takes warfarin daily",
)


def draw_caution_card(lines: Sequence[str] = CAUTION_CARD_LINES) -> Image.Image:
    """A small, slightly tinted card such as a phone photo would show."""
    card = Image.new("RGB", (640, 400), (250, 246, 232))
    draw = ImageDraw.Draw(card)
    draw.rectangle((8, 8, 631, 391), outline=(180, 30, 30), width=4)
    draw.text((40, 28), lines[0], fill=(180, 30, 30), font=font(40))
    for i, text in enumerate(lines[1:]):
        draw.text((40, 100 + i * 52), text, fill=(20, 20, 20), font=font(28))
    return card


def write_pdf(pages: Sequence[Image.Image], path: Path, dpi: float = 200.0) -> Path:
    """A multi-page PDF whose pages measure `image size / dpi` inches."""
    first, *rest = [page.convert("RGB") for page in pages]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=dpi)
    return path


def write_tiff(pages: Sequence[Image.Image], path: Path) -> Path:
    first, *rest = list(pages)
    first.save(path, "TIFF", save_all=True, append_images=rest, compression="tiff_deflate")
    return path


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


def word_recall(expected_text: str, found_text: str) -> float:
    """Share of expected words found (bag of words, case and punctuation ignored)."""
    expected = _words(expected_text)
    if not expected:
        return 1.0
    found = _words(found_text)
    hits = sum(min(n, found[word]) for word, n in expected.items())
    return hits / sum(expected.values())


def label_png(text: str, size: tuple[int, int] = (480, 90)) -> bytes:
    """A small PNG with one line of text: a real document the engine reads in well
    under a second; a different text gives a different file (sha256)."""
    import io

    image = draw_page([text], size)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
