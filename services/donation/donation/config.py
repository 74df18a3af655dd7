"""Donation service settings (environment prefix ``DONATION_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from shared.config import DEMO_PASSWORD, LOCAL_STATE, ServiceSettings


class DonationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DONATION_", extra="ignore")

    service_name: str = "donation"
    port: int = 8001
    db_name: str = "donation"
    jwt_private_key_file: Path = LOCAL_STATE / "keys" / "jwt_private.pem"
    token_ttl_minutes: int = 480
    demo_password: SecretStr = SecretStr(DEMO_PASSWORD)
    seed_demo_staff: bool = True

    # Login throttle (docs/donation.md): failed logins per account (the user name as typed,
    # case and surrounding spaces ignored) and per client address, each in a sliding window;
    # at the limit every login of that account, or from that address, is refused with 429,
    # the right password too, until the oldest failure leaves the window.
    login_account_limit: int = Field(default=5, ge=1)
    login_account_window_s: float = Field(default=900.0, gt=0)
    login_client_limit: int = Field(default=20, ge=1)
    login_client_window_s: float = Field(default=900.0, gt=0)

    # Four eyes on refunds (docs/donation.md): a refund of more than this many fen is only
    # requested by the account that asks; another account approves (and books) or rejects it.
    refund_four_eyes_fen: int = Field(default=100_000, ge=0)

    @model_validator(mode="after")
    def _refuse_demo_credentials_in_production(self) -> DonationSettings:
        if self.environment == "production":
            if self.seed_demo_staff:
                raise ValueError(
                    "refusing to seed demo staff accounts in production; "
                    "set DONATION_SEED_DEMO_STAFF=false"
                )
            if self.demo_password.get_secret_value() == DEMO_PASSWORD:
                raise ValueError(
                    "refusing to start in production with the demo password configured; "
                    "set DONATION_DEMO_PASSWORD or disable demo staff"
                )
        return self
