"""Drawn pages that look like the real thing, with their text, and degradations.

Forms and letters at 200 dpi in the fonts and sizes offices print (Liberation
Serif/Sans, i.e. Times/Arial metrics, and DejaVu; 10-14 pt), degraded the ways
scanners and phones degrade them. Each page comes with its lines in reading
order, so word recall, precision and character error rate can be measured.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from tests.helpers.drawing import A4_200DPI, font_path

_FONT_FILES = (
    "liberation/LiberationSerif-Regular.ttf",
    "liberation/LiberationSans-Regular.ttf",
    "dejavu/DejaVuSans.ttf",
    "dejavu/DejaVuSerif.ttf",
)
_BOLD_FILES = ("liberation/LiberationSans-Bold.ttf", "dejavu/DejaVuSans-Bold.ttf")
PT = 200 / 72  # pixels per point at 200 dpi

_SURNAMES = "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Evans Khan Walker"
_FIRST = "John Mary Aisha David Sarah Peter Fatima James Helen Robert Grace Thomas"
_WARDS = "Cardiology Oncology Maternity Orthopaedics Neurology Renal Respiratory Surgical"
SENTENCES = (
    "Number of pages in this referral including the laboratory results is three.",
    "Thank you for referring this patient to the outpatient clinic for review.",
    "She reports shortness of breath on exertion and occasional chest pain at night.",
    "Blood pressure was 142/88 mmHg and the heart rate was regular at 76 per minute.",
    "Her current medication includes metformin 500 mg twice daily and ramipril 5 mg.",
    "The full blood count, renal function and liver function tests were unremarkable.",
    "We have arranged an echocardiogram and a follow up appointment in six weeks.",
    "Please continue the present dose of bisoprolol and review the potassium level.",
    "He is allergic to penicillin and has had a previous reaction to ibuprofen.",
    "The chest X-ray showed no consolidation and the oxygen saturation was 97 percent.",
    "If the symptoms worsen before the next visit she should attend the emergency department.",
    "Kind regards to the practice team and thank you again for your help.",
)


def _font(name: str, points: float) -> ImageFont.FreeTypeFont:
    path = Path("/usr/share/fonts/truetype") / name
    return ImageFont.truetype(str(path if path.is_file() else font_path()), round(points * PT))


@dataclass
class DrawnPage:
    image: Image.Image
    lines: list[str]  # the text, line by line in reading order

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class _Writer:
    """Draws lines of words; `gap` scales the font's own word space (1.0 = as set)."""

    def __init__(self, page: Image.Image, gap: float) -> None:
        self.page, self.draw, self.gap = page, ImageDraw.Draw(page), gap
        self.lines: list[str] = []

    def line(self, xy: tuple[float, float], text: str, font: ImageFont.FreeTypeFont) -> float:
        """Draws one line, returns its right edge."""
        x, y = xy
        space = font.getlength(" ") * self.gap
        for word in text.split(" "):
            self.draw.text((x, y), word, fill=(20, 20, 25), font=font)
            x += font.getlength(word) + space
        self.lines.append(text)
        return x - space

    def row(self, y: float, cells: list[tuple[float, str]], font: ImageFont.FreeTypeFont) -> None:
        """Cells of one table row; read as one line left to right."""
        for x, text in cells:
            self.line((x, y), text, font)
        self.lines[-len(cells) :] = [" ".join(text for _, text in cells)]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST.split())} {rng.choice(_SURNAMES.split())}"


def _date(rng: random.Random) -> str:
    return f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(1930, 2010)}"


Font = ImageFont.FreeTypeFont


def _blank_page(
    seed: int, gap: float, body_points: tuple[int, ...], head_points: int
) -> tuple[random.Random, _Writer, Font, Font]:
    """A white A4 page, its writer, and a body and heading font drawn by `seed`."""
    rng = random.Random(seed)
    w = _Writer(Image.new("RGB", A4_200DPI, "white"), gap)
    body = _font(rng.choice(_FONT_FILES), rng.choice(body_points))
    return rng, w, body, _font(rng.choice(_BOLD_FILES), head_points)


def draw_form(seed: int, gap: float = 1.0) -> DrawnPage:
    """A laboratory request form: heading, labelled fields, a ruled results table."""
    rng, w, body, bold = _blank_page(seed, gap, (10, 11, 12), 15)
    w.line((130, 110), f"{rng.choice(_WARDS.split())} Department Laboratory Request", bold)
    w.draw.line((130, 175, 1520, 175), fill=(40, 40, 40), width=3)
    fields = [
        f"Patient name: {_person(rng)}",
        f"Hospital number: {rng.randint(1000000, 9999999)}",
        f"Date of birth: {_date(rng)}",
        f"Requested by: Dr {_person(rng)}",
        f"Number of pages: {rng.randint(1, 4)}",
    ]
    y = 230.0
    for text in fields:
        w.line((130, y), text, body)
        w.draw.line((130, y + body.size * 1.35, 1100, y + body.size * 1.35), fill=(150, 150, 150))
        y += body.size * 2.2
    y += 40
    w.row(y, [(130, "Test"), (700, "Result"), (1050, "Units")], bold)
    tests = ("Haemoglobin", "White cell count", "Sodium", "Potassium", "Creatinine", "Glucose")
    units = ("g/L", "10^9/L", "mmol/L", "mmol/L", "umol/L", "mmol/L")
    for name, unit in zip(tests, units, strict=True):
        y += body.size * 1.9
        w.draw.line((120, y - 14, 1400, y - 14), fill=(90, 90, 90), width=2)
        value = f"{rng.uniform(1, 150):.1f}"
        w.row(y, [(130, name), (700, value), (1050, unit)], body)
    y += body.size * 3
    for sentence in rng.sample(SENTENCES, 3):
        w.line((130, y), sentence, body)
        y += body.size * 1.6
    return DrawnPage(w.page, w.lines)


def draw_letter(seed: int, gap: float = 1.0) -> DrawnPage:
    """A referral letter: letterhead, address block, date, paragraphs, signature."""
    rng, w, body, head = _blank_page(seed, gap, (11, 12, 13), 14)
    w.line((150, 120), f"St Mary General Hospital {rng.choice(_WARDS.split())} Clinic", head)
    y = 260.0
    for text in (f"Dr {_person(rng)}", f"{rng.randint(1, 99)} High Street", "Oxford OX1 2JD"):
        w.line((150, y), text, body)
        y += body.size * 1.4
    w.line((1100, y + 20), f"{rng.randint(1, 28)} March 2024", body)
    y += 120
    w.line((150, y), f"Re: {_person(rng)} born {_date(rng)}", head)
    y += head.size * 2
    for sentence in rng.sample(SENTENCES, 9):
        w.line((150, y), sentence, body)
        y += body.size * (1.5 if rng.random() < 0.7 else 2.6)
    w.line((150, y + 60), "Yours sincerely", body)
    w.line((150, y + 60 + body.size * 3), f"Dr {_person(rng)} Consultant", body)
    return DrawnPage(w.page, w.lines)


def draw_lines(lines: list[str], gap: float, points: float = 11) -> DrawnPage:
    """Lines of Liberation Sans (Arial's metrics) on a page as wide as A4, as tall as needed."""
    body = _font(_FONT_FILES[1], points)
    page = Image.new("RGB", (A4_200DPI[0], int(200 + len(lines) * body.size * 1.6)), "white")
    w = _Writer(page, gap)
    for i, text in enumerate(lines):
        w.line((150, 100 + i * body.size * 1.6), text, body)
    return DrawnPage(page, w.lines)


# --- degradations ----------------------------------------------------------------


def _noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 22, (image.height, image.width, 1))
    speckle = rng.random((image.height, image.width)) < 0.004
    pixels[speckle] = 0
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(1.6))


def _jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    image.reduce(2).save(buffer, "JPEG", quality=25)  # a 100 dpi phone-grade JPEG
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").resize(image.size)


def _low_contrast(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    faded = 150 + pixels * (215 - 150) / 255  # grey print on a grey-yellow page
    return Image.fromarray((faded * np.array([1.0, 0.98, 0.9])).astype(np.uint8))


def _skew(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    angle = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.2, 2.2))
    return image.rotate(angle, Image.Resampling.BICUBIC, fillcolor="white")


def _stamp(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A red RECEIVED stamp over the text and pen strokes across lines."""
    layer = Image.new("RGBA", (700, 260), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle((10, 10, 690, 250), 30, outline=(200, 30, 40, 170), width=10)
    draw.text((60, 70), "RECEIVED", fill=(200, 30, 40, 170), font=_font(_BOLD_FILES[0], 40))
    stamp = layer.rotate(float(rng.uniform(-20, 20)), expand=True)
    out = image.convert("RGBA")
    out.alpha_composite(stamp, (int(rng.integers(500, 900)), int(rng.integers(600, 1300))))
    draw = ImageDraw.Draw(out)
    for _ in range(2):
        y = int(rng.integers(400, 2000))
        draw.line((100, y, 1500, y + int(rng.integers(-40, 40))), fill=(30, 40, 160, 255), width=3)
    return out.convert("RGB")


Degrade = Callable[[Image.Image, np.random.Generator], Image.Image]
DEGRADATIONS: dict[str, Degrade] = {
    "clean": lambda image, rng: image,
    "noise": _noise,
    "blur": _blur,
    "jpeg": _jpeg,
    "low_contrast": _low_contrast,
    "skew": _skew,
    "stamp": _stamp,
    "tight": lambda image, rng: image,  # drawn with tight word spacing instead
}
TIGHT_GAP = 0.45  # share of the font's own word space left between tightly set words


def realistic_page(kind: str, degradation: str, seed: int) -> DrawnPage:
    """A form or a letter, degraded; `tight` draws the words nearly touching."""
    draw = draw_form if kind == "form" else draw_letter
    page = draw(seed, gap=TIGHT_GAP if degradation == "tight" else 1.0)
    image = DEGRADATIONS[degradation](page.image, np.random.default_rng(seed))
    return DrawnPage(image, page.lines)


_TURNS = {
    0: None,
    90: Image.Transpose.ROTATE_90,
    180: Image.Transpose.ROTATE_180,
    270: Image.Transpose.ROTATE_270,
}


def turned(image: Image.Image, degrees: int) -> Image.Image:
    """The image turned counter-clockwise by 0, 90, 180 or 270 degrees."""
    method = _TURNS[degrees]
    return image if method is None else image.transpose(method)
