"""The warehouse console (``/console/warehouse``): static HTML + ES modules (see shared/web.py).

Staff tokens come from the donation service and stock alerts live in the notification service;
the console still talks to one origin only: the few calls that belong to another service go
through ``/console/api/...`` here, forwarded as they are (docs/decisions/005-web-pages.md).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shared.web import assets_router, forward, page, web_settings

HERE = Path(__file__).resolve().parent
SETTINGS = web_settings("WAREHOUSE_")

router = APIRouter(include_in_schema=False)
router.include_router(assets_router(SETTINGS, HERE))


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/console/warehouse", status_code=307)


@router.get("/console/warehouse")
async def console_page() -> Response:
    return page(HERE / "console.html")


@router.post("/console/api/auth/token")
async def login(request: Request) -> Response:
    """The login form's post, forwarded to the donation service's token endpoint."""
    return await forward(request, SETTINGS.web_donation_url, "/api/v1/auth/token")


@router.post("/console/api/auth/password")
async def change_password(request: Request) -> Response:
    """The first login's password change (an initial password gets no token), forwarded to
    the donation service."""
    return await forward(request, SETTINGS.web_donation_url, "/api/v1/auth/password")


@router.get("/console/api/alerts")
async def alerts(request: Request) -> Response:
    return await forward(request, SETTINGS.web_notification_url, "/api/v1/alerts")


@router.post("/console/api/alerts/{alert_id}/acknowledge")
async def acknowledge(request: Request, alert_id: uuid.UUID) -> Response:
    return await forward(
        request, SETTINGS.web_notification_url, f"/api/v1/alerts/{alert_id}/acknowledge"
    )
