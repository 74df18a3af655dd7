"""Error hierarchy carrying HTTP status, mapped to JSON in one place."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """Base of every error we raise on purpose. ``code`` is stable; ``message`` is for people."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(AppError):
    status_code = 422
    code = "validation_failed"


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PreconditionFailed(AppError):
    """412: the version the client read (If-Match or the body's) is no longer current."""

    status_code = 412
    code = "precondition_failed"


class PreconditionRequired(AppError):
    """428: a change that must name the version it read did not."""

    status_code = 428
    code = "precondition_required"


class Gone(AppError):
    """410: the record exists but what it names can no longer be served (a stored file that
    no longer matches its hash, or is lost)."""

    status_code = 410
    code = "gone"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(AppError):
    """415: a body of a ``Content-Type`` the operation does not take."""

    status_code = 415
    code = "unsupported_media_type"


class TooManyRequests(AppError):
    """A rate limit refused the request; ``details.retry_after_s`` becomes ``Retry-After``."""

    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers: dict[str, str] | None = None
    if isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    elif isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.details.get("retry_after_s", 60))}
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), exc.status_code, headers=headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
            "message": err.get("msg", "invalid"),
            "type": err.get("type", "invalid"),
        }
        for err in exc.errors()
    ]
    summary = "; ".join(f"{p['field'] or 'body'}: {p['message']}" for p in problems)
    return JSONResponse(
        error_body("validation_failed", f"请求数据无效 (invalid request): {summary}", problems),
        422,
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # The framework could not parse the body (not UTF-8, a broken form): like a JSON
        # syntax error, that is invalid input, answered as such.
        message = f"请求体无法解析 (the request body could not be parsed): {exc.detail}"
        problems = [{"field": "body", "message": str(exc.detail), "type": "body_unparsable"}]
        return JSONResponse(error_body("validation_failed", message, problems), 422)
    code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(
        exc.status_code, "http_error"
    )
    return JSONResponse(
        error_body(code, str(exc.detail)),
        exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def _database_unreachable(exc: BaseException) -> bool:
    """A lost or refused database connection: the request may be retried, nothing was applied."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and _database_unreachable(cause)


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    if _database_unreachable(exc):
        return JSONResponse(
            error_body(
                "unavailable",
                "数据库暂不可用，请稍后重试 (the database is unavailable; retry later)",
            ),
            503,
            headers={"Retry-After": "1"},
        )
    import logging

    logging.getLogger("sunshine.errors").exception("unhandled error", exc_info=exc)
    return JSONResponse(
        jsonable_encoder(error_body("internal_error", "服务器内部错误 (internal error)")), 500
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
