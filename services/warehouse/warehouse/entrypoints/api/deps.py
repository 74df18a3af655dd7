"""FastAPI dependencies of the warehouse API (the request helpers are ``shared.http_commands``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from shared.auth import Role, require_roles
from shared.errors import Forbidden
from shared.http_commands import WRITE_CONFLICT, if_match
from shared.openapi import Declared, Responses, raises
from shared.runtime import ServiceRuntime
from warehouse.config import WarehouseSettings

ALL_STAFF = (
    Role.WAREHOUSE,
    Role.DISPATCHER,
    Role.APPROVER,
    Role.AUDITOR,
    Role.FINANCE,
)
Reader = require_roles(*ALL_STAFF)
Keeper = require_roles(Role.WAREHOUSE)


def settings_of(runtime: ServiceRuntime) -> WarehouseSettings:
    settings = runtime.settings
    assert isinstance(settings, WarehouseSettings)
    return settings


IfMatch = Annotated[
    int | None,
    Depends(if_match("乐观锁：当前版本号 (optimistic concurrency: the version you read)")),
]


# The OpenAPI of the ETag header: every answer that is one versioned record carries it.
ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": '记录的当前版本号 The record\'s version, quoted ("3"): send it as If-Match',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    }
}


def versioned(*errors: Declared, status: int = 200) -> Responses:
    """A route's ``responses=`` when its answer ``status`` is one versioned record: that answer
    documents the ``ETag`` header, and the errors are ``raises(*errors)``."""
    return {status: {"headers": ETAG_HEADER}} | raises(*errors)


# The 409 every POST run through ``idempotent`` can answer, besides its own.
POST_CONFLICT: Declared = WRITE_CONFLICT

# Organisation scope (``warehouse.service_layer.scope``): a town branch's staff reach only the
# warehouses (and their stock, inbounds, counts, dispatches) of their own organisation.
OTHER_ORG_READ: Declared = (
    Forbidden,
    "权限不足，或属于其他组织的仓库 (roles, or a warehouse of another organisation)",
)
OTHER_ORG_WRITE: Declared = (
    Forbidden,
    "权限不足，或无权操作其他组织的仓库 (roles, or a warehouse of another organisation)",
)
