"""Page serving without a network or front-end packages: never a 500, strict headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.web import VENDOR_FILES, WebSettings, assets_router, page, web_settings

PAGES = Path(__file__).resolve().parents[2] / "services"


def client(assets: Path, own: Path) -> TestClient:
    app = FastAPI()
    app.include_router(assets_router(WebSettings(web_assets_dir=assets), own))

    @app.get("/")
    async def index() -> object:
        return page(own / "index.html")

    return TestClient(app)


def test_missing_node_modules_gives_404_for_vendor_files_and_pages_still_load(
    tmp_path: Path,
) -> None:
    own = PAGES / "notification" / "notification" / "entrypoints" / "web"
    c = client(tmp_path / "no-node-modules", own)
    for name in VENDOR_FILES:
        assert c.get(f"/assets/vendor/{name}").status_code == 404
    response = c.get("/")
    assert response.status_code == 200
    assert "阳光红会" in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert response.headers["x-content-type-options"] == "nosniff"
    script = c.get("/assets/page/transparency.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert c.get("/assets/common/common.js").status_code == 200


def test_only_plain_names_are_served(tmp_path: Path) -> None:
    (tmp_path / "echarts" / "dist").mkdir(parents=True)
    (tmp_path / "echarts" / "dist" / "echarts.esm.min.mjs").write_text("export default 1;")
    (tmp_path / "secret.txt").write_text("no")
    own = tmp_path / "own"
    own.mkdir()
    (own / ".hidden.js").write_text("no")
    c = client(tmp_path, own)
    assert c.get("/assets/vendor/echarts.esm.min.mjs").status_code == 200
    assert c.get("/assets/vendor/secret.txt").status_code == 404
    assert c.get("/assets/page/.hidden.js").status_code == 404
    assert c.get("/assets/page/..%2Fsecret.txt").status_code == 404
    assert c.get("/assets/common/..%2F..%2Fpyproject.toml").status_code == 404


def test_settings_take_the_service_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_WEB_ASSETS_DIR", "/srv/assets")
    monkeypatch.setenv("WAREHOUSE_WEB_DONATION_URL", "http://donation:8001")
    settings = web_settings("WAREHOUSE_")
    assert settings.web_assets_dir == Path("/srv/assets")
    assert settings.web_donation_url == "http://donation:8001"
    assert web_settings("DONATION_").web_assets_dir.name == "node_modules"
