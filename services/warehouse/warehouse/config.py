"""Warehouse service settings (environment prefix ``WAREHOUSE_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class WarehouseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_", extra="ignore")

    service_name: str = "warehouse"
    port: int = 8002
    db_name: str = "warehouse"
