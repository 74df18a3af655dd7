"""The FastAPI app: gateway protocols, pay pages and test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from . import alipay, controls, wechat
from .core import Config, Sandbox


def create_app(config: Config, transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    sandbox = Sandbox(config, transport)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    app = FastAPI(
        title="Payment gateway sandbox (WeChat Pay v3, Alipay)",
        lifespan=lifespan,
        docs_url="/sandbox/docs",
        openapi_url="/sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = sandbox
    app.include_router(wechat.router(sandbox))
    app.include_router(alipay.router(sandbox))
    app.include_router(controls.router(sandbox))
    return app
