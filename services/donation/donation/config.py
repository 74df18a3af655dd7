"""Donation service settings (environment prefix ``DONATION_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, model_validator
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
