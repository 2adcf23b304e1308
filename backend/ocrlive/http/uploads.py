"""Streaming an upload to disk: size cap, type by content, content-addressed storage.

The file is written to `incoming/` first and moves to its final name (its sha256) only
once every field is valid and the caller commits it. A file at a final name is never
deleted here: another task may already hold the same document.

Everything here is the client's to control, so everything is bounded: the body may
not stall longer than `stall_timeout` (408), a text field may not exceed FIELD_LIMIT
bytes (413 `field_too_large`), a body has at most MAX_PARTS parts, and a malformed
multipart body (no boundary, a bad charset, cut short) is a 400, never a 500.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ocrlive.errors import (
    EmptyFile,
    FieldTooLarge,
    FileTooLarge,
    InvalidRequest,
    RequestTimeout,
    UnsupportedType,
)
from ocrlive.events import DocumentType, Priority
from ocrlive.ocr.documents import sniff_content_type
from ocrlive.store.health import storage_errors

PATIENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-/ ]{0,63}$")
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/tiff": ".tif",
    "application/pdf": ".pdf",
}
CHUNK = 256 * 1024
FIELD_LIMIT = 1024  # bytes of a text field; the longest valid one (document_type) is 17
MAX_PARTS = 16
TEXT_FIELDS = ("patient_id", "document_type", "priority")
# What aiohttp's multipart reader raises on a malformed body (ValueError: no boundary,
# read after EOF; LookupError: unknown charset; RuntimeError: unknown encoding...).
_MALFORMED = (ValueError, LookupError, RuntimeError, TypeError, AssertionError)
_BIDI_AND_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_JOINERS = {"\u200c", "\u200d"}  # needed to spell words in Persian, Hindi...


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
    tmp: Path

    def commit(self) -> None:
        """Move the file to its content address (the same document: keep that copy)."""
        try:
            with storage_errors():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.exists():
                    self.tmp.unlink(missing_ok=True)
                else:
                    os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


class _Stall:
    """The body must keep arriving: every chunk moves the deadline `seconds` on."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timeout = asyncio.timeout(seconds)

    async def __aenter__(self) -> _Stall:
        await self._timeout.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._timeout.__aexit__(*exc)  # type: ignore[arg-type]
        except TimeoutError:
            raise RequestTimeout(
                f"The upload stalled: no data for {self.seconds:g} seconds"
            ) from None

    def progressed(self) -> None:
        self._timeout.reschedule(asyncio.get_running_loop().time() + self.seconds)


async def receive_upload(
    request: web.Request, files_dir: Path, max_bytes: int, stall_timeout: float
) -> Upload:
    """Read and check the whole upload; the caller commits or discards it."""
    if request.content_length is not None and request.content_length > max_bytes + 65536:
        raise FileTooLarge(f"The file is larger than {max_bytes // 2**20} MiB")
    if not request.content_type.startswith("multipart/"):
        raise InvalidRequest("Send multipart/form-data with file, patient_id and document_type")
    fields: dict[str, str] = {}
    received: Received | None = None
    try:
        async with _Stall(stall_timeout) as stall:
            received = await _read_parts(request, files_dir, max_bytes, fields, stall)
        return _build(fields, received)
    except BaseException:
        if received is not None:
            received.tmp.unlink(missing_ok=True)
        raise


async def _read_parts(
    request: web.Request, files_dir: Path, max_bytes: int, fields: dict[str, str], stall: _Stall
) -> Received | None:
    received: Received | None = None
    try:
        reader = await request.multipart()
        for _ in range(MAX_PARTS + 1):
            part = await reader.next()
            stall.progressed()
            if part is None:
                return received
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("Nested multipart is not supported")
            if part.name == "file":
                if received is not None:
                    raise InvalidRequest("Send one file per upload")
                received = await _receive_file(part, files_dir, max_bytes, stall)
            else:
                text = await _read_field(part, stall)
                if part.name in TEXT_FIELDS:
                    fields[part.name] = text.strip()
        raise InvalidRequest(f"A multipart body has at most {MAX_PARTS} parts")
    except (HttpProcessingError, *_MALFORMED) as exc:
        if received is not None:
            received.tmp.unlink(missing_ok=True)
        raise InvalidRequest(f"The multipart body is malformed ({_reason(exc)})") from None
    except BaseException:
        if received is not None:
            received.tmp.unlink(missing_ok=True)
        raise


def _reason(exc: BaseException) -> str:
    if isinstance(exc, LookupError):
        return "unknown charset"
    if isinstance(exc, UnicodeDecodeError):
        return "text that does not match its charset"
    return "cut short, no boundary, or bad part headers"


async def _read_field(part: BodyPartReader, stall: _Stall) -> str:
    name = str(part.name or "")[:40]
    data = bytearray()
    while chunk := await part.read_chunk(FIELD_LIMIT + 1):
        stall.progressed()
        data += chunk
        if len(data) > FIELD_LIMIT:
            raise FieldTooLarge(f"The field {name!r} is longer than {FIELD_LIMIT} bytes")
    charset = part.get_charset(default="utf-8")
    return bytes(data).decode(charset)


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
        patient_id, document_type, Priority(priority), received.filename,
        received.content_type, received.size, digest, final, received.tmp,
    )  # fmt: skip


def clean_filename(raw: str | None) -> str:
    """The name to show: its last part (browsers on Windows may send a full path),
    without control, bidirectional-override or other invisible characters that
    would let a name like 'invoice\u202egnp.exe' pose as another."""
    name = unicodedata.normalize("NFC", raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(
        ch for ch in name if ch in _JOINERS or unicodedata.category(ch) not in _BIDI_AND_INVISIBLE
    )
    kept = " ".join(kept.split())[:200].strip()
    return kept if kept not in ("", ".", "..") else "document"


async def _receive_file(
    part: BodyPartReader, files_dir: Path, max_bytes: int, stall: _Stall
) -> Received:
    filename = clean_filename(part.filename)
    tmp_dir = files_dir / "incoming"
    with storage_errors():
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir)
    tmp = Path(tmp_name)
    try:
        size, digest, head = await _copy(part, fd, max_bytes, stall)
        content_type = _check_content(size, head)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Received(filename, content_type, size, digest, tmp)


async def _copy(
    part: BodyPartReader, fd: int, max_bytes: int, stall: _Stall
) -> tuple[int, str, bytes]:
    hasher, size, head = hashlib.sha256(), 0, b""
    # A full disk is the server's condition, answered with 503, not the client's fault.
    with storage_errors(), os.fdopen(fd, "wb") as out:
        while chunk := await part.read_chunk(CHUNK):
            stall.progressed()
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(f"The file is larger than {max_bytes // 2**20} MiB")
            if len(head) < 64:
                head += chunk[: 64 - len(head)]
            hasher.update(chunk)
            await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(out.flush)
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
