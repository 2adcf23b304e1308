"""A clinician in Chromium against `ocrlive serve` with the real PaddleOCR: search a word
as you type, open the hit, correct the line in place, and see the correction in the
search results and, live, in a second browser that had the same document open."""

from __future__ import annotations

import io
import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.helpers.drawing import draw_caution_card
from tests.helpers.live import Live
from tests.helpers.server import ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.e2e]

TOKEN = "records-browser-token-0123"


async def upload_card(server: ServerProcess) -> str:
    buf = io.BytesIO()
    draw_caution_card().save(buf, format="PNG")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        live = await Live.connect(session, f"{server.url}/api/ws")
        await live.subscribe("tasks")
        form = aiohttp.FormData()
        form.add_field("patient_id", "P-7001")
        form.add_field("document_type", "caution_card")
        form.add_field("file", buf.getvalue(), filename="card.png")
        async with session.post(f"{server.url}/api/tasks", data=form) as resp:
            assert resp.status == 202, await resp.text()
            task_id: str = (await resp.json())["task"]["id"]
        events = await live.until_terminal(task_id, timeout=180)
        assert events[-1]["event"] == "task.completed"
        await live.close()
    return task_id


async def dashboard(browser: Browser, server: ServerProcess) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    link = server.cli("users", "link", "admin").strip().splitlines()[-1]
    await page.goto(link)  # a single-use sign-in link, as `ocrlive users link` prints
    await expect(page.get_by_role("heading", name="ocrlive")).to_be_visible()
    return page


async def search(page: Page, text: str) -> None:
    box = page.get_by_role("searchbox", name="Search text")
    await box.fill(text)


def results(page: Page) -> object:
    return page.get_by_role("list", name="Search results")


async def test_search_open_correct_and_see_it_live_in_a_second_browser(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    server = ServerProcess(tmp_path / "data", TOKEN, OCRLIVE_WORKERS="1")
    server.start()
    try:
        await upload_card(server)
        other = await dashboard(browser, server)  # a colleague with the card open
        await search(other, "allergy")
        await expect(results(other)).to_contain_text(re.compile("penicillin", re.I))
        await results(other).get_by_role("button", name=re.compile("card.png, page 1")).click()
        other_lines = other.get_by_role("list", name="Recognized lines")
        await expect(other_lines).to_contain_text(re.compile("penicillin", re.I))

        page = await dashboard(browser, server)
        await search(page, "penicil")  # as typed: a prefix
        hit = results(page).get_by_role("button", name=re.compile("card.png, page 1"))
        await expect(hit).to_be_visible()
        await expect(results(page).locator("mark")).to_have_text(re.compile("penicillin", re.I))
        await expect(page.get_by_role("status").filter(has_text="1 pages match")).to_be_visible()
        await hit.click()
        lines = page.get_by_role("list", name="Recognized lines")
        await lines.get_by_role("button", name=re.compile("penicillin", re.I)).click()
        editor = page.get_by_role("textbox", name="Text of the line")
        await expect(editor).to_be_focused()
        await expect(page.get_by_role("img", name=re.compile("Image of line"))).to_be_visible()
        await editor.fill("Allergy: Amoxicillin")
        await editor.press("Enter")
        await expect(page.get_by_role("status").filter(has_text="corrected")).to_contain_text(
            "revision 2"
        )
        await expect(lines).to_contain_text("Allergy: Amoxicillin")
        await expect(lines.get_by_role("button", name=re.compile("Amoxicillin"))).to_contain_text(
            "Corrected"
        )
        await page.screenshot(path=str(artifacts / "records-corrected.png"), full_page=True)

        # The colleague's viewer and search results follow without a reload.
        await expect(other_lines).to_contain_text("Allergy: Amoxicillin", timeout=15_000)
        await expect(results(other)).to_contain_text("Amoxicillin", timeout=15_000)
        await expect(results(other)).not_to_contain_text(re.compile("penicillin", re.I))
        await other.screenshot(path=str(artifacts / "records-second-browser.png"), full_page=True)

        await search(page, "amoxicillin")
        await expect(results(page).locator("mark")).to_have_text("Amoxicillin")
    finally:
        server.stop()


async def test_rerun_with_changed_settings_adds_a_revision_and_keeps_the_first(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    """Re-run OCR from the viewer with a changed engine setting: revision 2 arrives live
    and revision 1 stays listed, with the settings each was read with."""
    server = ServerProcess(tmp_path / "data", TOKEN, OCRLIVE_WORKERS="1")
    server.start()
    try:
        await upload_card(server)
        page = await dashboard(browser, server)
        await search(page, "allergy")
        await results(page).get_by_role("button", name=re.compile("card.png, page 1")).click()
        revisions = page.get_by_role("list", name="Revisions of this document")
        first = "Revision 1 (shown): read with the server's settings"
        await expect(revisions).to_contain_text(first)

        toggle = page.get_by_role("button", name="Re-run OCR…")
        await toggle.focus()
        await page.keyboard.press("Enter")  # keyboard alone, as a screen-reader user would
        await page.get_by_role("spinbutton", name="Box threshold").fill("0.3")
        await page.get_by_role("button", name="Start re-run").click()
        queued = page.get_by_role("status").filter(has_text="Re-run queued")
        await expect(queued).to_contain_text("box threshold 0.3")

        stored = page.get_by_role("status").filter(has_text="Re-run stored")
        await expect(stored).to_contain_text(
            "revision 2 is shown; revision 1 is kept below", timeout=180_000
        )
        await expect(revisions.get_by_role("listitem").nth(0)).to_contain_text(
            "Revision 2 (shown): read with box threshold 0.3"
        )
        await expect(revisions.get_by_role("listitem").nth(1)).to_contain_text(
            "Revision 1: read with the server's settings"
        )
        await expect(page.get_by_role("list", name="Recognized lines")).to_contain_text(
            re.compile("penicillin", re.I)
        )
        await page.screenshot(path=str(artifacts / "records-rerun.png"), full_page=True)
    finally:
        server.stop()
