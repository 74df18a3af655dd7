from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from shared.ids import CROCKFORD, new_tracking_code, normalize_tracking_code, uuid7


def test_tracking_codes_are_random_grouped_and_checked() -> None:
    codes = {new_tracking_code() for _ in range(2000)}
    assert len(codes) == 2000
    for code in list(codes)[:50]:
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4, 4, 1]
        assert normalize_tracking_code(code) == code


def test_tracking_code_accepts_lowercase_and_confusable_letters() -> None:
    code = new_tracking_code()
    typed = code.lower().replace("-", " ").replace("0", "o").replace("1", "l")
    assert normalize_tracking_code(typed) == code


@given(position=st.integers(min_value=0, max_value=19), replacement=st.sampled_from(CROCKFORD))
def test_a_single_typo_is_detected(position: int, replacement: str) -> None:
    code = new_tracking_code()
    body = code.replace("-", "")
    if body[position] == replacement:
        return
    typo = body[:position] + replacement + body[position + 1 :]
    assert normalize_tracking_code(typo) is None


def test_uuid7_is_version_7_and_time_ordered() -> None:
    ids = [uuid7() for _ in range(200)]
    assert all(isinstance(i, uuid.UUID) and i.version == 7 for i in ids)
    millis = [i.int >> 80 for i in ids]
    assert millis == sorted(millis)
