from __future__ import annotations

import pytest
from pydantic import ValidationError

from donation.config import DonationSettings
from notification.config import NotificationSettings


def test_environment_prefix_per_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DONATION_PORT", "9101")
    monkeypatch.setenv("NOTIFICATION_DB_NAME", "feed")
    assert DonationSettings().port == 9101
    assert NotificationSettings().db_name == "feed"
    assert NotificationSettings().port == 8003


def test_production_refuses_default_secrets() -> None:
    with pytest.raises(ValidationError, match="default database password"):
        NotificationSettings(environment="production")
    with pytest.raises(ValidationError, match="demo staff"):
        DonationSettings(environment="production", db_password="s3cret")
    with pytest.raises(ValidationError, match="demo password"):
        DonationSettings(environment="production", db_password="s3cret", seed_demo_staff=False)
    ok = DonationSettings(
        environment="production", db_password="s3cret", seed_demo_staff=False, demo_password="x"
    )
    assert ok.database_url.endswith("/donation")
