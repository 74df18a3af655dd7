"""The interactive API docs (``GET /api/docs``) load nothing from another origin (issue 13,
point 5).

FastAPI's built-in page loaded Swagger UI from a CDN (jsdelivr) and started it with an inline
script, without a Content-Security-Policy, on the origin where the staff consoles keep a staff
token. Now every service renders the page itself: Swagger UI from our ``node_modules``
(``swagger-ui-dist``, through the vendor allow-list of ``shared/web.py``), started from a static
file, under the pages' CSP (``script-src 'self'``).

The apps are built in process; their lifespan (database, Kafka) never runs, the docs need none.
The real-browser check (Swagger UI renders, no request leaves the origin, no CSP violation) is
in ``tests/e2e/test_pages_web.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from donation.config import DonationSettings
from donation.main import create_app as donation_app
from notification.config import NotificationSettings
from notification.main import create_app as notification_app
from shared.config import ServiceSettings
from warehouse.config import WarehouseSettings
from warehouse.main import create_app as warehouse_app

ROOT = Path(__file__).resolve().parents[2]
BASE = "http://sunshine.test"
SERVICES = ("donation", "warehouse", "notification")
FACTORIES: dict[str, Callable[..., FastAPI]] = {
    "donation": donation_app,
    "warehouse": warehouse_app,
    "notification": notification_app,
}


class _Page(HTMLParser):
    """The scripts, links and inline code of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []  # src of each <script src>
        self.inline_scripts: list[str] = []  # text of each <script> without src
        self.links: list[tuple[str, str]] = []  # (rel, href)
        self.urls: list[str] = []  # every src/href/action/data-* URL-ish attribute
        self.handlers: list[str] = []  # on...= attributes (inline script too)
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.handlers.append(f"{tag} {name}")
            if name in {"src", "href", "action", "srcset", "poster"} or name.endswith("-url"):
                self.urls.append(value)
        if tag == "script":
            if "src" in values:
                self.scripts.append(values["src"])
            else:
                self._in_script = True
                self.inline_scripts.append("")
        if tag == "link":
            self.links.append((values.get("rel", ""), values.get("href", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts[-1] += data


def _parse(html: str) -> _Page:
    parsed = _Page()
    parsed.feed(html)
    return parsed


def _csp(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


@pytest.fixture(scope="module")
def settings(
    donation_settings: DonationSettings,
    warehouse_settings: WarehouseSettings,
    notification_settings: NotificationSettings,
) -> dict[str, ServiceSettings]:
    return {
        "donation": donation_settings,
        "warehouse": warehouse_settings,
        "notification": notification_settings,
    }


@pytest.fixture(scope="module")
def apps(settings: dict[str, ServiceSettings]) -> dict[str, FastAPI]:
    return {name: FACTORIES[name](settings[name]) for name in SERVICES}


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


def _assert_strict_csp(response: httpx.Response) -> None:
    header = response.headers.get("content-security-policy")
    assert header, f"{response.request.url.path}: no Content-Security-Policy"
    csp = _csp(header)
    assert csp.get("default-src") == ["'self'"], header
    script = csp.get("script-src", csp["default-src"])
    assert script == ["'self'"], f"scripts may come from elsewhere, or inline: {header}"
    for directive in ("style-src", "img-src", "font-src", "connect-src"):
        for source in csp.get(directive, []):
            assert source in {"'self'", "'unsafe-inline'", "data:"}, (directive, header)
    assert csp.get("object-src") == ["'none'"], header
    assert response.headers.get("x-content-type-options") == "nosniff"


@pytest.mark.parametrize("service", SERVICES)
async def test_the_docs_page_loads_only_its_own_origin(
    apps: dict[str, FastAPI], service: str
) -> None:
    async with _client(apps[service]) as client:
        response = await client.get("/api/docs")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/html")
        _assert_strict_csp(response)
        html = response.text
        lowered = html.lower()
        for marker in ("cdn", "jsdelivr", "unpkg", "http://", "https://"):
            assert marker not in lowered, f"{service} /api/docs names {marker!r}"
        page = _parse(html)
        assert not page.inline_scripts, f"inline script on {service} /api/docs"
        assert not page.handlers, f"inline event handlers on {service} /api/docs: {page.handlers}"
        for url in page.urls:
            parts = urlsplit(url)
            assert not parts.scheme, f"{service}: {url} is another origin"
            assert not parts.netloc, f"{service}: {url} is another origin"
            assert url.startswith("/"), url
        assert page.scripts, "the page starts Swagger UI from a script of its own"
        stylesheets = [href for rel, href in page.links if "stylesheet" in rel.split()]
        icons = [href for rel, href in page.links if "icon" in rel.split()]
        assert stylesheets, "Swagger UI's stylesheet"
        wanted = (
            [(src, "text/javascript") for src in page.scripts]
            + [(href, "text/css") for href in stylesheets]
            + [(href, "image/") for href in icons]
        )
        for url, kind in wanted:
            asset = await client.get(url)
            assert asset.status_code == 200, f"{service} {url}: {asset.status_code}"
            assert asset.headers["content-type"].startswith(kind), (url, asset.headers)
            assert asset.headers.get("x-content-type-options") == "nosniff", url
            assert asset.content, url
        # the page really is Swagger UI, pointed at this service's own OpenAPI document
        assert any(src.endswith("/swagger-ui-bundle.js") for src in page.scripts)
        assert 'data-openapi-url="/api/v1/openapi.json"' in html
        assert (await client.get("/api/v1/openapi.json")).status_code == 200


@pytest.mark.parametrize("service", SERVICES)
async def test_fastapi_s_own_docs_pages_are_gone_and_the_schema_has_no_docs_route(
    apps: dict[str, FastAPI], service: str
) -> None:
    async with _client(apps[service]) as client:
        for path in ("/docs", "/docs/oauth2-redirect", "/api/docs/oauth2-redirect", "/redoc"):
            assert (await client.get(path)).status_code == 404, path
        schema = (await client.get("/api/v1/openapi.json")).json()
    assert not [p for p in schema["paths"] if "docs" in p], "the docs route is not an API"


async def test_without_node_modules_the_docs_page_says_so(
    warehouse_settings: WarehouseSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_WEB_ASSETS_DIR", str(tmp_path / "no-node-modules"))
    app = warehouse_app(warehouse_settings)
    async with _client(app) as client:
        response = await client.get("/api/docs")
    assert response.status_code == 200
    _assert_strict_csp(response)
    assert "unavailable" in response.text
    page = _parse(response.text)
    assert not page.scripts
    assert not page.inline_scripts
    assert "/api/v1/openapi.json" in page.urls  # the schema itself is still linked


# Every file a page is made of (HTML, scripts, stylesheets, the icon).
PAGE_FILES = sorted(
    path
    for folder in [*ROOT.glob("services/*/*/entrypoints/web"), ROOT / "shared" / "web_static"]
    for path in folder.iterdir()
    if path.suffix in {".html", ".js", ".mjs", ".css", ".svg"}
)
_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+(?::\d+)?""", re.IGNORECASE)
# XML namespaces are names, never fetched; 127.0.0.1 is the default of a plain link between our
# own pages (the public page → the donation service's tracking page), replaced by the address
# /web-config.json gives (NOTIFICATION_WEB_TRACK_URL).
_ALLOWED_HOSTS = {"www.w3.org", "127.0.0.1:8001"}


def test_the_page_files_name_no_other_host() -> None:
    assert any(p.name == "api-docs.js" for p in PAGE_FILES)
    found: list[str] = []
    for path in PAGE_FILES:
        text = path.read_text(encoding="utf-8")
        for match in _URL.finditer(text):
            before = text[max(0, match.start() - 1) : match.start()]
            if before in {"/", "\\"}:  # a path or a regular expression, not a URL
                continue
            host = match.group(0).split("//", 1)[1].lower()
            if host not in _ALLOWED_HOSTS:
                found.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
        if "cdn" in text.lower():
            found.append(f"{path.relative_to(ROOT)}: names a CDN")
    assert not found, "\n".join(found)
