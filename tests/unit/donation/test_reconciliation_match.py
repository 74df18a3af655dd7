"""The pure matching of a gateway's statement against our books (donation.domain.reconciliation)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from donation.domain.payments import StatementLine
from donation.domain.reconciliation import Finding, OurPayment, match

AT = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
GIFT_A, GIFT_B = uuid.uuid4(), uuid.uuid4()


def line(
    out_trade_no: str,
    amount_fen: int,
    transaction_id: str | None = None,
    kind: Literal["payment", "refund"] = "payment",
) -> StatementLine:
    return StatementLine(
        kind=kind,
        out_trade_no=out_trade_no,
        transaction_id=transaction_id or f"T-{out_trade_no}",
        amount_fen=amount_fen,
        at=AT,
    )


def paid(
    out_trade_no: str,
    fen: int,
    donation_id: uuid.UUID | None = None,
    *,
    that_day: bool = True,
    refunded_fen: int = 0,
) -> OurPayment:
    return OurPayment(
        out_trade_no=out_trade_no,
        transaction_id=f"T-{out_trade_no}",
        paid_fen=fen,
        donation_id=donation_id or uuid.uuid4(),
        paid_that_day=that_day,
        refunded_fen=refunded_fen,
    )


def test_a_statement_that_agrees_has_no_findings() -> None:
    result = match([line("A", 5000), line("B", 800)], [paid("A", 5000), paid("B", 800)])
    assert result.findings == []
    assert (result.lines, result.matched) == (2, 2)


def test_an_empty_day_with_no_gifts_is_clean() -> None:
    result = match([], [])
    assert (result.findings, result.lines, result.matched) == ([], 0, 0)


def test_each_kind_of_difference() -> None:
    lines = [
        line("A", 4999),  # we were paid 5000
        line("X", 300),  # no order of ours
        line("P", 700),  # our order is still pending
    ]
    ours = [
        paid("A", 5000, GIFT_A),
        paid("B", 800, GIFT_B),  # not on the statement
        OurPayment("P", None, None, None, paid_that_day=False),
    ]
    result = match(lines, ours)
    assert sorted(result.findings, key=lambda f: f.out_trade_no) == [
        Finding("amount_differs", "A", "T-A", 4999, 5000, GIFT_A),
        Finding("gift_not_paid", "B", "T-B", None, 800, GIFT_B),
        Finding("paid_no_gift", "P", "T-P", 700, None, None),
        Finding("paid_no_gift", "X", "T-X", 300, None, None),
    ]
    assert (result.lines, result.matched) == (3, 0)


def test_a_gift_paid_another_day_is_not_missing_from_this_day() -> None:
    result = match([], [paid("A", 5000, that_day=False)])
    assert result.findings == []


def test_matched_by_trade_number_when_our_number_differs() -> None:
    ours = [paid("A", 5000)]
    result = match([line("A-typo", 5000, transaction_id="T-A")], ours)
    assert result.findings == []
    assert result.matched == 1


def test_another_trade_number_or_a_second_line_is_a_payment_without_gift() -> None:
    ours = [paid("A", 5000, GIFT_A)]
    other = match([line("A", 5000, transaction_id="T-other")], ours)
    assert [(f.kind, f.transaction_id) for f in other.findings] == [
        ("paid_no_gift", "T-other"),
        ("gift_not_paid", "T-A"),
    ]
    twice = match([line("A", 5000), line("A", 5000)], ours)
    assert [f.kind for f in twice.findings] == ["paid_no_gift"]
    assert twice.matched == 1


def test_refunds_beyond_what_our_books_refunded() -> None:
    ours = [
        paid("A", 5000, GIFT_A, that_day=False, refunded_fen=2000),
        paid("B", 800, GIFT_B, that_day=False, refunded_fen=0),
    ]
    lines = [
        line("A", 1500, kind="refund"),
        line("A", 500, kind="refund"),  # 2000 in all: what we booked
        line("B", 800, kind="refund"),  # we booked none
        line("Z", 100, kind="refund"),  # not ours
    ]
    result = match(lines, ours)
    assert result.findings == [
        Finding("refund_unmatched", "B", "T-B", 800, 0, GIFT_B),
        Finding("refund_unmatched", "Z", "T-Z", 100, None, None),
    ]
    assert (result.lines, result.matched) == (4, 2)


def test_a_finding_found_again_has_the_same_key() -> None:
    first = match([line("A", 1)], [paid("A", 2, GIFT_A)]).findings
    again = match([line("A", 1)], [paid("A", 2, GIFT_A)]).findings
    assert [f.key for f in first] == [f.key for f in again]
