"""Streaming an upload to disk: size cap, type by content, content-addressed storage.

The file is written to `incoming/` first and moves to its final name (its sha256) only
once every field is valid. A file at a final name is never deleted here: another
task may already hold the same document.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web

from ocrlive.errors import EmptyFile, FileTooLarge, InvalidRequest, UnsupportedType
from ocrlive.events import DocumentType, Priority
from ocrlive.ocr.documents import sniff_content_type

PATIENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/ ]{0,63}$")
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "application/pdf": ".pdf",
}
CHUNK = 256 * 1024


@dataclass
class Received:
    filename: str
    content_type: str
    size: int
    sha256: str
    tmp: Path


@dataclass
class Upload:
    patient_id: str
    document_type: str
    priority: Priority
    filename: str
    content_type: str
    size: int
    sha256: str
    path: Path


async def receive_upload(request: web.Request, files_dir: Path, max_bytes: int) -> Upload:
    if request.content_length is not None and request.content_length > max_bytes + 65536:
        raise FileTooLarge(f"The file is larger than {max_bytes // 2**20} MiB")
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest("Send multipart/form-data with file, patient_id and document_type")
    reader = await request.multipart()
    fields: dict[str, str] = {}
    received: Received | None = None
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("Nested multipart is not supported")
            if part.name == "file" and received is None:
                received = await _receive_file(part, files_dir, max_bytes)
            elif part.name in ("patient_id", "document_type", "priority"):
                fields[part.name] = (await part.text())[:200].strip()
        upload = _build(fields, received)
    except BaseException:
        if received is not None:
            received.tmp.unlink(missing_ok=True)
        raise
    assert received is not None
    _commit(received.tmp, upload.path)
    return upload


def _build(fields: dict[str, str], received: Received | None) -> Upload:
    if received is None:
        raise InvalidRequest("file is required")
    patient_id = fields.get("patient_id", "")
    if not PATIENT_ID_RE.match(patient_id):
        raise InvalidRequest("patient_id is required: letters, digits, - _ . / and spaces")
    document_type = fields.get("document_type", "")
    if document_type not in DocumentType.__members__.values():
        raise InvalidRequest(f"document_type must be one of: {', '.join(DocumentType)}")
    priority = fields.get("priority") or Priority.NORMAL
    if priority not in Priority.__members__.values():
        raise InvalidRequest("priority must be normal or urgent")
    digest = received.sha256
    final = received.tmp.parent.parent / digest[:2] / (digest + EXTENSIONS[received.content_type])
    return Upload(
        patient_id, document_type, Priority(priority), received.filename, received.content_type,
        received.size, digest, final,
    )  # fmt: skip


def _commit(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # the same document was uploaded before: keep that copy
        tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, final)


async def _receive_file(part: BodyPartReader, files_dir: Path, max_bytes: int) -> Received:
    filename = Path(part.filename or "document").name[:200] or "document"
    tmp_dir = files_dir / "incoming"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        size, digest, head = await _copy(part, fd, max_bytes)
        content_type = _check_content(size, head)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Received(filename, content_type, size, digest, tmp)


async def _copy(part: BodyPartReader, fd: int, max_bytes: int) -> tuple[int, str, bytes]:
    hasher, size, head = hashlib.sha256(), 0, b""
    with os.fdopen(fd, "wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(f"The file is larger than {max_bytes // 2**20} MiB")
            if len(head) < 64:
                head += chunk[: 64 - len(head)]
            hasher.update(chunk)
            await asyncio.to_thread(out.write, chunk)
        out.flush()
        # Accepted means on disk: a crash after the 202 must not lose the document.
        await asyncio.to_thread(os.fsync, out.fileno())
    return size, hasher.hexdigest(), head


def _check_content(size: int, head: bytes) -> str:
    if size == 0:
        raise EmptyFile("The file is empty")
    content_type = sniff_content_type(head)
    if content_type is None:
        raise UnsupportedType("Only PNG, JPEG, TIFF and PDF documents can be read")
    return content_type
