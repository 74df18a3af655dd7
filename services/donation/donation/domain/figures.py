"""What a gift comes to in fen: used and remaining (no I/O).

A money gift is used by the disbursements that drew on it (``Donation.used_fen``, kept by the
allocation). A goods gift is used per unit delivered: each unit signed for counts with the
value the donor's line gave it (line value ÷ line quantity), so a gift of 10 quilts worth
¥1,000 shows ¥300 used once 3 were signed for, not ¥0 until the last one; once completed
(everything that arrived was handed out) all of it counts as used. Units written off in the
warehouse (damaged, lost, expired) count the same way as written off, not as remaining. A
cancelled gift has nothing remaining, nor has a completed goods gift.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping


def goods_used_fen(
    lines: Iterable[tuple[str, int, int]], delivered: Mapping[str, int], *, cap_fen: int
) -> int:
    """The value of the units of a goods gift delivered so far.

    ``lines`` are the gift's (item code, quantity, value in fen); ``delivered`` the units
    signed for per item code. Lines of the same item are one pool; at most the pledged
    quantity of an item counts, an item the gift did not list counts nothing, and the total
    never exceeds ``cap_fen`` (the gift's value, net of refunds). All units of a line
    delivered count exactly its value (no rounding left behind).
    """
    quantity: dict[str, int] = defaultdict(int)
    value: dict[str, int] = defaultdict(int)
    for code, qty, fen in lines:
        quantity[code] += qty
        value[code] += fen
    used = 0
    for code, units in delivered.items():
        total = quantity.get(code, 0)
        if total <= 0 or units <= 0:
            continue
        used += value[code] * min(units, total) // total
    return max(0, min(used, cap_fen))


def goods_written_off_fen(
    lines: Iterable[tuple[str, int, int]],
    written_off: Mapping[str, int],
    *,
    amount_fen: int,
    used_fen: int,
    refunded_fen: int,
) -> int:
    """The value of the units of a goods gift written off so far (the same per-unit rule as
    :func:`goods_used_fen`), never more than what is neither used nor refunded."""
    free = max(0, amount_fen - used_fen - refunded_fen)
    return goods_used_fen(lines, written_off, cap_fen=free)


def remaining_fen(
    kind: str,
    status: str,
    *,
    amount_fen: int,
    used_fen: int,
    refunded_fen: int,
    written_off_fen: int = 0,
) -> int:
    """What is left of a gift to use: nothing once it is cancelled (or, for goods, completed);
    else its amount less what was used, refunded and (goods) written off."""
    if status == "cancelled" or (kind == "goods" and status == "completed"):
        return 0
    return max(0, amount_fen - used_fen - refunded_fen - written_off_fen)
