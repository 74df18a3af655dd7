"""Settings of the public feed and its transparency log (mixed into ``NotificationSettings``).

Environment variables (prefix ``NOTIFICATION_``): ``LOG_SIGNING_KEY_FILE``,
``LOG_CHECKPOINT_INTERVAL_S``, ``LOG_SETTLE_S``, ``RUN_FEED_LOG``, ``MAJOR_DISASTER_REFS``,
``PUBLIC_HOLIDAYS``, ``ROUTINE_DISCLOSURE_WORKING_DAYS``, ``DISASTER_DISCLOSURE_HOURS``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, Field, model_validator

from shared.config import LOCAL_STATE


class FeedLogSettings(BaseModel):
    # Ed25519 key that signs tree heads. Generated on first start outside production;
    # production refuses to start without it.
    log_signing_key_file: Path = LOCAL_STATE / "keys" / "feed_log_signing.pem"
    # Sequence new entries into the log and sign a head this often (at most 60 s).
    log_checkpoint_interval_s: float = Field(default=5.0, gt=0, le=60)
    # An entry enters the log once its event is this old, in (event time, event id) order,
    # so entries consumed from different partitions land in a reproducible order.
    log_settle_s: float = Field(default=2.0, ge=0)
    run_feed_log: bool = True
    # A "declared major disaster": incident references (or project codes) for which facts
    # must be disclosed within 24 hours instead of 7 working days.
    major_disaster_refs: list[str] = []
    # Non-working days besides Saturdays and Sundays (e.g. 2026-10-01 … 2026-10-07).
    public_holidays: list[date] = []
    routine_disclosure_working_days: int = 7
    disaster_disclosure_hours: int = 24

    @model_validator(mode="after")
    def _refuse_missing_log_key_in_production(self) -> FeedLogSettings:
        environment = getattr(self, "environment", "local")
        if environment == "production" and not self.log_signing_key_file.exists():
            raise ValueError(
                "refusing to start in production without the feed log signing key; set "
                f"NOTIFICATION_LOG_SIGNING_KEY_FILE (missing: {self.log_signing_key_file})"
            )
        return self
