"""The error responses of every operation, documented in one place with the shared error body.

Every error we answer has the body of ``shared.errors.error_body``:
``{"error": {"code": ..., "message": ..., "details": ...}}``. FastAPI documents neither our
401/403/404/409 nor our 422 (it documents its own ``{"detail": [...]}`` body, which we never
send). ``document_errors`` adds them to the generated OpenAPI from what each operation is:

- 401 and 403 where the operation needs a staff token (it declares the bearer scheme);
- 404 where the path names a record (a path parameter), or a staff change's body may;
- 409 where staff change state (POST, PUT, PATCH, DELETE with the bearer scheme);
- 413 and 422 where it takes a body; 422 where it takes any parameter;

and every documented 4xx gets the shared error body as its JSON schema. Codes a route
documents itself (e.g. 412, 428, 429) keep their description and get the body too.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

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
}

_MUTATING = {"post", "put", "patch", "delete"}
_METHODS = _MUTATING | {"get", "head", "options", "trace"}


def error_codes(method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from what the operation is."""
    codes: set[int] = set()
    parameters = operation.get("parameters", [])
    if operation.get("security"):
        codes |= {401, 403}
    staff_change = method in _MUTATING and bool(operation.get("security"))
    if any(p.get("in") == "path" for p in parameters):
        codes.add(404)
    if staff_change:
        codes.add(409)
        if "requestBody" in operation:
            codes.add(404)  # the body names other records (a project, a disbursement, ...)
    if "requestBody" in operation:
        codes |= {413, 422}
    if parameters:
        codes.add(422)
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in parameters):
        codes.add(412)  # optimistic concurrency: the version sent is not the current one
    return codes


def add_error_responses(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas[ERROR_SCHEMA] = body
    content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(error_codes(method, operation)):
                responses.setdefault(str(code), {"description": DESCRIPTIONS[code]})
            for code, response in responses.items():
                if not code.startswith("4"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                if not schema or schema.get("$ref", "").endswith("/HTTPValidationError"):
                    if code == "422":
                        response["description"] = DESCRIPTIONS[422]
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
            app.openapi_schema = add_error_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
