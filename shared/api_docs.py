"""The interactive API docs (``GET /api/docs``): Swagger UI served from our own installation.

FastAPI's built-in docs page loads Swagger UI's script and stylesheet from a CDN and starts it
with an inline script, on the same origin as the staff consoles (which keep a staff token in
the browser). This page instead loads ``swagger-ui-dist`` from ``node_modules`` through the
vendor allow-list (``/assets/vendor/swagger-ui-bundle.js``, ``/assets/vendor/swagger-ui.css``)
and starts it from a static file (``/assets/common/api-docs.js``), so it is served with the
pages' security headers and their Content-Security-Policy (``script-src 'self'``): no inline
script, nothing from another origin. The assets are those every service's web router serves
(``shared.web.assets_router``). Without ``node_modules`` the page still answers, saying the
docs are unavailable and linking the OpenAPI document itself.

The route is not part of the OpenAPI document.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shared.config import ServiceSettings
from shared.web import html_page, vendor_available, web_settings

DOCS_PATH = "/api/docs"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API docs</title>
<link rel="icon" href="{root}/assets/common/favicon.svg" type="image/svg+xml">
{head}</head>
<body>
<p id="api-docs-status" role="status">{status}</p>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
</body>
</html>
"""

_ASSETS = """<link rel="stylesheet" href="{root}/assets/vendor/swagger-ui.css">
<script src="{root}/assets/vendor/swagger-ui-bundle.js" defer></script>
<script src="{root}/assets/common/api-docs.js" defer></script>
"""

_LOADING = "正在加载 API 文档… (loading the API docs…)"
_UNAVAILABLE = (
    "API 文档界面暂不可用：Swagger UI 未安装（npm ci）。"
    " (API docs unavailable: the Swagger UI assets are not installed; run npm ci.)"
    ' OpenAPI: <a href="{openapi_url}">{openapi_url}</a>'
)


def render(*, title: str, openapi_url: str, root: str = "", assets: bool = True) -> str:
    """The docs page; ``assets=False`` gives the page that says the assets are missing."""
    safe_root = escape(root, quote=True)
    safe_openapi_url = escape(root + openapi_url, quote=True)
    return _PAGE.format(
        title=escape(title, quote=True),
        root=safe_root,
        head=_ASSETS.format(root=safe_root) if assets else "",
        status=_LOADING if assets else _UNAVAILABLE.format(openapi_url=safe_openapi_url),
        openapi_url=safe_openapi_url,
    )


def api_docs_router(settings: ServiceSettings) -> APIRouter:
    """``GET /api/docs`` for a service (its ``<PREFIX>_WEB_ASSETS_DIR`` locates the assets)."""
    prefix = str(type(settings).model_config.get("env_prefix", ""))
    assets_dir = web_settings(prefix).web_assets_dir
    router = APIRouter(include_in_schema=False)

    @router.get(DOCS_PATH)
    async def api_docs(request: Request) -> Response:
        available = all(vendor_available(assets_dir, name) for name in SWAGGER_FILES)
        body = render(
            title=request.app.title,
            openapi_url=request.app.openapi_url or "",
            root=request.scope.get("root_path", ""),
            assets=available,
        )
        return html_page(body)

    return router
