"""The staff password policy (donation.domain.passwords): at least 10 characters, not only
digits, not containing the user name, not a common password; generated initial passwords pass
it."""

from __future__ import annotations

import pytest

from donation.domain.passwords import MIN_LENGTH, generate_initial_password, password_problems


@pytest.mark.parametrize(
    "password",
    ["Pingan-Fenghua-2026", "溪口镇的水蜜桃最甜了啊", "correct horse battery", "a" * MIN_LENGTH],
    ids=["mixed", "chinese", "passphrase", "exactly-min-length"],
)
def test_acceptable(password: str) -> None:
    assert password_problems(password, "keeper-xk") == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Short-1", "至少 10 个字符"),
        ("a" * (MIN_LENGTH - 1), "至少 10 个字符"),
        ("20261207123456", "不能全是数字"),
        ("keeper-xk-2026", "不能包含用户名"),
        ("2026-KEEPER-XK!", "不能包含用户名"),
        ("Password123", "过于常见"),
        ("QWERTYUIOP", "过于常见"),
        (" leading-space-pw", "首尾不能是空白"),
        ("x" * 129, "最多 128 个字符"),
    ],
    ids=[
        "short",
        "one-below-min",
        "digits",
        "user-name",
        "user-name-any-case",
        "common",
        "common-any-case",
        "leading-space",
        "too-long",
    ],
)
def test_refused(password: str, expected: str) -> None:
    problems = password_problems(password, "keeper-xk")
    assert any(expected in p for p in problems), problems
    assert all(" (" in p and p.endswith(")") for p in problems)  # 中文 (English)


def test_every_problem_is_named() -> None:
    assert len(password_problems("1234567", "x")) == 2  # short and only digits


def test_generated_initial_passwords_meet_the_policy() -> None:
    seen = {generate_initial_password("keeper-xk") for _ in range(50)}
    assert len(seen) == 50
    assert all(password_problems(p, "keeper-xk") == [] for p in seen)
