"""FastAPI dependencies of the donation API (the request helpers are ``shared.http_commands``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from shared.http_commands import if_match

IfMatch = Annotated[
    int | None,
    Depends(if_match("更新时携带读取到的版本号 (the version/ETag you read; 412 if it changed)")),
]
