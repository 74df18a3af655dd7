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

    # ---- smart preparedness (智慧备灾), docs/preparedness.md
    # Average monthly consumption looks back this many days (about 3 months).
    amc_lookback_days: int = Field(default=90, ge=7, le=730)
    # Transfers between our own warehouses are not consumption (the receiving one consumes).
    amc_exclude_transfers: bool = True
    # Dispatches tagged with a disaster incident are left out of the base rate, so that one
    # typhoon does not double the next order.
    amc_exclude_incidents: bool = True
    # The preparedness sweep: publishes "below reorder threshold" and "plan gap" signals that
    # changed (the notification service raises and resolves alerts from them).
    run_preparedness_sweep: bool = True
    preparedness_sweep_seconds: int = Field(default=300, ge=5)
