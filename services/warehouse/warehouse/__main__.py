"""``python -m warehouse migrate|serve|seed``."""

from __future__ import annotations

from typing import Any

from shared.cli import run_cli
from warehouse.config import WarehouseSettings
from warehouse.main import MIGRATIONS, create_app
from warehouse.seed import seed


def _app(settings: Any) -> Any:
    return create_app(settings)


if __name__ == "__main__":
    run_cli(
        settings_factory=WarehouseSettings,
        app_factory=_app,
        migrations=MIGRATIONS,
        seed=seed,
    )
