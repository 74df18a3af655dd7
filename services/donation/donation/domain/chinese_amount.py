"""An amount in fen written in Chinese financial capitals (人民币大写), as on a receipt (no I/O).

The rules are those of 《支付结算办法》 附件一 «正确填写票据和结算凭证的基本规定»:

* the digits are 零壹贰叁肆伍陆柒捌玖 and the units 拾佰仟万亿元角分整, never 一二三…十 or
  简化字; a 拾 at the head of a number is written 壹拾 (¥10 is 壹拾元整, not 拾元整);
* an amount that stops at 元 ends in 整; one that stops at 角 is written without 整
  (the rule says 整 "可以不写" after 角: ¥0.50 is 伍角, ¥12.30 is 壹拾贰元叁角); one that has
  分 never ends in 整;
* a 0 between non-zero digits is written 零, and a run of several 0s one 零 only
  (¥1,409.50 壹仟肆佰零玖元伍角, ¥6,007.14 陆仟零柒元壹角肆分);
* where the 万 or 元 digit is 0 and a lower digit is not, the rule allows 零 or none; this
  module always writes the one 零 (the choice that leaves no gap to alter):
  ¥100,100.00 壹拾万零壹佰元整, ¥1,680.32 壹仟陆佰捌拾元零叁角贰分;
* where the 角 digit is 0 and the 分 is not, 零 follows 元 (¥325.04 叁佰贰拾伍元零肆分);
* zero is 零元整; trailing zeros of a unit are not written (¥10,000,000 壹仟万元整).

The caller adds the prefix "人民币" where the form does not print it.
"""

from __future__ import annotations

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("仟", "佰", "拾", "")  # the places of a four-digit group, highest first
_GROUPS = ("", "万", "亿")  # the unit of each group, lowest first
MAX_FEN = 10 ** (4 * len(_GROUPS)) * 100 - 1  # ¥9999,9999,9999.99: 万亿 is not written


def amount_in_words(fen: int) -> str:
    """``fen`` (an integer number of 分, never a float) in financial capitals.

    >>> amount_in_words(12345)
    '壹佰贰拾叁元肆角伍分'
    >>> amount_in_words(100005)
    '壹仟元零伍分'

    Raises ``ValueError`` for a negative amount or one of 10^12 yuan or more, ``TypeError``
    for anything but an ``int`` (``bool`` included).
    """
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"amount_in_words takes integer fen, not {type(fen).__name__}")
    if fen < 0:
        raise ValueError(f"an amount in words cannot be negative: {fen} fen")
    if fen > MAX_FEN:
        raise ValueError(f"amount too large for financial capitals: {fen} fen")
    yuan, rest = divmod(fen, 100)
    jiao, fen_digit = divmod(rest, 10)
    if fen == 0:
        return "零元整"

    out: list[str] = []
    if yuan:
        out.append(_integer_words(yuan))
        out.append("元")
    if jiao == 0 and fen_digit == 0:
        out.append("整")
        return "".join(out)
    if jiao:
        if yuan and yuan % 10 == 0:
            out.append("零")  # the 元 digit is 0 and a 角 follows: ¥1,680.32
        out.append(DIGITS[jiao] + "角")
    elif yuan:
        out.append("零")  # 角 is 0 and 分 is not: ¥325.04 叁佰贰拾伍元零肆分
    if fen_digit:
        out.append(DIGITS[fen_digit] + "分")
    return "".join(out)


def _integer_words(n: int) -> str:
    """A positive whole number of yuan in capitals, one 零 per run of inner zeros."""
    digits = str(n)
    width = -(-len(digits) // 4) * 4
    digits = digits.rjust(width, "0")
    groups = [digits[i : i + 4] for i in range(0, width, 4)]
    out: list[str] = []
    zero_pending = False
    for index, group in enumerate(groups):
        group_unit = _GROUPS[len(groups) - 1 - index]
        if group == "0000":
            if out:
                zero_pending = True
            continue
        for place, ch in enumerate(group):
            d = int(ch)
            if d == 0:
                if out:
                    zero_pending = True
                continue
            if zero_pending:
                out.append("零")
                zero_pending = False
            out.append(DIGITS[d] + _IN_GROUP[place])
        out.append(group_unit)
    return "".join(out)
