from __future__ import annotations

from pathlib import Path

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


def test_production_refuses_default_secrets(tmp_path: Path) -> None:
    # the feed log's signing key is present (its absence is refused on its own, below), so
    # the refusal seen is the default password's whether or not .local/keys exists yet
    key = tmp_path / "feed_log_signing.pem"
    key.write_text("not read by the settings")
    with pytest.raises(ValidationError, match="default database password"):
        NotificationSettings(environment="production", log_signing_key_file=key)
    with pytest.raises(ValidationError, match="demo staff"):
        DonationSettings(environment="production", db_password="s3cret")
    with pytest.raises(ValidationError, match="demo password"):
        DonationSettings(environment="production", db_password="s3cret", seed_demo_staff=False)
    ok = DonationSettings(
        environment="production", db_password="s3cret", seed_demo_staff=False, demo_password="x"
    )
    assert ok.database_url.endswith("/donation")


def test_production_refuses_a_missing_feed_log_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="feed log signing key"):
        NotificationSettings(
            environment="production",
            db_password="s3cret",
            log_signing_key_file=tmp_path / "absent.pem",
        )
