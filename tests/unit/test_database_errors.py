"""A request that loses its database connection gets a 503 to retry, never a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.errors import install_error_handlers


def app_raising(exc: Exception) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise exc

    return app


async def call(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/boom")


@pytest.mark.parametrize(
    "exc",
    [
        OperationalError("SELECT 1", {}, ConnectionRefusedError("refused")),
        DBAPIError("SELECT 1", {}, Exception("closed"), connection_invalidated=True),
        ConnectionResetError("reset by peer"),
    ],
    ids=["refused", "invalidated", "reset"],
)
async def test_a_lost_database_is_a_503_with_retry_after(exc: Exception) -> None:
    response = await call(app_raising(exc))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "unavailable"


async def test_other_errors_stay_500() -> None:
    response = await call(app_raising(RuntimeError("bug")))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
