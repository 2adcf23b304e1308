"""People in a real Chromium against `ocrlive serve` with the real PaddleOCR: a clerk
signs in with a password, uploads, reads the text and signs out; an auditor sees the
clerk's upload and read in the audit log; a clinician is offered no upload form and a
forged upload from their page answers 403."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.test_dashboard import progress_done, upload
from tests.helpers.drawing import draw_caution_card
from tests.helpers.server import ADMIN_PASSWORD, ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.e2e]


async def sign_in(browser: Browser, server: ServerProcess, username: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 800})
    await page.goto(server.url)
    form = page.get_by_role("form", name="Sign in")
    await form.get_by_label("Username").fill(username)
    await form.get_by_label("Password").fill(ADMIN_PASSWORD)
    await form.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text(f"Signed in as {username}")).to_be_visible()
    return page


async def test_clerk_uploads_auditor_sees_it_clinician_cannot_upload(
    browser: Browser, tmp_path: Path, artifacts: Path
) -> None:
    card = tmp_path / "caution-card.png"
    draw_caution_card().save(card)
    server = ServerProcess(tmp_path / "data", OCRLIVE_WORKERS="1")
    server.start()
    try:
        for name, role in (("clerk1", "clerk"), ("auditor1", "auditor"), ("doc1", "clinician")):
            server.add_person(name, role)
        clerk = await sign_in(browser, server, "clerk1")
        await expect(clerk.get_by_text("clerk", exact=True)).to_be_visible()
        await upload(clerk, [card], "P-E2E-9", "Caution card")
        bar = progress_done(clerk, "caution-card.png")
        await expect(bar).to_have_attribute("aria-valuenow", "100", timeout=120_000)
        lines = clerk.get_by_role("list", name="Recognized lines")
        await expect(lines).to_contain_text("Penicillin", timeout=30_000)
        await clerk.get_by_role("button", name="Sign out").click()
        await expect(clerk.get_by_role("form", name="Sign in")).to_be_visible()

        auditor = await sign_in(browser, server, "auditor1")
        await expect(auditor.get_by_role("region", name="Upload documents")).to_have_count(0)
        log = auditor.get_by_role("table", name="Audit entries")
        await expect(log).to_contain_text("task.upload")
        uploaded = log.get_by_role("row").filter(has_text="task.upload")
        await expect(uploaded).to_contain_text("clerk1")
        await expect(uploaded).to_contain_text("P-E2E-9")
        await expect(log.get_by_role("row").filter(has_text="result.read").first).to_contain_text(
            "clerk1"
        )
        await auditor.screenshot(path=str(artifacts / "audit-log.png"), full_page=True)

        doc = await sign_in(browser, server, "doc1")
        await expect(doc.get_by_role("heading", name="Documents")).to_be_visible()
        await expect(doc.get_by_role("region", name="Upload documents")).to_have_count(0)
        status = await doc.evaluate(
            """async () => {
                const form = new FormData();
                form.append("patient_id", "P-FORGED");
                form.append("document_type", "other");
                form.append("file", new Blob(["\\x89PNG\\r\\n\\x1a\\nforged"]), "forged.png");
                const res = await fetch("/api/tasks", {method: "POST", body: form});
                return [res.status, (await res.json()).error.code];
            }"""
        )
        assert status == [403, "forbidden"]
        await doc.screenshot(path=str(artifacts / "clinician.png"), full_page=True)
    finally:
        server.stop()


async def test_a_session_that_ends_keeps_the_page_and_signing_in_resumes(
    browser: Browser, tmp_path: Path
) -> None:
    server = ServerProcess(tmp_path / "data", OCRLIVE_WORKERS="1")
    server.start()
    try:
        server.add_person("clerk2", "clerk")
        page = await sign_in(browser, server, "clerk2")
        form = page.get_by_role("region", name="Upload documents")
        await form.get_by_label("Patient ID").fill("P-KEEP-1")
        server.cli(
            "users", "set-password", "clerk2", "--password-stdin", stdin=ADMIN_PASSWORD + "\n"
        )
        dialog = page.get_by_role("dialog", name="Sign in again")
        await expect(dialog).to_be_visible(timeout=20_000)  # the socket was closed (4001)
        await dialog.get_by_label("Password").fill(ADMIN_PASSWORD)
        await dialog.get_by_role("button", name="Sign in").click()
        await expect(dialog).to_have_count(0)
        await expect(form.get_by_label("Patient ID")).to_have_value("P-KEEP-1")
        await expect(page.get_by_text(re.compile("^Live$")).first).to_be_visible(timeout=20_000)
    finally:
        server.stop()
