"""Bad gift input is refused before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from donation.entrypoints.api.schemas import DonationCreate

GOOD: dict[str, Any] = {
    "kind": "money",
    "amount_fen": 10000,
    "channel": "wechat_pay",
    "display": "surname",
    "donor": {"name": "张三", "phone": "13800000000"},
}


def test_a_valid_money_gift() -> None:
    assert DonationCreate.model_validate(GOOD).amount_fen == 10000


@pytest.mark.parametrize(
    "change",
    [
        {"amount_fen": 0},
        {"amount_fen": -5},
        {"amount_fen": 10.5},
        {"amount_fen": "100"},
        {"amount_fen": None},
        {"channel": "bitcoin"},
        {"display": "everyone"},
        {"donor": {"name": ""}},
        {"donor": {"name": "x" * 101}},
        {"donor": {"name": "张三", "phone": "call me"}},
        {"donor": {"name": "张三", "email": "not-an-email"}},
        {"project_code": "no spaces allowed"},
        {
            "items": [
                {"item_code": "Q", "name": "棉被", "quantity": 1, "unit": "床", "value_fen": 1}
            ]
        },
        {"unexpected": True},
        {"received_at": "2999-01-01T00:00:00+08:00"},
        {"received_at": "2026-01-01T00:00:00"},
    ],
)
def test_bad_input_is_rejected(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        DonationCreate.model_validate(GOOD | change)


def test_goods_gift_amount_must_match_items() -> None:
    goods = GOOD | {
        "kind": "goods",
        "amount_fen": 999,
        "channel": "on_site",
        "items": [
            {"item_code": "QUILT", "name": "棉被", "quantity": 2, "unit": "床", "value_fen": 24000}
        ],
    }
    with pytest.raises(ValidationError, match="differs"):
        DonationCreate.model_validate(goods)
    goods.pop("amount_fen")
    assert DonationCreate.model_validate(goods).items[0].quantity == 2
