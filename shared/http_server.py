"""The HTTP server's own limits: request line and headers are bounded while they are parsed.

uvicorn's httptools protocol keeps every header it is sent: a client could send a megabyte of
headers and the service would hold and scan them all. ``BoundedHttpToolsProtocol`` counts the
request target and the headers as the parser reports them and, past a limit, answers at once
(414 URI Too Long, 431 Request Header Fields Too Large) and closes the connection, before the
application sees anything. With the pure-Python h11 protocol (when httptools is not installed)
uvicorn's ``h11_max_incomplete_event_size`` bounds the same head.
"""

from __future__ import annotations

import json
from typing import Any

from shared.errors import error_body

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 32 * 1024  # names and values of all headers together
MAX_HEADER_COUNT = 100


def _refusal(status: int, reason: str, message: str) -> bytes:
    body = json.dumps(error_body("request_head_too_large", message), ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "content-type: application/json\r\n"
        "x-content-type-options: nosniff\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


URL_TOO_LONG = _refusal(
    414, "URI Too Long", f"请求地址过长，上限 {MAX_URL_BYTES} 字节 (request target too long)"
)
HEADERS_TOO_LARGE = _refusal(
    431,
    "Request Header Fields Too Large",
    f"请求头过大：上限 {MAX_HEADER_COUNT} 个、共 {MAX_HEADER_BYTES} 字节 "
    "(request headers too large)",
)


class _HeadTooLarge(Exception):
    """Raised inside a parser callback to stop parsing; the answer was already written."""


def server_protocol() -> dict[str, Any]:
    """The keyword arguments for ``uvicorn.run`` that select a bounded HTTP protocol."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: h11 bounds the request head itself
        return {"http": "h11", "h11_max_incomplete_event_size": MAX_URL_BYTES + MAX_HEADER_BYTES}

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _url_bytes = 0
        _refused = False

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_bytes = 0
            self._url_bytes = 0

        def on_url(self, url: bytes) -> None:
            self._url_bytes += len(url)
            if self._url_bytes > MAX_URL_BYTES:
                self._refuse(URL_TOO_LONG)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_bytes += len(name) + len(value)
            if self._head_bytes > MAX_HEADER_BYTES or len(self.headers) >= MAX_HEADER_COUNT:
                self._refuse(HEADERS_TOO_LARGE)
            super().on_header(name, value)

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            if not self._refused:  # the parser error is our own refusal, already answered
                super().send_400_response(msg)

        def _refuse(self, answer: bytes) -> None:
            self._refused = True
            self.transport.write(answer)
            self.transport.close()
            raise _HeadTooLarge

    return {"http": BoundedHttpToolsProtocol}
