"""Per-service settings (pydantic-settings) with a computed DSN and production guards."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["local", "test", "production"]

DEFAULT_DB_PASSWORD = "sunshine"  # noqa: S105 - the local demo default, refused in production
DEMO_PASSWORD = "sunshine-demo"  # noqa: S105 - the documented demo staff password

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_STATE = REPO_ROOT / ".local"


class ServiceSettings(BaseSettings):
    """Settings every service shares. Subclasses set ``env_prefix`` and service defaults."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service_name: str = "service"
    environment: Environment = "local"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    http_keep_alive_s: int = 65
    # The reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For
    # and X-Forwarded-Proto are believed. Empty (the default): none, every client is the
    # address that connected — a local process can not pose as another client.
    forwarded_allow_ips: str = ""

    db_host: str = "127.0.0.1"
    db_port: int = 55432
    db_user: str = "sunshine"
    db_password: SecretStr = SecretStr(DEFAULT_DB_PASSWORD)
    db_name: str = "sunshine"
    db_pool_size: int = 10
    db_pool_pre_ping: bool = False

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    run_relay: bool = True
    run_consumers: bool = True
    # follow the access revocations on staff.events (shared.revocations); only with consumers
    run_revocation_listener: bool = True
    relay_batch_size: int = 200
    relay_poll_interval_s: float = 1.0
    consumer_max_attempts: int = 3

    # Staff authentication: tokens are verified locally with a public key (built-in issuer)
    # or with an external OIDC provider's JWKS.
    jwt_public_key_file: Path = LOCAL_STATE / "keys" / "jwt_public.pem"
    jwt_issuer: str = "sunshine"
    jwt_audience: str = "sunshine-staff"
    oidc_jwks_url: str | None = None
    jwt_algorithms: list[str] = ["EdDSA"]
    # What a token's claims mean (an external OIDC provider names them its own way): the claim
    # holding the roles and the one holding the organisation, and maps from the provider's
    # values to ours (a value missing from a non-empty map is dropped: no role, no org).
    # A token without an organisation is refused unless ``oidc_default_org`` names one.
    oidc_roles_claim: str = "roles"
    oidc_org_claim: str = "org"
    oidc_role_map: dict[str, str] = {}
    oidc_org_map: dict[str, str] = {}
    oidc_default_org: str | None = None

    @property
    def database_url(self) -> str:
        password = self.db_password.get_secret_value()
        return (
            f"postgresql+asyncpg://{self.db_user}:{password}@{self.db_host}:{self.db_port}/"
            f"{self.db_name}"
        )

    @property
    def asyncpg_dsn(self) -> str:
        """The plain DSN for raw asyncpg connections (LISTEN/NOTIFY)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @model_validator(mode="after")
    def _refuse_defaults_in_production(self) -> ServiceSettings:
        if (
            self.environment == "production"
            and self.db_password.get_secret_value() == DEFAULT_DB_PASSWORD
        ):
            raise ValueError(
                "refusing to start in production with the default database password; "
                f"set {self.model_config.get('env_prefix', '')}DB_PASSWORD"
            )
        return self
