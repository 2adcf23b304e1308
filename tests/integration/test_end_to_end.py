"""The whole path with the real PaddleOCR engine: `ocrlive serve` as a child process,
uploads over HTTP, every event over the WebSocket, the recognized words in the result."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageChops
from tests.helpers.drawing import (
    CAUTION_CARD_LINES,
    draw_caution_card,
    draw_page,
    word_recall,
    write_pdf,
)
from tests.helpers.live import Live, upload
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

TOKEN = "e2e-token-abcdef-0123456789"
PAGE_ONE = ["Referral letter for the cardiology clinic", "Patient complains of chest pain",
            "Blood pressure 140 over 90", "Please see within two weeks"]  # fmt: skip
PAGE_TWO = ["Current medication list", "Aspirin 75 mg once daily",
            "Atorvastatin 20 mg at night", "Signed by the ward doctor"]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("e2e") / "data", TOKEN, OCRLIVE_WORKERS="2")
    proc.start()
    yield proc
    proc.stop()


def png_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


async def test_image_and_two_page_pdf_stream_every_event_to_completion(
    server: ServerProcess, tmp_path: Path
) -> None:
    card = draw_caution_card()
    pdf = tmp_path / "letter.pdf"
    write_pdf([draw_page(PAGE_ONE), draw_page(PAGE_TWO)], pdf)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        live = await Live.connect(session, f"{server.url}/api/ws")
        await live.subscribe("tasks")
        image_task = await upload(session, server.url, png_bytes(card), "card.png")
        pdf_task = await upload(session, server.url, pdf.read_bytes(), "letter.pdf")
        for task in (image_task, pdf_task):
            events = await live.until_terminal(task["id"], timeout=300)
            assert_ordered_lifecycle(events)
        pdf_events = [e for e in live.events if e["task"]["id"] == pdf_task["id"]]
        assert {e["task"]["pages_total"] for e in pdf_events if e["event"] == "task.progress"} >= {
            2
        }
        card_result = await get_json(session, f"{server.url}/api/tasks/{image_task['id']}/result")
        assert word_recall("\n".join(CAUTION_CARD_LINES), card_result["text"]) >= 0.9, card_result[
            "text"
        ]
        pdf_result = await get_json(session, f"{server.url}/api/tasks/{pdf_task['id']}/result")
        assert len(pdf_result["pages"]) == 2
        assert word_recall("\n".join(PAGE_ONE + PAGE_TWO), pdf_result["text"]) >= 0.9
        line = pdf_result["pages"][0]["lines"][0]
        assert line["text"] and 0 < line["score"] <= 1 and len(line["box"]) == 4
        replay = await Live.connect(session, f"{server.url}/api/ws")
        reply = await replay.subscribe("tasks", since=0)
        assert reply["recovered"] is True
        await replay.until_terminal(pdf_task["id"])
        assert [e["seq"] for e in replay.events] == [e["seq"] for e in live.events]


def assert_ordered_lifecycle(events: list[dict[str, Any]]) -> None:
    kinds = [e["event"] for e in events]
    assert kinds[0] == "task.created" and kinds[1] == "task.started", kinds
    assert kinds[-1] == "task.completed", events[-1]["task"]
    assert set(kinds[2:-1]) == {"task.progress"}
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    stages = [e["task"]["stage"] for e in events if e["event"] == "task.progress"]
    assert "detecting" in stages and "recognizing" in stages
    progress = [e["task"]["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100


async def get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def test_a_page_fed_upside_down_is_read_and_shown_upright(server: ServerProcess) -> None:
    card = draw_caution_card()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        live = await Live.connect(session, f"{server.url}/api/ws")
        await live.subscribe("tasks")
        task = await upload(session, server.url, png_bytes(card.rotate(180)), "upside-down.png")
        assert_ordered_lifecycle(await live.until_terminal(task["id"], timeout=300))
        result = await get_json(session, f"{server.url}/api/tasks/{task['id']}/result")
        (page,) = result["pages"]
        assert page["rotation"] == 180
        assert word_recall("\n".join(CAUTION_CARD_LINES), result["text"]) >= 0.9
        # The viewer's image is the upright card, so its boxes land on the text.
        async with session.get(f"{server.url}{page['image_url']}") as resp:
            assert resp.status == 200
            shown = Image.open(io.BytesIO(await resp.read())).convert("RGB")
        assert ImageChops.difference(shown, card).getbbox() is None
        assert (page["width"], page["height"]) == card.size
