"""The recipients register keeps an identity number only as a keyed fingerprint + last 4."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donation.domain.identity_numbers import (
    check_character,
    fingerprint,
    normalise_resident_id,
)

KEY = b"k" * 32
# GB 11643-1999's own worked example: 11010519491231002X
EXAMPLE = "11010519491231002X"


def test_the_standards_example_checks_out_and_is_normalised() -> None:
    # Σ digit × weight over 11010519491231002 = 167; 167 mod 11 = 2 → "X" (hand-worked)
    assert (
        sum(
            int(c) * w
            for c, w in zip(
                EXAMPLE[:17], (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2), strict=True
            )
        )
        == 167
    )
    assert check_character(EXAMPLE[:17]) == "X"
    assert normalise_resident_id(" 110105 19491231 002x ") == EXAMPLE


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1101051949123100", "18 位"),
        ("1101051949123100AX", "前 17 位应为数字"),
        ("11010519491231002Y", "末位"),
        ("110105194902300021", "出生日期"),  # 30 February
        ("110105194912310021", "校验位不符"),
    ],
)
def test_a_wrong_number_is_refused_with_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        normalise_resident_id(text)


def test_the_fingerprint_is_keyed_and_keeps_only_the_last_four() -> None:
    print_a = fingerprint(EXAMPLE, KEY)
    assert print_a.last4 == "002X"
    assert EXAMPLE not in print_a.digest
    # an unkeyed hash of the number (what an attacker would enumerate) is not what is stored
    assert print_a.digest != hashlib.sha256(EXAMPLE.encode()).hexdigest()
    assert fingerprint(EXAMPLE, b"j" * 32).digest != print_a.digest
    assert fingerprint(EXAMPLE, KEY) == print_a
    with pytest.raises(ValueError, match="at least 32 bytes"):
        fingerprint(EXAMPLE, b"short")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_fits_any_seventeen_digits(first17: str) -> None:
    fits = [c for c in "0123456789X" if check_character(first17) == c]
    assert len(fits) == 1
