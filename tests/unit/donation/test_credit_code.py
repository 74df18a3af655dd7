"""统一社会信用代码 check characters (GB 32100-2015)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donation.domain.credit_code import ALPHABET, check_character, normalise_credit_code

# The sample code printed in GB 32100-2015 and its guides.
KNOWN = ["91350100M000100Y43"]


@pytest.mark.parametrize("code", KNOWN)
def test_published_codes_pass(code: str) -> None:
    assert normalise_credit_code(code) == code


def test_spaces_and_lower_case_are_normalised() -> None:
    assert normalise_credit_code(" 91350100m000 100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("91350100M000100Y4", "18 位"),
        ("91350100M000100Y433", "18 位"),
        ("91350100M000100Y44", "校验位"),
        ("9135010OM000100Y43", "无效字符 O"),
        ("91350100M0001-0Y43", "无效字符 -"),
    ],
)
def test_wrong_codes_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        normalise_credit_code(text)


@given(st.text(alphabet=ALPHABET, min_size=17, max_size=17), st.integers(0, 16), st.data())
def test_one_changed_character_is_always_caught(body: str, at: int, data: st.DataObject) -> None:
    code = body + check_character(body)
    other = data.draw(st.sampled_from([c for c in ALPHABET if c != code[at]]))
    changed = code[:at] + other + code[at + 1 :]
    with pytest.raises(ValueError, match="校验位"):
        normalise_credit_code(changed)
