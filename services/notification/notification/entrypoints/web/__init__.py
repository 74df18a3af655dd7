"""The 阳光红会 public transparency page at ``/`` (static HTML + ES modules; see shared/web.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import Response

from shared.web import assets_router, page, web_settings

HERE = Path(__file__).resolve().parent

router = APIRouter(include_in_schema=False)
router.include_router(assets_router(web_settings("NOTIFICATION_"), HERE))


@router.get("/")
async def transparency_page() -> Response:
    return page(HERE / "index.html")
