"""What every request passes before a route sees it (pure ASGI middleware).

- The W3C trace is adopted from ``traceparent`` or started.
- The body is bounded at ``MAX_BODY_BYTES`` *while it is read*: a declared ``Content-Length``
  over the limit is refused at once, and a body without one (chunked) is refused with 413 as
  soon as the bytes read pass the limit; nothing beyond is read, and the connection is closed.
  A binary upload (``Content-Type`` one of ``UPLOAD_TYPES``: the photos of follow-up visits) is
  bounded the same way at ``MAX_UPLOAD_BYTES``.
- Text with the NUL character (U+0000) in the path, query or body is refused (422): PostgreSQL
  can not store or compare it, so it would fail deep inside a handler as a 500. A binary body
  (``image/*``, ``application/octet-stream``) is not text and never parsed as such: it is
  passed on as it is (a route taking it checks what it holds; any other answers 415 or 422).
- A JSON body whose object repeats a key, at any depth, is refused (422): parsers disagree on
  which value wins (Python keeps the last, others the first), so a reviewer, a log and the
  service could each read a different amount from the same bytes.
- Every answer carries ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import PayloadTooLarge, error_body
from shared.messaging.tracing import continue_trace

MAX_BODY_BYTES = 1_000_000
MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # 5 MiB
UPLOAD_TYPES = (b"image/jpeg", b"image/png")

# U+0000 written as a JSON escape (after an even number of backslashes, so not ``\\u0000``).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORM = b"application/x-www-form-urlencoded"
_NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _with_nosniff(send)
        headers = dict(scope.get("headers") or [])
        traceparent = headers.get(b"traceparent")
        continue_trace(traceparent.decode("latin-1") if traceparent else None)
        content_type = headers.get(b"content-type", b"").lower()
        limit = MAX_UPLOAD_BYTES if _is_upload(content_type) else MAX_BODY_BYTES
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            where = "query" if "\x00" not in scope["path"] else "path"
            await _invalid(where, _NUL_MESSAGE, "nul_character")(scope, receive, send)
            return
        if _has_body(headers):
            body, receive = await _bounded_body(receive, limit)
            if body is None:
                await _too_large(limit)(scope, receive, send)
                return
            if _is_binary(content_type):
                await self.app(scope, receive, send)
                return
            if _nul_in(body, content_type):
                await _invalid("body", _NUL_MESSAGE, "nul_character")(scope, receive, send)
                return
            duplicate = _duplicate_json_key(body, content_type)
            if duplicate is not None:
                message = f"JSON 对象的键重复：{duplicate} (duplicate key in a JSON object)"
                await _invalid(duplicate, message, "duplicate_key")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _with_nosniff(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers") or [])
            if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
                headers.append(_NOSNIFF)
            message = {**message, "headers": headers}
        await send(message)

    return sending


def _has_body(headers: dict[bytes, bytes]) -> bool:
    length = headers.get(b"content-length", b"")
    return (bool(length) and length != b"0") or b"transfer-encoding" in headers


def _media(content_type: bytes) -> bytes:
    return content_type.split(b";", 1)[0].strip()


def _is_upload(content_type: bytes) -> bool:
    return _media(content_type) in UPLOAD_TYPES


def _is_binary(content_type: bytes) -> bool:
    media = _media(content_type)
    return media.startswith(b"image/") or media == b"application/octet-stream"


async def _bounded_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """Read the body up to ``limit`` bytes: the bytes and a ``receive`` replaying them, or
    ``None`` as soon as the body is larger (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _nul_in(body: bytes, content_type: bytes) -> bool:
    if content_type.startswith(_FORM):
        return b"%00" in body or b"\x00" in body
    return b"\x00" in body or _JSON_NUL.search(body) is not None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _is_json(content_type: bytes) -> bool:
    """The bodies FastAPI parses as JSON: ``application/json``, ``*/*+json``, or no type."""
    media = content_type.split(b";", 1)[0].strip()
    return not media or media == b"application/json" or media.endswith(b"+json")


def _duplicate_json_key(body: bytes, content_type: bytes) -> str | None:
    if not _is_json(content_type) or b'"' not in body:
        return None
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as duplicate:
        return duplicate.key[:100]
    except (ValueError, RecursionError):  # not JSON, or too deep: the route's parser answers
        return None
    return None


def _too_large(limit: int = MAX_BODY_BYTES) -> JSONResponse:
    exc = PayloadTooLarge(f"请求体过大，上限 {limit} 字节 (body too large: at most {limit} bytes)")
    # the rest of the body is not read: the connection can not carry another request
    return JSONResponse(
        error_body(exc.code, exc.message), exc.status_code, headers={"Connection": "close"}
    )


_NUL_MESSAGE = "文本不得包含 NUL 字符 (text must not contain the NUL character U+0000)"


def _invalid(field: str, message: str, kind: str) -> JSONResponse:
    problems = [{"field": field, "message": message, "type": kind}]
    return JSONResponse(
        error_body("validation_failed", f"请求数据无效 (invalid request): {message}", problems),
        422,
    )
