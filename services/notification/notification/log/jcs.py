"""RFC 8785 JSON Canonicalization Scheme (JCS), for the values feed entries contain.

Entries hold strings, integers, booleans, null, arrays and objects; money is integer fen, so
floats never occur. Floats are refused (rather than risk a subtly different ES6 number
serialisation); integers must be within the I-JSON safe range (|n| < 2**53), as RFC 8785
requires for interoperable numbers.

Rules implemented (RFC 8785 §3.2): no whitespace; object members sorted by their names'
UTF-16 code units; strings serialised as ECMAScript ``JSON.stringify`` does: only ``"``,
``\\`` and control characters below U+0020 are escaped (``\\b \\t \\n \\f \\r`` short forms,
others as ``\\u00xx`` in lower-case hex); everything else, including non-ASCII, as UTF-8.
"""

from __future__ import annotations

from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1

_SHORT = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r"}


class CanonicalizationError(ValueError):
    pass


def _string(value: str) -> str:
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif code < 0x20:
            out.append(_SHORT.get(code, f"\\u{code:04x}"))
        elif 0xD800 <= code <= 0xDFFF:
            raise CanonicalizationError("lone surrogate in string")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be")


def _serialize(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalizationError(f"integer {value} outside the I-JSON safe range")
        out.append(str(value))
    elif isinstance(value, float):
        raise CanonicalizationError("floats are not used in feed entries; use integers")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialize(item, out)
        out.append("]")
    elif isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise CanonicalizationError("object member names must be strings")
        out.append("{")
        for i, key in enumerate(sorted(value, key=_utf16_key)):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _serialize(value[key], out)
        out.append("}")
    else:
        raise CanonicalizationError(f"cannot canonicalize {type(value).__name__}")


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical form of ``value``, as UTF-8 bytes."""
    out: list[str] = []
    _serialize(value, out)
    return "".join(out).encode("utf-8")
