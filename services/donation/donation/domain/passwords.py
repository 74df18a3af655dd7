"""The password policy of staff accounts, and initial passwords an admin hands out.

A password is refused when it is shorter than :data:`MIN_LENGTH` characters, made only of
digits, equal to or containing the user name (case ignored), or one of a small list of common
passwords. The rules are deliberately few (NIST SP 800-63B: length and a block list, no
composition rules); argon2 does the rest.
"""

from __future__ import annotations

import secrets
import unicodedata

MIN_LENGTH = 10
MAX_LENGTH = 128

# Common passwords of at least MIN_LENGTH characters (shorter ones fail on length anyway),
# compared case-insensitively, and a few of this system's own words.
COMMON = frozenset(
    {
        "1234567890",
        "0123456789",
        "1111111111",
        "123456789a",
        "a123456789",
        "qwertyuiop",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "qwerty123456",
        "password123",
        "password1234",
        "passw0rd123",
        "iloveyou123",
        "abc1234567",
        "abcd123456",
        "aa12345678",
        "woaini1314",
        "woaini520520",
        "5201314520",
        "admin12345",
        "admin123456",
        "administrator",
        "changeme123",
        "welcome123",
        "letmein123",
        "p@ssw0rd123",
        "sunshine123",
        "redcross123",
        "fenghua123",
        "hongshizihui",
    }
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with ``password`` for the account ``username`` (none: acceptable), each
    as "中文 (English)"."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(
            f"密码至少 {MIN_LENGTH} 个字符 (a password has at least {MIN_LENGTH} characters)"
        )
    if len(password) > MAX_LENGTH:
        problems.append(
            f"密码最多 {MAX_LENGTH} 个字符 (a password has at most {MAX_LENGTH} characters)"
        )
    if password.isdigit():
        problems.append("密码不能全是数字 (a password may not be only digits)")
    folded, name = _fold(password), _fold(username).strip()
    if name and name in folded:
        problems.append("密码不能包含用户名 (a password may not contain the user name)")
    if folded in COMMON:
        problems.append("密码过于常见 (this password is too common)")
    if password != password.strip():
        problems.append("密码首尾不能是空白 (a password may not begin or end with white space)")
    return problems


# No 0/O, 1/l/I: an initial password is read out or copied by a person.
_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def generate_initial_password(username: str, length: int = 14) -> str:
    """A random initial password (about 80 bits) that meets the policy for ``username``; the
    account must change it at its first login."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if not password_problems(candidate, username):
            return candidate
