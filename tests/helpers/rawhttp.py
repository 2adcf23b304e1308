"""HTTP over a plain socket, for requests no well-behaved client library would send
(bytes that are not UTF-8 in headers, cut-short bodies, stalls)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    head: bytes
    body: bytes
    closed: bool  # the server closed the connection after answering

    def json(self) -> Any:
        return json.loads(self.body)


def request(port: int, head: bytes, body: bytes = b"", *, timeout: float = 10.0) -> RawResponse:
    """Send `head` (request line and headers, without the blank line) and `body`."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.rstrip(b"\r\n") + b"\r\n\r\n" + body)
        return read_response(sock, head_only=head.startswith(b"HEAD "))


def read_response(sock: socket.socket, *, head_only: bool = False) -> RawResponse:
    data = b""
    while True:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before an answer: {data!r}")
            data += chunk
        if not data.startswith(b"HTTP/1.1 100 "):  # 100 Continue comes before the answer
            break
        data = data.partition(b"\r\n\r\n")[2]
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if head_only or status in (101, 204, 304):
        return RawResponse(status, head, body, False)
    length = _content_length(head)
    closed = False
    while length is None or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            closed = True
            break
        body += chunk
    return RawResponse(status, head, body, closed)


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"b0undary") -> bytes:
    """`parts` are (part headers, content) pairs; the closing boundary is added."""
    out = b""
    for headers, content in parts:
        out += (
            b"--" + boundary + b"\r\n" + headers.rstrip(b"\r\n") + b"\r\n\r\n" + content + b"\r\n"
        )
    return out + b"--" + boundary + b"--\r\n"


def post_head(path: bytes, token: bytes, body: bytes, content_type: bytes) -> bytes:
    return (
        b"POST " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token
        + b"\r\nContent-Type: " + content_type + b"\r\nContent-Length: "
        + str(len(body)).encode()
    )  # fmt: skip
