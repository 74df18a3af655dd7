"""The donation routes map a request body to one command: what staff sent, and the defaults
the API promises (goods are worth their lines, a gift arrives now, a known donor brings no
details)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from donation.domain.commands import DonorDetails, GoodsLine, RegisterDonor
from donation.entrypoints.api.donations import record_command
from donation.entrypoints.api.donors import register_command
from donation.entrypoints.api.schemas import DonationCreate, DonorCreate

GOODS: dict[str, Any] = {
    "kind": "goods",
    "channel": "on_site",
    "display": "anonymous",
    "donor": {"name": "李四", "donor_type": "organization", "email": "a@b.cn", "notify": "email"},
    "project_code": "SWJ-2026",
    "items": [
        {"item_code": "RICE-10", "name": "大米", "quantity": 20, "unit": "袋", "value_fen": 60000},
        {
            "item_code": "OIL-5",
            "name": "食用油",
            "quantity": 10,
            "unit": "桶",
            "lot_no": "L7",
            "expiry_date": "2027-03-01",
            "value_fen": 15000,
        },
    ],
}


def test_goods_are_worth_their_lines_in_order() -> None:
    command = record_command(DonationCreate.model_validate(GOODS), "finance")

    assert command.amount_fen == 75000
    assert command.items == (
        GoodsLine("RICE-10", "大米", 20, "袋", None, None, 60000),
        GoodsLine("OIL-5", "食用油", 10, "桶", "L7", date(2027, 3, 1), 15000),
    )
    assert command.donor == DonorDetails("organization", "李四", None, "a@b.cn", "email")
    assert (command.kind, command.channel, command.display) == ("goods", "on_site", "anonymous")
    assert (command.project_code, command.actor, command.pledged) == ("SWJ-2026", "finance", False)
    assert command.donor_id is None


def test_a_gift_without_a_time_arrives_now() -> None:
    before = datetime.now(UTC)
    command = record_command(DonationCreate.model_validate(GOODS), "finance")

    assert before <= command.received_at <= datetime.now(UTC)


def test_a_money_gift_of_a_known_donor_keeps_what_was_sent() -> None:
    donor_id = uuid.UUID("0190a6f2-0000-7000-8000-000000000001")
    at = datetime.now(UTC) - timedelta(days=2)
    body = DonationCreate.model_validate(
        {
            "amount_fen": 12345,
            "channel": "bank_transfer",
            "external_ref": "TX-1",
            "donor_id": str(donor_id),
            "pledged": True,
            "received_at": at.isoformat(),
            "note": "年终",
        }
    )

    command = record_command(body, "finance")

    assert command.amount_fen == 12345
    assert command.items == ()
    assert command.donor_id == donor_id
    # no details for a donor already registered: the service layer uses the stored ones
    assert command.donor == DonorDetails("individual", "", None, None, "all")
    assert (command.external_ref, command.note, command.pledged) == ("TX-1", "年终", True)
    assert command.received_at == at


def test_registering_a_donor_carries_every_field_and_the_actor() -> None:
    body = DonorCreate.model_validate(
        {"name": "王小明", "phone": "13800000000", "display": "surname", "notify": "sms"}
    )

    assert register_command(body, "finance") == RegisterDonor(
        donor_type="individual",
        name="王小明",
        phone="13800000000",
        email=None,
        display="surname",
        notify="sms",
        actor="finance",
    )
