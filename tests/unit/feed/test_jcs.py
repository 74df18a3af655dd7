"""RFC 8785 canonical JSON for the values feed entries use."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notification.log.jcs import CanonicalizationError, canonicalize


def test_rfc8785_sorting_example() -> None:
    # RFC 8785 §3.2.3: members sorted by UTF-16 code units
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    names = list(json.loads(canonicalize(value)))
    assert names == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_string_escapes_and_literals() -> None:
    assert canonicalize({"b": [True, False, None], "a": 'q"\\\n\x01\x7f€'}) == (
        '{"a":"q\\"\\\\\\n\\u0001\x7f€","b":[true,false,null]}'.encode()
    )
    assert canonicalize({"amount_fen": -12, "z": {}}) == b'{"amount_fen":-12,"z":{}}'


def test_refuses_what_it_cannot_canonicalize() -> None:
    for bad in (1.5, 2**53, {1: "x"}, "\ud800", object()):
        with pytest.raises(CanonicalizationError):
            canonicalize(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(json_values)
def test_round_trip_and_idempotence(value: object) -> None:
    try:
        first = canonicalize(value)
    except CanonicalizationError:
        return  # lone surrogates from st.text()
    parsed = json.loads(first)
    assert parsed == value
    assert canonicalize(parsed) == first
