"""``python -m donation migrate|serve|seed``."""

from __future__ import annotations

from typing import Any

from donation.config import DonationSettings
from donation.main import MIGRATIONS, create_app
from donation.seed import seed
from shared.cli import run_cli


def _app(settings: Any) -> Any:
    return create_app(settings)


if __name__ == "__main__":
    run_cli(
        settings_factory=DonationSettings,
        app_factory=_app,
        migrations=MIGRATIONS,
        seed=seed,
    )
