"""A raw HTTP/1.1 client for the probe: what httpx would not send (chunked floods, huge heads)."""

from __future__ import annotations

import contextlib
import select
import socket
from dataclasses import dataclass


@dataclass
class RawAnswer:
    status: int | None  # None: the server closed without an answer
    head: str
    body: bytes
    sent: int  # body bytes the client got out before the server answered or closed


def _status(raw: bytes) -> tuple[int | None, str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    first = head.split(b"\r\n", 1)[0].split()
    status = int(first[1]) if len(first) >= 2 and first[1].isdigit() else None
    return status, head.decode("latin-1"), body


def _read_all(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    chunks: list[bytes] = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request(port: int, head: bytes, body: bytes = b"") -> RawAnswer:
    """Send one request as it is and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        status, text, rest = _status(_read_all(sock))
        return RawAnswer(status, text, rest, len(body))


def chunked_flood(
    port: int, path: str, *, total: int, chunk: int = 64 * 1024, method: str = "POST"
) -> RawAnswer:
    """Send ``total`` bytes of JSON-ish filler in chunks, with no Content-Length, stopping as
    soon as the server answers or closes; ``sent`` says how far it got."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    piece = f"{chunk:x}\r\n".encode() + b" " * chunk + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += chunk
        else:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"0\r\n\r\n")
        status, text, rest = _status(_read_all(sock))
        return RawAnswer(status, text, rest, sent)
