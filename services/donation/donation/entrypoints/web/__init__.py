"""Pages of the donation service: the donor's tracking page (``/track``, ``/track/{code}``) and
the donor's giving page (``/give``, ``/give/{project_code}``, ``/give/result/{out_trade_no}``)
and the donation console (``/console/donation``). Static HTML + ES modules; see shared/web.py."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from shared.web import assets_router, page, web_settings

HERE = Path(__file__).resolve().parent

router = APIRouter(include_in_schema=False)
router.include_router(assets_router(web_settings("DONATION_"), HERE))


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/track", status_code=307)


@router.get("/track")
async def track_page() -> Response:
    return page(HERE / "track.html")


@router.get("/track/{tracking_code}")
async def track_code_page(tracking_code: str) -> Response:
    # The page reads the code from its own URL (a receipt's QR code opens it directly).
    del tracking_code
    return page(HERE / "track.html")


@router.get("/give")
async def give_page() -> Response:
    return page(HERE / "give.html")


@router.get("/give/result/{out_trade_no}")
async def give_result_page(out_trade_no: str) -> Response:
    del out_trade_no  # the page reads it from its URL
    return page(HERE / "give.html")


@router.get("/give/{project_code}")
async def give_project_page(project_code: str) -> Response:
    del project_code
    return page(HERE / "give.html")


@router.get("/console/donation")
async def console_page() -> Response:
    return page(HERE / "console.html")
