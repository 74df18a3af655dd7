"""Reconciliation (对账): one gateway's daily statement held against our online gifts.

:func:`match` is pure: it takes the statement's lines and what our books say about the orders
of that channel (those paid that day, and any other the statement names) and returns the
differences. Money is integer fen throughout.

- a payment line with no paid order of ours (unknown, still pending or closed, or paid with
  another trade number), or a second payment line for the same order → ``paid_no_gift``;
- a payment line whose amount is not what the order was paid → ``amount_differs``;
- an order of ours paid that day that the statement does not show → ``gift_not_paid``;
- the refund lines of an order whose sum exceeds what our books refunded of its gift (or of an
  order we have no gift for) → ``refund_unmatched``. Only "exceeds" can be told from one day's
  statement: refunds of other days also count in the gift's refunded total.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from donation.domain.payments import StatementLine

FindingKind = Literal["paid_no_gift", "gift_not_paid", "amount_differs", "refund_unmatched"]
FINDING_KINDS: tuple[FindingKind, ...] = (
    "paid_no_gift",
    "gift_not_paid",
    "amount_differs",
    "refund_unmatched",
)


@dataclass(frozen=True)
class OurPayment:
    """What our books say about one online order of the channel."""

    out_trade_no: str
    transaction_id: str | None
    paid_fen: int | None  # None unless the order is paid
    donation_id: uuid.UUID | None
    paid_that_day: bool  # paid on the statement's day (Asia/Shanghai)
    refunded_fen: int = 0  # what the gift's refunds total in our books


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    out_trade_no: str
    transaction_id: str | None
    statement_fen: int | None
    our_fen: int | None
    donation_id: uuid.UUID | None = None

    @property
    def key(self) -> tuple[str, str, str | None, int | None, int | None]:
        """What makes two findings the same (a rerun finds the same ones again)."""
        return (self.kind, self.out_trade_no, self.transaction_id, self.statement_fen, self.our_fen)


@dataclass(frozen=True)
class MatchResult:
    findings: list[Finding]
    lines: int  # statement lines read
    matched: int  # statement lines that agree with our books


def match(lines: Sequence[StatementLine], ours: Iterable[OurPayment]) -> MatchResult:
    by_trade: dict[str, OurPayment] = {}
    by_transaction: dict[str, OurPayment] = {}
    for one in ours:
        by_trade[one.out_trade_no] = one
        if one.transaction_id:
            by_transaction[one.transaction_id] = one

    def ours_of(line: StatementLine) -> OurPayment | None:
        return by_trade.get(line.out_trade_no) or by_transaction.get(line.transaction_id)

    findings: list[Finding] = []
    matched = 0
    seen: set[str] = set()  # our orders a payment line accounted for
    refunds: dict[str, list[StatementLine]] = {}
    for line in lines:
        if line.kind == "refund":
            refunds.setdefault(line.out_trade_no, []).append(line)
            continue
        payment = ours_of(line)
        paid = payment is not None and payment.paid_fen is not None
        same_trade = (
            payment is not None
            and paid
            and (not payment.transaction_id or payment.transaction_id == line.transaction_id)
        )
        if payment is None or not same_trade or payment.out_trade_no in seen:
            findings.append(
                Finding(
                    "paid_no_gift",
                    line.out_trade_no,
                    line.transaction_id,
                    line.amount_fen,
                    None,
                    payment.donation_id if payment is not None and paid else None,
                )
            )
            continue
        seen.add(payment.out_trade_no)
        if payment.paid_fen != line.amount_fen:
            findings.append(
                Finding(
                    "amount_differs",
                    line.out_trade_no,
                    line.transaction_id,
                    line.amount_fen,
                    payment.paid_fen,
                    payment.donation_id,
                )
            )
            continue
        matched += 1

    for payment in by_trade.values():
        if (
            payment.paid_that_day
            and payment.paid_fen is not None
            and payment.out_trade_no not in seen
        ):
            findings.append(
                Finding(
                    "gift_not_paid",
                    payment.out_trade_no,
                    payment.transaction_id,
                    None,
                    payment.paid_fen,
                    payment.donation_id,
                )
            )

    for out_trade_no, refund_lines in refunds.items():
        refunded = ours_of(refund_lines[0])
        total = sum(line.amount_fen for line in refund_lines)
        if refunded is None or refunded.donation_id is None or total > refunded.refunded_fen:
            findings.append(
                Finding(
                    "refund_unmatched",
                    out_trade_no,
                    refund_lines[0].transaction_id,
                    total,
                    refunded.refunded_fen if refunded is not None else None,
                    refunded.donation_id if refunded is not None else None,
                )
            )
        else:
            matched += len(refund_lines)

    return MatchResult(findings, len(lines), matched)
