"""``python -m notification migrate|serve|seed``."""

from __future__ import annotations

from typing import Any

from notification.config import NotificationSettings
from notification.main import MIGRATIONS, create_app
from shared.cli import run_cli


def _app(settings: Any) -> Any:
    return create_app(settings)


if __name__ == "__main__":
    run_cli(settings_factory=NotificationSettings, app_factory=_app, migrations=MIGRATIONS)
