"""The gift state machine: legal moves, illegal ones named, derived statuses."""

from __future__ import annotations

import pytest

from donation.domain.lifecycle import (
    TRANSITIONS,
    IllegalTransition,
    can_move,
    check_move,
    goods_status,
    money_status_after_use,
    receipt_allowed,
    status_after_receipt,
    status_after_void,
)
from donation.domain.model import DonationStatus as S
from donation.service_layer.projects import add_months, disclosure_due


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PLEDGED, S.RECEIVED),
        (S.PLEDGED, S.CANCELLED),
        (S.RECEIVED, S.RECEIPTED),
        (S.RECEIVED, S.CANCELLED),
        (S.RECEIVED, S.REFUNDED),
        (S.RECEIPTED, S.ALLOCATED),
        (S.RECEIPTED, S.IN_STOCK),
        (S.RECEIPTED, S.REFUNDED),
        (S.ALLOCATED, S.USED),
        (S.ALLOCATED, S.REFUNDED),
        (S.IN_STOCK, S.USED),
        (S.USED, S.COMPLETED),
    ],
)
def test_legal_moves(current: S, target: S) -> None:
    assert can_move(current, target)
    check_move(current, target, "test")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PLEDGED, S.RECEIPTED),
        (S.PLEDGED, S.REFUNDED),
        (S.RECEIPTED, S.CANCELLED),  # void the receipt first
        (S.USED, S.REFUNDED),
        (S.COMPLETED, S.CANCELLED),
        (S.CANCELLED, S.RECEIVED),
        (S.REFUNDED, S.CANCELLED),
        (S.RECEIVED, S.PLEDGED),
    ],
)
def test_illegal_moves_name_the_current_state(current: S, target: S) -> None:
    assert not can_move(current, target)
    with pytest.raises(IllegalTransition) as caught:
        check_move(current, target, "做点什么")
    assert str(current) in str(caught.value)
    assert caught.value.current == current


def test_terminal_states_have_no_way_out() -> None:
    for terminal in (S.COMPLETED, S.CANCELLED, S.REFUNDED):
        assert TRANSITIONS[terminal] == frozenset()
    assert not can_move("bogus", S.RECEIVED)


def test_receipts() -> None:
    assert not receipt_allowed(S.PLEDGED)
    assert not receipt_allowed(S.CANCELLED)
    assert receipt_allowed(S.IN_STOCK)
    assert status_after_receipt(S.RECEIVED) == S.RECEIPTED
    assert status_after_receipt(S.IN_STOCK) == S.IN_STOCK
    assert status_after_void(S.RECEIPTED) == S.RECEIVED
    assert status_after_void(S.ALLOCATED) == S.ALLOCATED


def test_money_use() -> None:
    assert money_status_after_use(S.RECEIPTED, amount_fen=100, used_fen=40) == S.ALLOCATED
    assert money_status_after_use(S.RECEIVED, amount_fen=100, used_fen=100) == S.USED
    assert money_status_after_use(S.ALLOCATED, amount_fen=100, used_fen=100) == S.USED


def test_goods_progress() -> None:
    assert goods_status(S.RECEIVED, total=10, in_stock=10, distributed=0) == S.IN_STOCK
    assert goods_status(S.IN_STOCK, total=10, in_stock=10, distributed=4) == S.USED
    assert goods_status(S.USED, total=10, in_stock=10, distributed=10) == S.COMPLETED
    assert goods_status(S.CANCELLED, total=10, in_stock=10, distributed=10) == S.CANCELLED
    assert goods_status(S.RECEIPTED, total=10, in_stock=0, distributed=0) == S.RECEIPTED
    # 10 given, 8 accepted into stock (2 arrived damaged): distributing the 8 completes it
    assert goods_status(S.USED, total=10, in_stock=8, distributed=8) == S.COMPLETED
    assert goods_status(S.USED, total=10, in_stock=8, distributed=7) == S.USED
    # of the 8 in stock, 1 written off later: 7 delivered completes it
    assert goods_status(S.USED, total=10, in_stock=8, distributed=7, written_off=1) == S.COMPLETED


@pytest.mark.parametrize(
    ("end", "due"),
    [
        ("2026-10-31", "2027-01-31"),
        ("2026-11-30", "2027-02-28"),
        ("2027-11-30", "2028-02-29"),
        ("2026-03-15", "2026-06-15"),
    ],
)
def test_disclosure_due_is_three_months_after_the_end(end: str, due: str) -> None:
    from datetime import date

    assert disclosure_due(date.fromisoformat(end)) == date.fromisoformat(due)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
