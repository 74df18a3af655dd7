"""A recipient's identity number, kept only as a keyed fingerprint and its last 4 characters.

The recipients register (issue 17) must recognise the same person twice (repeat receipts)
without storing the number. A plain hash of an 18-character 居民身份证号码 is no protection:
there are only ~10^11 plausible numbers (region × birth date × sequence), so an unkeyed
SHA-256 is reversed by enumeration in hours. The fingerprint is therefore an HMAC-SHA256 keyed
with a secret that lives outside the database; without the key a stolen table links nothing.

居民身份证号码 (GB 11643-1999): 17 digits and a check character, ISO 7064 MOD 11-2 — the
weights are 2^(17−i) mod 11 and the check value (12 − Σ mod 11) mod 11, written X for 10.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date

WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
CHECK = "10X98765432"  # the check character for Σ mod 11 = 0, 1, …, 10
MIN_KEY_BYTES = 32


def check_character(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK[total % 11]


def normalise_resident_id(text: str) -> str:
    """The number without spaces, x in capitals; ``ValueError`` saying what is wrong otherwise."""
    number = "".join(text.split()).upper()
    if len(number) != 18:
        raise ValueError(f"身份证号码应为 18 位，收到 {len(number)} 位 (must be 18 characters)")
    if not number[:17].isascii() or not number[:17].isdigit():
        raise ValueError("身份证号码前 17 位应为数字 (the first 17 characters must be digits)")
    if not (number[17].isdigit() or number[17] == "X"):
        raise ValueError("身份证号码末位应为数字或 X (the last character is a digit or X)")
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError(
            f"身份证号码中的出生日期 {number[6:14]} 无效 (the birth date is not a date)"
        ) from None
    if check_character(number[:17]) != number[17]:
        raise ValueError("身份证号码校验位不符，请核对 (the check character does not match)")
    return number


@dataclass(frozen=True)
class IdentityFingerprint:
    """What the register stores of an identity number: never the number itself."""

    digest: str  # hex HMAC-SHA256 of the normalised number under the register's key
    last4: str  # shown to staff to tell two people apart (e.g. ****1234)


def fingerprint(number: str, key: bytes) -> IdentityFingerprint:
    """The keyed fingerprint of a normalised resident identity number."""
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the fingerprint key must have at least {MIN_KEY_BYTES} bytes")
    digest = hmac.new(key, number.encode("ascii"), hashlib.sha256).hexdigest()
    return IdentityFingerprint(digest=digest, last4=number[-4:])
