"""A clerk's day in a real Chromium against `ocrlive serve` with the real PaddleOCR:
log in with the printed link, upload through the labelled form, watch the ARIA
progress bar reach 100, read the text; survive the server being killed mid-task."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers.drawing import (
    CAUTION_CARD_LINES,
    draw_caution_card,
    draw_page,
    sample_lines,
    write_pdf,
)
from tests.helpers.server import ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.e2e]


async def open_dashboard(browser: Browser, server: ServerProcess) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    link = server.cli("users", "link", "admin").strip().splitlines()[-1]
    await page.goto(link)  # a single-use sign-in link, as `ocrlive users link` prints
    await expect(page.get_by_role("heading", name="ocrlive")).to_be_visible()
    await expect(page.get_by_text("Live", exact=False).first).to_be_visible()
    return page


async def upload(page: Page, files: list[Path], patient: str, doc_type: str) -> None:
    form = page.get_by_role("region", name="Upload documents")
    await form.get_by_label("Patient ID").fill(patient)
    await form.get_by_label("Document type").select_option(label=doc_type)
    await form.get_by_label(re.compile("^Files")).set_input_files([str(f) for f in files])
    await form.get_by_role("button", name=re.compile("^Upload")).click()


def progress_done(page: Page, filename: str) -> object:
    name = f"OCR progress for {filename}, patient"
    return page.get_by_role("progressbar", name=re.compile(re.escape(name)))


async def test_upload_through_the_page_and_read_the_text(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    card = tmp_path / "caution-card.png"
    draw_caution_card().save(card)
    server = ServerProcess(tmp_path / "data")
    server.start()
    try:
        page = await open_dashboard(browser, server)
        await upload(page, [card], "P-2024-17", "Caution card")
        bar = progress_done(page, "caution-card.png")
        await expect(bar).to_have_attribute("aria-valuenow", "100", timeout=120_000)
        lines = page.get_by_role("list", name="Recognized lines")
        await expect(lines).to_contain_text("Penicillin", timeout=30_000)
        text = await lines.inner_text()
        found = sum(1 for line in CAUTION_CARD_LINES for w in line.split() if w in text)
        assert found >= 0.8 * sum(len(line.split()) for line in CAUTION_CARD_LINES)
        await page.screenshot(path=str(artifacts / "dashboard-completed.png"), full_page=True)
        await page.set_viewport_size({"width": 768, "height": 1024})
        await page.screenshot(path=str(artifacts / "dashboard-tablet.png"), full_page=True)
    finally:
        server.stop()


async def test_multi_file_upload_and_server_killed_mid_task(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    one, two = tmp_path / "lab-a.png", tmp_path / "lab-b.png"
    draw_page(sample_lines(8, seed=3), size=(1240, 900)).save(one)
    draw_page(sample_lines(8, seed=4), size=(1240, 900)).save(two)
    pdf = write_pdf(
        [draw_page(sample_lines(25, seed=10 + n)) for n in range(3)], tmp_path / "letter.pdf"
    )
    server = ServerProcess(tmp_path / "data", OCRLIVE_WORKERS="1")
    server.start()
    try:
        page = await open_dashboard(browser, server)
        await upload(page, [one, two], "P-55", "Lab report")
        for name in ("lab-a.png", "lab-b.png"):
            bar = progress_done(page, name)
            await expect(bar).to_have_attribute("aria-valuenow", "100", timeout=120_000)
        await upload(page, [pdf], "P-56", "Referral letter")
        bar = progress_done(page, "letter.pdf")
        await expect(bar).not_to_have_attribute("aria-valuenow", "0", timeout=60_000)
        server.kill()
        await expect(page.get_by_text(re.compile("reconnecting", re.I)).first).to_be_visible(
            timeout=30_000
        )
        await page.screenshot(path=str(artifacts / "dashboard-reconnecting.png"), full_page=True)
        server.start()
        await expect(bar).to_have_attribute("aria-valuenow", "100", timeout=240_000)
        await page.screenshot(path=str(artifacts / "dashboard-recovered.png"), full_page=True)
    finally:
        server.stop()
