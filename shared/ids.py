"""Identifiers: time-ordered UUIDs and human-typeable public tracking codes."""

from __future__ import annotations

import os
import secrets
import time
import uuid

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CHECK_SYMBOLS = CROCKFORD + "*~$=U"  # Crockford's mod-37 check symbols
_DECODE = {c: i for i, c in enumerate(CROCKFORD)} | {"O": 0, "I": 1, "L": 1}

TRACKING_BITS = 100  # 20 base32 characters of randomness (spec asks for at least 80 bits)


def uuid7() -> uuid.UUID:
    """RFC 9562 UUIDv7: 48-bit unix milliseconds, then random bits. Index friendly."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def new_tracking_code() -> str:
    """A random code like ``7K3Q-M9XD-2HBW-R4TN-8FJC-V``: 100 random bits and a check symbol."""
    number = secrets.randbits(TRACKING_BITS)
    chars = []
    for _ in range(TRACKING_BITS // 5):
        chars.append(CROCKFORD[number & 31])
        number >>= 5
    body = "".join(reversed(chars))
    check = _check_symbol(body)
    groups = [body[i : i + 4] for i in range(0, len(body), 4)]
    return "-".join(groups) + "-" + check


def _check_symbol(body: str) -> str:
    value = 0
    for char in body:
        value = value * 32 + _DECODE[char]
    return _CHECK_SYMBOLS[value % 37]


def normalize_tracking_code(raw: str) -> str | None:
    """Canonical form of a typed code (case, spaces, O/I/L confusions), or None if invalid."""
    cleaned = raw.strip().upper().replace("-", "").replace(" ", "")
    if len(cleaned) != TRACKING_BITS // 5 + 1:
        return None
    body, check = cleaned[:-1], cleaned[-1]
    if check in _DECODE:
        check = CROCKFORD[_DECODE[check]]
    try:
        body = "".join(CROCKFORD[_DECODE[c]] for c in body)
    except KeyError:
        return None
    if check not in _CHECK_SYMBOLS or _check_symbol(body) != check:
        return None
    groups = [body[i : i + 4] for i in range(0, len(body), 4)]
    return "-".join(groups) + "-" + check
