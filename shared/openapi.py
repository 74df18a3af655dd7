"""The error responses of every operation, documented exactly, with the shared error body.

Every error we answer has the body of ``shared.errors.error_body``:
``{"error": {"code": ..., "message": ..., "details": ...}}``. FastAPI documents neither our
errors nor our 422 (it documents its own ``{"detail": [...]}`` body, which we never send).

Two sources, and nothing guessed:

- **declared**: each route names the errors its handler raises on purpose, with
  ``responses=raises(NotFound, (Conflict, "why"), ...)``: a record the body names is missing, a
  state conflict, a version mismatch, a rate limit. ``tests/unit/test_openapi_errors.py`` holds
  every route's declaration equal to what its code can raise (read from the code);
- **generic**, from the operation's shape, answered by the framework or by shared code before
  any handler runs: 401 where it needs a staff token (it declares the bearer scheme); 403 where
  it checks roles (``shared.auth.require_roles``); 404 where the path has a parameter (a value
  holding ``/`` names no route; most such routes also declare their own "no such record"); 413
  and 422 where it takes a body; 422 where it takes any parameter (invalid values, and a NUL
  character anywhere in the path or query, refused by ``shared.runtime``).

``add_error_responses`` adds the generic codes and gives every documented 4xx the shared error
body as its JSON schema; a declared code keeps its description.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, Field

from shared.auth import require_roles
from shared.errors import AppError, Conflict

ERROR_SCHEMA = "ErrorBody"


class ErrorInfo(BaseModel):
    code: str = Field(description="稳定的错误代码 Stable machine-readable code, e.g. not_found")
    message: str = Field(description="给人看的说明 For people: Chinese, then English")
    details: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None,
        description="更多信息 More detail: for validation_failed, one entry per invalid field",
    )


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorInfo


DESCRIPTIONS = {
    401: "未登录或令牌无效 Not authenticated (missing, invalid or expired bearer token)",
    403: "权限不足 The staff member's roles do not allow this",
    404: "不存在 Not found",
    409: "与当前状态冲突 Conflicts with the current state",
    412: "版本不符 Version mismatch (If-Match or the body's version is not the current one)",
    413: "请求体过大 Request body too large",
    422: "请求数据无效 Invalid request (one entry per invalid field in details)",
    428: "缺少版本号 Precondition required (send If-Match or the body's version)",
    429: "请求过于频繁 Too many requests (rate limited)",
}
# A path parameter's value holding "/" names no route: the 404 of an operation that looks
# nothing up by its path (a listing under a record, say).
NO_ROUTE = "不存在 Not found (no such path: a path parameter holding '/' names no route)"

Declared = type[AppError] | tuple[type[AppError], str]
Responses = dict[int | str, dict[str, Any]]

IDEMPOTENCY_CONFLICT: Declared = (
    Conflict,
    "Idempotency-Key already used with a different request body",
)
"""The 409 of every operation run through ``shared.idempotency.run_idempotent``."""


def raises(*errors: Declared) -> Responses:
    """A route's ``responses=``: the errors its handler raises on purpose, each optionally with
    why (``(Conflict, "Already receipted")``); several of one status share it, reasons joined.

    Every error a handler raises on purpose is declared, even where a generic rule (module
    docstring) gives its status too: the reason is what the route documents. A 401, 403, 413 or
    422 a generic rule gives need not be (declaring one, e.g. a handler's own 403, describes it)."""
    reasons: dict[int, list[str]] = {}
    for declared in errors:
        error, why = declared if isinstance(declared, tuple) else (declared, None)
        status = error.status_code
        text = why or DESCRIPTIONS.get(status, error.code)
        if text not in reasons.setdefault(status, []):
            reasons[status].append(text)
    return {status: {"description": "; ".join(texts)} for status, texts in sorted(reasons.items())}


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Every dependency ``require_roles`` makes runs this code (one closure per role set).
_ROLE_CHECK = require_roles().dependency.__code__


def error_codes(operation: dict[str, Any], *, role_checked: bool = True) -> set[int]:
    """The generic error statuses of an operation, from its shape (module docstring)."""
    codes: set[int] = set()
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        codes.add(401)
        if role_checked:
            codes.add(403)
    if any(p.get("in") == "path" for p in parameters):
        codes.add(404)
    if "requestBody" in operation:
        codes |= {413, 422}
    if parameters:
        codes.add(422)
    return codes


def role_checked_operations(routes: Iterable[Any]) -> set[tuple[str, str]]:
    """``(method, path)`` of every operation whose dependencies include a role check."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(list(routes)):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path_format:
            continue
        pending, checked = [route.dependant], False
        while pending and not checked:
            dependant = pending.pop()
            checked = getattr(dependant.call, "__code__", None) is _ROLE_CHECK
            pending.extend(dependant.dependencies)
        if checked:
            found |= {(m.lower(), context.path_format) for m in context.methods or ()}
    return found


def add_error_responses(
    spec: dict[str, Any], role_checked: set[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """Document the generic error responses and the error body (``role_checked``: the
    operations with a role check, see ``role_checked_operations``; None: every secured one)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas[ERROR_SCHEMA] = body
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            checked = role_checked is None or (method, path) in role_checked
            for code in sorted(error_codes(operation, role_checked=checked)):
                description = NO_ROUTE if code == 404 else DESCRIPTIONS[code]
                responses.setdefault(str(code), {"description": description})
            for code, response in responses.items():
                if not code.startswith("4"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if schema.get("$ref", "").endswith("/HTTPValidationError"):
                    response["description"] = DESCRIPTIONS[422]  # FastAPI's own 422
                if not schema or schema.get("$ref", "").endswith("/HTTPValidationError"):
                    response["content"] = content
            operation["responses"] = dict(sorted(responses.items()))
    # FastAPI's own validation error body is never sent: do not document it.
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(spec):
            schemas.pop(unused, None)
    return spec


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the error responses (see the module docstring)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(
                generate(), role_checked_operations(app.routes)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
