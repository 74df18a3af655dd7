"""Serving the web pages: static files with security headers, vendored npm assets, a tiny proxy.

Pages are static HTML + CSS + plain JavaScript (ES modules, no build step) kept in each
service's ``entrypoints/web/`` package; the common stylesheet and scripts live in
``shared/web_static/``. Front-end packages (Apache ECharts, a QR code generator, Swagger UI for
the API docs) come from npm into ``<repo>/node_modules`` (``scripts/bootstrap.sh`` runs
``npm ci``) and are served from ``/assets/vendor/<name>`` — only the files listed in
``VENDOR_FILES``, never the whole tree. When the folder is missing, those URLs answer 404 and the
pages say charts (or the API docs) are unavailable.

Every response carries a strict Content-Security-Policy (``default-src 'self'``): nothing is
loaded from another origin, so the pages work with no internet access. ``style-src`` allows
inline styles because ECharts positions its tooltips with them.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.config import REPO_ROOT
from shared.errors import error_body

COMMON_DIR = Path(__file__).resolve().parent / "web_static"

# URL name under /assets/vendor/ → path inside node_modules (an allow-list). The content type
# follows the name's extension (``.js``/``.mjs`` → text/javascript, ``.css`` → text/css).
VENDOR_FILES: dict[str, str] = {
    "echarts.esm.min.mjs": "echarts/dist/echarts.esm.min.mjs",
    "qrcode.mjs": "qrcode-generator/dist/qrcode.mjs",
    # the interactive API docs (/api/docs, shared/api_docs.py)
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/css", ".css")


class WebSettings(BaseSettings):
    """Settings of a service's pages (env prefix = the service's, e.g. ``WAREHOUSE_``)."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    web_assets_dir: Path = REPO_ROOT / "node_modules"
    # Where a console forwards the few calls that belong to another service (same-origin
    # proxy; see docs/decisions/005-web-pages.md).
    web_donation_url: str = "http://127.0.0.1:8001"
    web_notification_url: str = "http://127.0.0.1:8003"
    # The public transparency page as browsers reach it (linked from the other pages).
    web_public_url: str = "http://127.0.0.1:8003/"
    # The donor tracking page as browsers reach it (linked from the public page).
    web_track_url: str = "http://127.0.0.1:8001/track"


def web_settings(prefix: str) -> WebSettings:
    class _Prefixed(WebSettings):
        model_config = SettingsConfigDict(extra="ignore", env_file=None, env_prefix=prefix)

    return _Prefixed()


def _secure(response: Response, *, cache: str) -> Response:
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = cache
    return response


def page(path: Path) -> Response:
    """An HTML page (never cached, so a new release shows at once)."""
    return _secure(FileResponse(path, media_type="text/html; charset=utf-8"), cache="no-cache")


def html_page(body: str) -> Response:
    """An HTML page built in code, with the same headers (and caching) as ``page``."""
    return _secure(HTMLResponse(body), cache="no-cache")


def not_found() -> Response:
    response = JSONResponse(error_body("not_found", "资源不存在 (not found)"), 404)
    return _secure(response, cache="no-store")


def static_file(directory: Path, name: str) -> Response:
    """A file from ``directory`` by a plain name (no sub-folders, no dot-files)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return not_found()
    path = directory / name
    if not path.is_file():
        return not_found()
    media_type, _ = mimetypes.guess_type(name)
    if name.endswith((".js", ".mjs", ".css", ".html")):
        media_type = f"{media_type}; charset=utf-8"
    return _secure(FileResponse(path, media_type=media_type), cache="no-cache")


def vendor_available(assets_dir: Path, name: str) -> bool:
    relative = VENDOR_FILES.get(name)
    return relative is not None and (assets_dir / relative).is_file()


def vendor_file(assets_dir: Path, name: str) -> Response:
    if not vendor_available(assets_dir, name):
        return not_found()
    media_type = "text/css" if name.endswith(".css") else "text/javascript"
    return _secure(
        FileResponse(assets_dir / VENDOR_FILES[name], media_type=f"{media_type}; charset=utf-8"),
        cache="public, max-age=86400",
    )


def assets_router(settings: WebSettings, own_dir: Path) -> APIRouter:
    """``/assets/common/*`` (shared), ``/assets/page/*`` (this service's), ``/assets/vendor/*``."""
    router = APIRouter(include_in_schema=False)

    @router.get("/assets/common/{name}")
    async def common(name: str) -> Response:
        return static_file(COMMON_DIR, name)

    @router.get("/assets/page/{name}")
    async def own(name: str) -> Response:
        return static_file(own_dir, name)

    @router.get("/assets/vendor/{name}")
    async def vendor(name: str) -> Response:
        return vendor_file(settings.web_assets_dir, name)

    @router.get("/web-config.json")
    async def config() -> Response:
        body = {"public_url": settings.web_public_url, "track_url": settings.web_track_url}
        return _secure(JSONResponse(body), cache="no-cache")

    @router.get("/favicon.ico")
    async def favicon() -> Response:
        return static_file(COMMON_DIR, "favicon.svg")

    return router


_HOP_HEADERS = {"authorization", "content-type", "idempotency-key", "accept", "if-match"}
_ANSWER_HEADERS = ("www-authenticate", "retry-after")


async def forward(request: Request, base_url: str, path: str) -> Response:
    """Forward one request to another service (same-origin proxy for a console).

    Only the headers an API call needs go along, and ``X-Forwarded-For`` names the client as
    this service resolved it (a chain the client sent is replaced, never passed on): the other
    service believes it only if this one is among its ``FORWARDED_ALLOW_IPS``, and otherwise
    sees this service as the client. The answer comes back as it is (JSON), with the headers
    a client acts on (``WWW-Authenticate``, ``Retry-After``)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in _HOP_HEADERS}
    if request.client is not None:
        headers["x-forwarded-for"] = request.client.host
    body = await request.body()
    client: httpx.AsyncClient = request.app.state.runtime.http  # pooled, per app
    try:
        upstream = await client.request(
            request.method,
            base_url.rstrip("/") + path,
            params=list(request.query_params.multi_items()),
            content=body,
            headers=headers,
        )
    except httpx.HTTPError:
        response: Response = JSONResponse(
            error_body("unavailable", "相关服务暂不可用，请稍后再试 (service unavailable)"), 503
        )
        return _secure(response, cache="no-store")
    out_headers: dict[str, Any] = {
        name: upstream.headers[name] for name in _ANSWER_HEADERS if name in upstream.headers
    }
    response = Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
        headers=out_headers,
    )
    return _secure(response, cache="no-store")
