"""Warehouse service settings (environment prefix ``WAREHOUSE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.config import ServiceSettings


class WarehouseSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WAREHOUSE_", extra="ignore")

    service_name: str = "warehouse"
    port: int = 8002
    db_name: str = "warehouse"
    # FEFO picking never takes a lot expiring within this many days (nor an expired one).
    pick_min_days_to_expiry: int = Field(default=7, ge=0)
    # The daily scan reports lots expiring within this many days as near expiry.
    near_expiry_days: int = Field(default=30, ge=0)
    # The daily scan runs at this hour (Asia/Shanghai), and once at start-up.
    expiry_scan_hour: int = Field(default=6, ge=0, le=23)
    # Background expiry tasks: the daily scan, and the re-publishing of levels whose lots
    # expired at midnight (off in tests that drive them by hand).
    run_expiry_scan: bool = True
    # A write-off (a stock count's decrease) worth more than this many fen (units × the item's
    # unit value) waits for a second person (an approver) to apply it: four eyes.
    write_off_four_eyes_fen: int = Field(default=50_000, ge=0)
