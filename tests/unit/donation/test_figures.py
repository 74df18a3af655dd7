"""A gift's used and remaining fen (``donation.domain.figures``): goods per unit delivered."""

from __future__ import annotations

import pytest

from donation.domain.figures import goods_used_fen, goods_written_off_fen, remaining_fen

QUILTS = [("QUILT", 10, 120_000)]  # ¥120 a quilt


@pytest.mark.parametrize(
    ("delivered", "used"),
    [
        ({}, 0),
        ({"QUILT": 1}, 12_000),
        ({"QUILT": 4}, 48_000),
        ({"QUILT": 10}, 120_000),
        ({"QUILT": 12}, 120_000),  # never more than the pledged quantity counts
        ({"TENT": 3}, 0),  # an item the gift did not list counts nothing
    ],
)
def test_goods_are_used_per_unit_delivered(delivered: dict[str, int], used: int) -> None:
    assert goods_used_fen(QUILTS, delivered, cap_fen=120_000) == used


def test_lines_of_one_item_are_one_pool_and_nothing_is_lost_to_rounding() -> None:
    lines = [("WATER", 3, 1_000), ("WATER", 3, 1_001), ("RICE", 7, 10_000)]
    assert goods_used_fen(lines, {"WATER": 6, "RICE": 7}, cap_fen=10**9) == 12_001
    assert goods_used_fen(lines, {"WATER": 1}, cap_fen=10**9) == 333  # floor of 2001 / 6
    assert goods_used_fen(lines, {"RICE": 3}, cap_fen=10**9) == 4_285


def test_never_more_than_the_gift_is_worth() -> None:
    assert goods_used_fen(QUILTS, {"QUILT": 10}, cap_fen=100_000) == 100_000


@pytest.mark.parametrize(
    ("kind", "status", "expected"),
    [
        ("money", "allocated", 40_000),
        ("money", "cancelled", 0),
        ("goods", "cancelled", 0),
        ("goods", "used", 40_000),
        ("goods", "completed", 0),
        ("money", "refunded", 0),
    ],
)
def test_remaining(kind: str, status: str, expected: int) -> None:
    refunded = 40_000 if status == "refunded" else 0
    assert (
        remaining_fen(kind, status, amount_fen=100_000, used_fen=60_000, refunded_fen=refunded)
        == expected
    )


def test_written_off_units_count_at_the_donors_value_and_never_beyond_what_is_free() -> None:
    lines = [("QUILT", 10, 120_000)]
    # 2 of 10 quilts written off: ¥240 of ¥1,200
    assert (
        goods_written_off_fen(lines, {"QUILT": 2}, amount_fen=120_000, used_fen=0, refunded_fen=0)
        == 24_000
    )
    # never more than what is neither used nor refunded
    assert (
        goods_written_off_fen(
            lines, {"QUILT": 10}, amount_fen=120_000, used_fen=100_000, refunded_fen=0
        )
        == 20_000
    )
    assert (
        remaining_fen(
            "goods",
            "used",
            amount_fen=120_000,
            used_fen=36_000,
            refunded_fen=0,
            written_off_fen=24_000,
        )
        == 60_000
    )
