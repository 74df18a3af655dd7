"""Events about staff and organisations, produced by the donation service (it holds the staff
directory and the organisation register). Topic ``staff.events``, compacted per key.

- ``organisation.registered.v1`` (key: the organisation's code): an organisation exists, or its
  name changed; the warehouse keeps its own copy to check the organisation of a warehouse.
- ``access.revoked.v1`` (key: the user name): tokens of this account issued before
  ``not_before`` are no longer accepted by any service (disabled, password reset, roles or
  organisation changed). Every service reads the whole topic at start and follows it
  (``shared.revocations``), so a revocation takes effect within the time the event takes to
  arrive (seconds), on every instance.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventPayload
from shared.contracts.registry import EventContract
from shared.organisations import ORG_CODE_PATTERN

PREFIX = "org.redcross.fenghua.staff"
TOPIC = "staff.events"

ORGANISATION_REGISTERED = f"{PREFIX}.organisation.registered.v1"
ACCESS_REVOKED = f"{PREFIX}.access.revoked.v1"

OrgCode = Annotated[str, Field(pattern=ORG_CODE_PATTERN, max_length=16)]
RevocationReason = Literal[
    "disabled", "password_reset", "password_changed", "roles_changed", "organisation_changed"
]


class OrganisationRegisteredV1(EventPayload):
    code: OrgCode
    name: str = Field(max_length=100)
    kind: Literal["district", "town"]
    town: str | None = Field(default=None, max_length=20)
    active: bool = True


class AccessRevokedV1(EventPayload):
    username: str = Field(max_length=64)
    not_before: AwareDatetime  # tokens issued before this instant are refused
    reason: RevocationReason


CONTRACTS = [
    EventContract(
        ORGANISATION_REGISTERED,
        TOPIC,
        OrganisationRegisteredV1,
        "donation",
        ("warehouse",),
        "An organisation (the district branch or a town branch) was registered or renamed.",
        OrganisationRegisteredV1(code="XK", name="溪口镇红十字会", kind="town", town="溪口镇"),
    ),
    EventContract(
        ACCESS_REVOKED,
        TOPIC,
        AccessRevokedV1,
        "donation",
        ("donation", "warehouse", "notification"),
        "Tokens of a staff account issued before not_before are refused from now on.",
        AccessRevokedV1(
            username="keeper-xk",
            not_before=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
            reason="disabled",
        ),
    ),
]
