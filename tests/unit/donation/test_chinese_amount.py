"""Amounts in Chinese financial capitals (``donation.domain.chinese_amount``): the rules of
《支付结算办法》 for 零 and 整, worked by hand, and a round trip through an inverse parser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donation.domain.chinese_amount import MAX_FEN, amount_in_words

DIGIT = {ch: i for i, ch in enumerate("零壹贰叁肆伍陆柒捌玖")}
PLACE = {"拾": 10, "佰": 100, "仟": 1000}


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (0, "零元整"),
        (1, "壹分"),
        (5, "伍分"),
        (50, "伍角"),  # stops at 角: no 整
        (55, "伍角伍分"),
        (100, "壹元整"),
        (105, "壹元零伍分"),  # 角 is 0, 分 is not: 零 after 元
        (1_000, "壹拾元整"),  # a leading 拾 is written 壹拾
        (1_050, "壹拾元零伍角"),  # the 元 digit is 0, a 角 follows: one 零
        (1_230, "壹拾贰元叁角"),
        (10_000, "壹佰元整"),
        (10_100, "壹佰零壹元整"),
        (12_345, "壹佰贰拾叁元肆角伍分"),
        (100_005, "壹仟元零伍分"),  # several 0s: one 零
        (140_950, "壹仟肆佰零玖元伍角"),  # the examples of the rule itself
        (600_714, "陆仟零柒元壹角肆分"),
        (168_032, "壹仟陆佰捌拾元零叁角贰分"),
        (32_504, "叁佰贰拾伍元零肆分"),
        (1_640_902, "壹万陆仟肆佰零玖元零贰分"),
        (10_700_053, "壹拾万零柒仟元零伍角叁分"),
        (10_010_000, "壹拾万零壹佰元整"),
        (11_000_000, "壹拾壹万元整"),
        (1_000_000_000, "壹仟万元整"),  # trailing zeros of a unit are not written
        (1_000_100_000, "壹仟万零壹仟元整"),
        (1_0000_0000_00, "壹亿元整"),
        (1_0000_0001_00, "壹亿零壹元整"),
        (1_0100_0000_00, "壹亿零壹佰万元整"),
        (1_1000_0000_00, "壹亿壹仟万元整"),
        (20_0003_0000_00, "贰拾亿零叁万元整"),
        (MAX_FEN, "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ],
)
def test_hand_worked_amounts(fen: int, words: str) -> None:
    assert amount_in_words(fen) == words


def test_a_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        amount_in_words(-1)


def test_an_amount_beyond_the_units_is_refused() -> None:
    with pytest.raises(ValueError, match="too large"):
        amount_in_words(MAX_FEN + 1)


@pytest.mark.parametrize("bad", [1.5, True, "100"])
def test_only_integer_fen(bad: object) -> None:
    with pytest.raises(TypeError):
        amount_in_words(bad)  # type: ignore[arg-type]


def parse_words(words: str) -> int:
    """The inverse: financial capitals back to fen (as a reader of the receipt would)."""
    if words.endswith("整"):
        words = words[:-1]
    fen = 0
    if "元" in words:
        whole, _, small = words.partition("元")
        fen += _parse_whole(whole) * 100
    else:
        small = words
    small = small.removeprefix("零")
    if "角" in small:
        jiao, _, small = small.partition("角")
        fen += DIGIT[jiao] * 10
    if small:
        assert small.endswith("分"), small
        fen += DIGIT[small[:-1]]
    return fen


def _parse_whole(text: str) -> int:
    if text == "零":
        return 0
    total = 0
    if "亿" in text:
        head, _, text = text.partition("亿")
        total += _parse_section(head) * 10**8
    if "万" in text:
        head, _, text = text.partition("万")
        total += _parse_section(head) * 10**4
    return total + _parse_section(text)


def _parse_section(text: str) -> int:
    """Up to 9999, e.g. 壹仟零伍 or 玖佰玖拾玖; a 零 only marks a gap."""
    value, digit = 0, None
    for ch in text:
        if ch in DIGIT:
            digit = DIGIT[ch]
        elif ch in PLACE:
            assert digit, f"a place without its digit in {text!r}"
            value += digit * PLACE[ch]
            digit = None
        else:
            raise AssertionError(f"unexpected {ch!r} in {text!r}")
    return value + (digit or 0)


def test_the_parser_reads_the_hand_worked_cases() -> None:
    assert parse_words("壹拾万零壹佰元整") == 10_010_000
    assert parse_words("壹元零伍分") == 105
    assert parse_words("伍角") == 50


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_the_words_read_back_to_the_same_amount(fen: int) -> None:
    words = amount_in_words(fen)
    assert parse_words(words) == fen
    assert "零零" not in words  # a run of zeros is one 零
    assert not words.endswith("零")
    assert words.endswith("整") == (fen % 100 == 0)  # 整 exactly when there are no 角 and 分
    assert set(words) <= set("零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整")
