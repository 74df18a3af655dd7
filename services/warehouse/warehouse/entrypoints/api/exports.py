"""Rows as a CSV or xlsx download: one writer for every export of the preparedness pages.

Both formats go through the CSV-injection guard of :mod:`shared.csv_safe`: a text cell that
starts like a formula (``=`` ``+`` ``-`` ``@`` ...) is written with a ``'`` in front, so neither
Excel nor openpyxl (which would store ``"=..."`` as a formula) runs it.

* CSV: UTF-8 with a BOM (Excel then opens Chinese text correctly), like ``/stock/export.csv``.
* xlsx: one sheet, the headers in bold on the first row (frozen). Numbers stay numbers
  (``int``, ``Decimal``, ``float``), ``date`` stays a date; an aware ``datetime`` is shown in
  Asia/Shanghai (xlsx has no time zones), a UUID or anything else is written as text.

The ``filename`` may be Chinese: the header carries an ASCII fallback and the UTF-8 name
(RFC 6266 / RFC 5987 ``filename*``).
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from shared.csv_safe import SafeWriter, safe_cell
from warehouse.domain.model import SHANGHAI

ExportFormat = Literal["csv", "xlsx"]

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# The OpenAPI of a list that ``format=csv|xlsx`` exports: its 200 may be either file as well
# as the JSON page. Merge it into a route's ``responses``: ``{**raises(...), **EXPORTABLE}``.
EXPORTABLE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
        }
    }
}


def export_response(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    *,
    fmt: ExportFormat,
    filename: str,
) -> Response:
    """``rows`` under ``headers`` as a download named ``filename`` (its extension is set from
    ``fmt``)."""
    stem = filename.rsplit(".", 1)[0] if filename.endswith((".csv", ".xlsx")) else filename
    name = f"{stem}.{fmt}"
    if fmt == "csv":
        body, media_type = csv_bytes(rows, headers), CSV_MEDIA_TYPE
    else:
        body, media_type = xlsx_bytes(rows, headers), XLSX_MEDIA_TYPE
    return Response(
        body, media_type=media_type, headers={"Content-Disposition": content_disposition(name)}
    )


def content_disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    ascii_name = ascii_name.replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


def csv_bytes(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(headers)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(
    rows: Sequence[Sequence[Any]], headers: Sequence[str], *, sheet_title: str = "导出"
) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=safe_cell(header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_dated(sheet, xlsx_cell(value)) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _dated(sheet: Any, value: Any) -> Any:
    """A date or time as a cell with a readable number format (else Excel shows a serial)."""
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "yyyy-mm-dd"
        return cell
    return value


def xlsx_cell(value: Any) -> Any:
    """``value`` as openpyxl should store it: numbers and dates as such, text guarded."""
    if value is None or isinstance(value, (bool, int, float, Decimal)):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(SHANGHAI).replace(tzinfo=None)
    if isinstance(value, date):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    return safe_cell(value)
