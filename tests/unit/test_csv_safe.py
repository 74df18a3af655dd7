"""shared.csv_safe: text that a spreadsheet would run as a formula is written as text;
numbers stay numbers, whatever their sign."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.csv_safe import SafeDictWriter, SafeWriter, safe_cell

FORMULAS = [
    '=HYPERLINK("http://x","y")',
    "=1+2",
    "+1+2",
    "-1+2",
    "-5",  # text that looks like a number is still text
    "@SUM(A1:A2)",
    "\t=1+2",
    "\r=1+2",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_like_text_cell_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "text", ["王某 捐款 ¥500.00", "", "a=1", "合计 total", "'=already quoted", " =1", "1-2"]
)
def test_other_text_is_unchanged(text: str) -> None:
    assert safe_cell(text) == text


@pytest.mark.parametrize("number", [0, 5, -5, -120, 10**15, -1.5, Decimal("-88.00"), True])
def test_numbers_stay_numbers_negative_ones_too(number: Any) -> None:
    assert safe_cell(number) is number


def test_none_stays_the_empty_cell_and_other_values_are_checked_as_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "=cmd|' /C calc'!A0"

    assert safe_cell(None) is None
    at = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert safe_cell(at) == str(at)
    some = uuid.uuid4()
    assert safe_cell(some) == str(some)
    assert safe_cell(Odd()) == "'=cmd|' /C calc'!A0"


def read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_the_writer_neutralises_every_cell_and_keeps_numbers() -> None:
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\n")
    writer.writerow(["name", "delta"])
    writer.writerows([['=HYPERLINK("http://x","y")', -3], ["米 10kg", 4], [None, Decimal("-1.50")]])
    assert read(out.getvalue()) == [
        ["name", "delta"],
        ['\'=HYPERLINK("http://x","y")', "-3"],
        ["米 10kg", "4"],
        ["", "-1.50"],
    ]


def test_the_dict_writer_neutralises_rows_written_one_by_one_and_in_bulk() -> None:
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=["key", "fen"], lineterminator="\n")
    writer.writeheader()
    writer.writerow({"key": "-1+2", "fen": -200})
    writer.writerows([{"key": "@x", "fen": 0}, {"key": "ok", "fen": 1}])
    assert out.getvalue() == "key,fen\n'-1+2,-200\n'@x,0\nok,1\n"
