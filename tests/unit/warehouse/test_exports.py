"""The rows→CSV/xlsx writer: formula-like text neutralised, numbers stay numbers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from openpyxl import load_workbook

from warehouse.entrypoints.api.exports import csv_bytes, export_response, xlsx_bytes


def test_csv_has_a_bom_and_guards_formula_text() -> None:
    body = csv_bytes([['=HYPERLINK("x")', -5, Decimal("1.50")]], ["名称", "数量", "月均"])
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows == [["名称", "数量", "月均"], ['\'=HYPERLINK("x")', "-5", "1.50"]]


def test_xlsx_keeps_numbers_and_dates_and_guards_text() -> None:
    lot_id = uuid.uuid4()
    at = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 on 2 March in Shanghai
    body = xlsx_bytes(
        [["+cmd", 7, Decimal("2.25"), date(2026, 5, 1), at, lot_id, None]],
        ["物资", "数量", "月均", "效期", "时间", "批次", "备注"],
    )
    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("物资", "数量", "月均", "效期", "时间", "批次", "备注")
    text, quantity, amc, expiry, when, lot, empty = rows[1]
    assert text == "'+cmd"
    assert quantity == 7
    assert isinstance(quantity, int)
    assert amc == 2.25
    assert expiry == datetime(2026, 5, 1)
    assert when == datetime(2026, 3, 2, 0, 30)
    assert lot == str(lot_id)
    assert empty is None


def test_export_response_names_the_file_in_utf8() -> None:
    response = export_response([[1]], ["a"], fmt="csv", filename="建议.xlsx")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="__.csv"')
    assert "filename*=UTF-8''%E5%BB%BA%E8%AE%AE.csv" in disposition
    assert response.media_type == "text/csv; charset=utf-8"
