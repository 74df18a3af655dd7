"""CSV cells a spreadsheet cannot run (CSV or formula injection, OWASP).

A text cell that starts with ``=`` ``+`` ``-`` ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Sheets as a formula (``=HYPERLINK(...)``, ``-1+2``). Such a cell is
written with a single quote in front (``'=HYPERLINK(...)``), so it shows as the text it is.

Numbers are recognised by type, not by look: ``int``, ``float`` and ``Decimal`` values (fen
amounts, quantities, the negative deltas of corrections) are written as they are, while text
is always text, even when it looks like a number (``"-5"`` becomes ``'-5``). A producer that
formats a number itself hands it over as a ``Decimal``. Every other value (dates, UUIDs,
``None`` as the empty cell) is written as ``csv`` writes it, checked as text.

Every CSV the services write goes through :class:`SafeWriter` or :class:`SafeDictWriter`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBERS = (int, float, Decimal)  # bool is an int: written as True/False, harmless


def safe_cell(value: Any) -> Any:
    """``value`` as a cell no spreadsheet evaluates: numbers and ``None`` unchanged, text
    starting like a formula prefixed with ``'``."""
    if value is None or isinstance(value, NUMBERS):
        return value
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, file: Any, **fmtparams: Any) -> None:
        self._writer = csv.writer(file, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter:
    """``csv.DictWriter`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, file: Any, fieldnames: Sequence[str], **options: Any) -> None:
        self._writer = csv.DictWriter(file, fieldnames=fieldnames, **options)

    def writeheader(self) -> Any:
        return self._writer.writeheader()  # our own column names: nothing to neutralise

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return self._writer.writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for rowdict in rowdicts:
            self.writerow(rowdict)
