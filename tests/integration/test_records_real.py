"""Documents as records with the real PaddleOCR engine behind `ocrlive serve`, on SQLite
and on PostgreSQL: a word on page 3 of a PDF is found there, a corrected line is what
search and the searchable PDF then hold, and a PDF reader's text extraction finds every
line inside its box."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pypdfium2 as pdfium
import pytest
from tests.helpers.drawing import draw_page, write_pdf
from tests.helpers.live import Live
from tests.helpers.postgres import PostgresCluster
from tests.helpers.server import ServerProcess

pytestmark = pytest.mark.engine

TOKEN = "records-token-0123456789"
PAGES = [
    ["Referral letter for the cardiology clinic", "Patient complains of chest pain"],
    ["Blood pressure 140 over 90", "Heart rate regular"],
    ["Current medication list", "Takes warfarin every evening", "Signed by the ward doctor"],
]
SIZE = (1240, 700)
DPI = 150  # the PDF's pages are SIZE / DPI inches; the server renders them at OCRLIVE_PDF_DPI


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`ocrlive serve` on SQLite, and on PostgreSQL (its people and token made by the CLI
    there too): the whole app on either backend."""
    data = tmp_path_factory.mktemp("records") / "data"
    env = {"OCRLIVE_WORKERS": "1", "OCRLIVE_PDF_DPI": str(DPI)}
    if request.param == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        env["OCRLIVE_DATABASE_URL"] = cluster.create_database()
    proc = ServerProcess(data, TOKEN, **env)
    proc.start()
    yield proc
    proc.stop()


async def upload_pdf(session: aiohttp.ClientSession, url: str, path: Path, patient: str) -> str:
    form = aiohttp.FormData()
    form.add_field("patient_id", patient)
    form.add_field("document_type", "referral_letter")
    form.add_field("file", path.read_bytes(), filename=path.name)
    async with session.post(f"{url}/api/tasks", data=form) as resp:
        assert resp.status == 202, await resp.text()
        task_id: str = (await resp.json())["task"]["id"]
    return task_id


async def read_pdf(
    session: aiohttp.ClientSession, live: Live, url: str, path: Path, patient: str
) -> str:
    """Uploaded and read to the end; its task ID."""
    task_id = await upload_pdf(session, url, path, patient)
    events = await live.until_terminal(task_id, timeout=300)
    assert events[-1]["event"] == "task.completed", events[-1]
    return task_id


async def get_json(session: aiohttp.ClientSession, url: str, **params: Any) -> Any:
    async with session.get(url, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def assert_pdf_text_on_the_boxes(pdf_bytes: bytes, result: dict[str, Any]) -> None:
    """Every line of the result, on its page, inside its box; nothing else."""
    pdf = pdfium.PdfDocument(pdf_bytes)
    assert len(pdf) == len(result["pages"])
    for page_pdf, page in zip(pdf, result["pages"], strict=True):
        scale = page_pdf.get_width() / page["width"]
        height = page_pdf.get_height()
        textpage = page_pdf.get_textpage()
        for line in page["lines"]:
            xs = [x * scale for x, _ in line["box"]]
            ys = [y * scale for _, y in line["box"]]
            found = textpage.get_text_bounded(
                left=min(xs) - 0.5, bottom=height - max(ys) - 0.5,
                right=max(xs) + 0.5, top=height - min(ys) + 0.5,
            )  # fmt: skip
            assert normal(found) == normal(line["text"]), (page["number"], line)
        everything = normal(textpage.get_text_range())
        assert everything == normal(" ".join(ln["text"] for ln in page["lines"]))


async def test_search_correct_and_export_a_real_three_page_pdf(
    server: ServerProcess, tmp_path: Path
) -> None:
    pdf = write_pdf([draw_page(lines, size=SIZE) for lines in PAGES], tmp_path / "l.pdf", DPI)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        live = await Live.connect(session, f"{server.url}/api/ws")
        await live.subscribe("tasks")
        task_id = await read_pdf(session, live, server.url, pdf, "P-3003")

        found = await get_json(session, f"{server.url}/api/search", q="warfarin")
        assert [(h["task"]["id"], h["page"]) for h in found["hits"]] == [(task_id, 3)]
        assert {"text": "warfarin", "match": True} in [
            {"text": s["text"].lower(), "match": s["match"]} for s in found["hits"][0]["snippet"]
        ]
        narrowed = {"document_type": "referral_letter", "status": "completed"}
        for q, filters in (("warf*", {"patient_id": "P-3003"}), ('"takes warfarin"', {}),
                           ("warfarin", narrowed)):  # fmt: skip
            hits = (await get_json(session, f"{server.url}/api/search", q=q, **filters))["hits"]
            assert [h["page"] for h in hits] == [3], (q, filters)
        assert (await get_json(session, f"{server.url}/api/search", q="warfarin",
                               patient_id="P-other"))["hits"] == []  # fmt: skip

        result = await get_json(session, f"{server.url}/api/tasks/{task_id}/result")
        assert result["revision"] == 1
        page3 = result["pages"][2]
        index = next(i for i, ln in enumerate(page3["lines"]) if "warfarin" in ln["text"].lower())
        url = f"{server.url}/api/tasks/{task_id}/pages/3/lines/{index}"
        body = {"action": "correct", "text": "Takes apixaban every evening", "revision": 1}
        async with session.post(url, json=body) as resp:
            assert resp.status == 200, await resp.text()
            edited = await resp.json()
        assert edited["revision"] == 2 and edited["line"]["reviewed"] == "corrected"
        await live.until(lambda e: e["event"] == "task.corrected" and e["task"]["id"] == task_id)
        assert (await get_json(session, f"{server.url}/api/search", q="warfarin"))["hits"] == []
        hits = (await get_json(session, f"{server.url}/api/search", q="apixaban"))["hits"]
        assert [(h["task"]["id"], h["page"]) for h in hits] == [(task_id, 3)]

        current = await get_json(session, f"{server.url}/api/tasks/{task_id}/result")
        line = current["pages"][2]["lines"][index]
        assert line["text"] == "Takes apixaban every evening" and line["revision"] == 2
        assert "warfarin" in line["ocr_text"].lower()
        past = await get_json(session, f"{server.url}/api/tasks/{task_id}/revisions",
                              page=3, line=index)  # fmt: skip
        assert [(e["revision"], e["text_after"]) for e in past["edits"]] == [
            (2, "Takes apixaban every evening")
        ]

        async with session.get(f"{server.url}/api/tasks/{task_id}/export.pdf") as resp:
            assert resp.status == 200 and resp.content_type == "application/pdf"
            assert "attachment" in resp.headers["Content-Disposition"]
            pdf_bytes = await resp.read()
        assert_pdf_text_on_the_boxes(pdf_bytes, current)

        async with session.post(f"{server.url}/api/exports",
                                json={"task_ids": [task_id], "format": "txt"}) as resp:  # fmt: skip
            assert resp.status == 200 and resp.content_type == "application/zip"
            archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
        (name,) = archive.namelist()
        assert name.startswith("P-3003_l") and "apixaban" in archive.read(name).decode()
        await live.close()


async def test_a_rerun_with_other_engine_settings_is_a_new_revision(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Settings a user would change for a second reading reach the real engine (a page
    scaled down to 32 px for detection yields no lines), are kept with the revision, are
    refused with a code when wrong, and do not stick to the next re-run."""
    lines = ["Discharge summary for the renal ward", "Potassium checked every morning"]
    pdf = write_pdf([draw_page(lines, size=SIZE)], tmp_path / "d.pdf", DPI)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        live = await Live.connect(session, f"{server.url}/api/ws")
        await live.subscribe("tasks")
        task_id = await read_pdf(session, live, server.url, pdf, "P-4004")
        first = await get_json(session, f"{server.url}/api/tasks/{task_id}/result")
        assert len(first["pages"][0]["lines"]) == 2 and first["engine"]["settings"] == {}

        rerun = f"{server.url}/api/tasks/{task_id}/rerun"
        for wrong in ({"box_threshold": 2}, {"orientation": "yes"}, {"colour": 1},
                      {"detection_side": 100.5}):  # fmt: skip
            async with session.post(rerun, json={"settings": wrong}) as resp:
                assert resp.status == 400, wrong
                assert (await resp.json())["error"]["code"] == "invalid_settings"
        async with session.post(rerun, json={"bogus": 1}) as resp:
            assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_request"

        async def reread(body: dict[str, Any] | None) -> dict[str, Any]:
            async with session.post(rerun, json=body) as resp:
                assert resp.status == 200, await resp.text()
                version = (await resp.json())["task"]["version"]

            def finished(e: dict[str, Any]) -> bool:
                later = e["task"]["id"] == task_id and e["task"]["version"] > version
                return later and e["event"] == "task.completed"

            done = await live.until(finished, timeout=300)
            assert done["task"]["status"] == "completed"
            result: dict[str, Any] = await get_json(
                session, f"{server.url}/api/tasks/{task_id}/result"
            )
            return result

        tiny = {"detection_limit": "max", "detection_side": 32, "orientation": False}
        second = await reread({"settings": tiny})
        assert second["revision"] == 2 and second["engine"]["settings"] == tiny
        assert second["pages"][0]["lines"] == []
        hits = await get_json(
            session, f"{server.url}/api/search", q="potassium", patient_id="P-4004"
        )
        assert hits["hits"] == []  # the index follows the new revision
        past = await get_json(session, f"{server.url}/api/tasks/{task_id}/revisions")
        assert [(r["revision"], r["engine"]["settings"]) for r in past["replaced"]] == [(1, {})]
        kept = await get_json(session, f"{server.url}/api/tasks/{task_id}/revisions/1")
        assert kept["pages"][0]["text"] == first["pages"][0]["text"]

        third = await reread(None)  # no settings: the server's again
        assert third["revision"] == 3 and third["engine"]["settings"] == {}
        assert [ln["text"] for ln in third["pages"][0]["lines"]] == [
            ln["text"] for ln in first["pages"][0]["lines"]
        ]
        await live.close()
