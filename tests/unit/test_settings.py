from __future__ import annotations

from pathlib import Path
from typing import Any

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
    live: dict[str, Any] = {
        "environment": "production",
        "db_password": "s3cret",
        "seed_demo_staff": False,
        "demo_password": "x",
    }
    with pytest.raises(ValidationError, match="https://"):
        DonationSettings(**live)
    live["public_url"] = "https://give.fhredcross.example"
    with pytest.raises(ValidationError, match="DONATION_RECEIPT_CODE"):
        DonationSettings(**live)
    live["receipt_code"] = "33100126"
    with pytest.raises(ValidationError, match="DONATION_RECEIPT_ISSUER_CREDIT_CODE"):
        DonationSettings(**live)
    live["receipt_issuer_credit_code"] = "91350100M000100Y43"
    with pytest.raises(ValidationError, match="sandbox in production"):
        DonationSettings(**live, payment_sandbox_state=Path("/tmp/sandbox"))
    ok = DonationSettings(**live, recipient_id_key_file=_recipient_key(tmp_path))
    assert ok.database_url.endswith("/donation")


def _recipient_key(directory: Path) -> Path:
    path = directory / "recipient_id.key"
    path.write_text("a1" * 32 + "\n")  # 32 bytes as hex
    return path


def test_production_refuses_a_missing_short_or_demo_recipient_id_key(tmp_path: Path) -> None:
    live: dict[str, Any] = {
        "environment": "production",
        "db_password": "s3cret",
        "seed_demo_staff": False,
        "demo_password": "x",
        "public_url": "https://give.fhredcross.example",
        "receipt_code": "33100126",
        "receipt_issuer_credit_code": "91350100M000100Y43",
    }
    with pytest.raises(ValidationError, match="demo recipient ID key"):
        DonationSettings(**live)  # the default: the key generated under .local/keys
    with pytest.raises(ValidationError, match="without the recipient ID key"):
        DonationSettings(**live, recipient_id_key_file=tmp_path / "absent.key")
    short = tmp_path / "short.key"
    short.write_text("ab" * 31)
    with pytest.raises(ValidationError, match="31 bytes; at least 32"):
        DonationSettings(**live, recipient_id_key_file=short)
    assert DonationSettings(**live, recipient_id_key_file=_recipient_key(tmp_path))
    # outside production the demo key is fine (generated on first start)
    assert DonationSettings(environment="test").recipient_id_key_file.name == "recipient_id.key"


def test_online_giving_limits_are_consistent() -> None:
    with pytest.raises(ValidationError, match="ONLINE_MIN_FEN"):
        DonationSettings(online_min_fen=10_000, online_max_fen=5_000)


def test_production_refuses_a_missing_feed_log_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="feed log signing key"):
        NotificationSettings(
            environment="production",
            db_password="s3cret",
            log_signing_key_file=tmp_path / "absent.pem",
        )
