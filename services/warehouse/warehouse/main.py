"""Warehouse service app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.runtime import create_service_app
from warehouse.config import WarehouseSettings
from warehouse.entrypoints.api import inbounds
from warehouse.entrypoints.consumers import build_consumers

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: WarehouseSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or WarehouseSettings(),
        title="Sunshine 阳光红会 · 仓储服务 Warehouse service",
        description="Relief supplies: lots, inbound, dispatch with approval, FEFO, sign-off.",
        routers=[inbounds.router],
        consumers=build_consumers,
    )
