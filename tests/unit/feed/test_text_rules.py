"""The text rules (``notification.domain.text``), pinned to the byte: feed titles and data are
built with them and hashed into the signed log, so any change to an output here is a change
of the entries a rebuild produces."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notification.domain.text import (
    mask_person,
    public_donor,
    scrub_text,
    shanghai,
    yuan_plain,
    yuan_with_symbol,
)


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (-5, "-0.05"),
        (100, "1.00"),
        (-100, "-1.00"),
        (123456, "1,234.56"),
        (-123456, "-1,234.56"),
        (100000000, "1,000,000.00"),
    ],
)
def test_yuan_plain_is_the_signed_figure_without_a_currency_sign(fen: int, shown: str) -> None:
    assert yuan_plain(fen) == shown


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (0, "¥0.00"),
        (5, "¥0.05"),
        (100, "¥1.00"),
        (240000, "¥2,400.00"),
        (123456, "¥1,234.56"),
        (100000000, "¥1,000,000.00"),
    ],
)
def test_yuan_with_symbol_puts_the_yuan_sign_first(fen: int, shown: str) -> None:
    assert yuan_with_symbol(fen) == shown


@given(st.integers(min_value=0, max_value=10**15))
def test_the_two_yuan_formats_differ_only_by_the_yuan_sign(fen: int) -> None:
    assert yuan_with_symbol(fen) == "¥" + yuan_plain(fen)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "联系 13812345678 或 wang@example.com，身份证 33028319851231567X，金额 300000",
            "联系 [已隐去] 或 [已隐去]，身份证 [已隐去]，金额 300000",
        ),
        ("+86 13912345678", "[已隐去]"),
        ("86-13912345678", "[已隐去]"),
        ("33028319851231567x", "[已隐去]"),
        ("a.b+c@mail.example.org.cn", "[已隐去]"),
        ("电话138123456789", "电话138123456789"),  # twelve digits: not a mobile number
        ("12812345678", "12812345678"),  # no mobile number starts with 12
        ("", ""),
    ],
)
def test_scrub_text(text: str, scrubbed: str) -> None:
    assert scrub_text(text) == scrubbed


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("李秀英", "李*"),
        ("  李秀英 ", "李*"),
        ("欧阳明月", "欧*"),
        ("J", "J*"),
        ("张*丰", "张*丰"),  # masked by the producer already
        ("王某", "王某"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_mask_person(name: str, masked: str) -> None:
    assert mask_person(name) == masked


@pytest.mark.parametrize(
    ("display", "display_name", "donor_type", "shown"),
    [
        ("surname", "王建国", "individual", "王某"),
        ("surname", " 王建国 ", "individual", "王某"),
        ("surname", "王某", "individual", "王某"),
        ("surname", "", "individual", "爱心人士某"),
        ("surname", "溪口镇商会", "organization", "溪口镇商会"),
        ("named", "溪口镇商会", "organization", "溪口镇商会"),
        ("named", " 李* ", "individual", "李*"),
        ("anonymous", "", "individual", "匿名"),
        ("anonymous", "  ", "organization", "匿名"),
        ("anonymous", "匿名", "individual", "匿名"),
    ],
)
def test_public_donor(display: str, display_name: str, donor_type: str, shown: str) -> None:
    assert public_donor(display, display_name, donor_type) == shown


def test_shanghai_is_the_wall_clock_in_china() -> None:
    assert shanghai(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == "2026-03-02 00:30"
