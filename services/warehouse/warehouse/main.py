"""Warehouse service app factory."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from shared.runtime import ServiceRuntime, create_service_app
from warehouse.config import WarehouseSettings
from warehouse.entrypoints import web
from warehouse.entrypoints.api import (
    audit,
    catalogue,
    dispatches,
    goods_value,
    inbounds,
    plans,
    preparedness,
    preparedness_sweep,
    requisitions,
    stock,
    transit,
    write_offs,
)
from warehouse.entrypoints.consumers import build_consumers
from warehouse.service_layer.expiry import daily_loop, expiry_levels_loop
from warehouse.service_layer.preparedness_signals import sweep_loop

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def _start_background(runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    if isinstance(settings, WarehouseSettings) and settings.run_expiry_scan:
        runtime.tasks.append(asyncio.create_task(daily_loop(runtime), name="expiry-scan"))
        runtime.tasks.append(asyncio.create_task(expiry_levels_loop(runtime), name="expiry-levels"))
    if isinstance(settings, WarehouseSettings) and settings.run_preparedness_sweep:
        runtime.tasks.append(asyncio.create_task(sweep_loop(runtime), name="preparedness-sweep"))


def create_app(settings: WarehouseSettings | None = None) -> FastAPI:
    return create_service_app(
        settings or WarehouseSettings(),
        title="Sunshine 阳光红会 · 仓储服务 Warehouse service",
        description=(
            "Relief supplies: warehouses, items, lots, inbound, stock counts, stock card, "
            "dispatch with approval, FEFO picking, sign-off, transfers, lineage. "
            "Staff guide: docs/warehouse.md."
        ),
        routers=[
            catalogue.router,
            inbounds.router,
            stock.router,
            write_offs.router,
            dispatches.router,
            transit.router,  # before preparedness: its fixed paths first
            preparedness.router,
            preparedness_sweep.router,
            plans.router,
            requisitions.router,
            audit.router,
            goods_value.router,
            web.router,
        ],
        consumers=build_consumers,
        on_startup=_start_background,
    )
