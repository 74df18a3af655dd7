"""The open-data exports (JSON and CSV, with IATI transaction types), encoded a batch at a time.

The exports are streamed: entries are read in keyset batches (``seq`` order) and each batch is
encoded and sent before the next is read, so memory stays bounded by one batch whatever the
size of the feed. The bytes are those of the whole document encoded at once (as FastAPI's
JSONResponse encodes the JSON export, and the CSV with its byte-order mark).
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from notification.log.entry import iso
from notification.service_layer.summary import encode
from shared.csv_safe import SafeDictWriter

EXPORT_FIELDS = (
    "leaf_index",
    "id",
    "kind",
    "title",
    "occurred_at",
    "published_at",
    "project_code",
    "town",
    "incident_ref",
    "corrects",
    "tracking_code_hash",
    "amount_fen",
    "iati_transaction_type",
    "iati_value_cny",
)
JSON_HEAD = {
    "publisher": "奉化区红十字会 Fenghua District Red Cross",
    "iati_transaction_types": {"1": "Incoming Funds", "3": "Disbursement", "4": "Expenditure"},
}
BOM = "\ufeff"  # so spreadsheet programs read the UTF-8 Chinese


REVERSALS = ("disbursement_reversed", "disbursement_corrected")


def iati(row: Any) -> tuple[int | None, int | None]:
    """IATI transaction type and value (fen) of an entry, if it is a transaction.

    1 incoming funds: a money gift (a cancellation or refund of one: negative value);
    3 disbursement: funds passed to an organisation; 4 expenditure: spent for a person (a
    reversal of one: negative value)."""
    data = row.data
    if row.kind == "donation.received" and data.get("donation_kind") == "money":
        return 1, int(data["amount_fen"])
    if row.kind == "donation.refunded" or (
        row.kind == "correction" and data.get("correction") == "cancelled"
    ):
        amount = abs(int(data.get("amount_fen") or 0))
        return (1, -amount) if amount else (None, None)
    if row.kind == "funds.disbursed":
        code = 3 if data.get("recipient_type") == "organization" else 4
        return code, int(data["amount_fen"])
    if row.kind == "correction" and data.get("correction") in REVERSALS:
        # a reversed disbursement: the same transaction type, negative
        code = 3 if data.get("recipient_type") == "organization" else 4
        return code, -abs(int(data.get("amount_fen") or 0))
    return None, None


def export_row(row: Any) -> dict[str, Any]:
    code, value = iati(row)
    amount = row.data.get("amount_fen")
    return {
        "leaf_index": row.leaf_index,
        "id": str(row.id),
        "kind": row.kind,
        "title": row.title,
        "occurred_at": iso(row.occurred_at),
        "published_at": iso(row.published_at),
        "project_code": row.project_code,
        "town": row.town,
        "incident_ref": row.incident_ref,
        "corrects": str(row.corrects_id) if row.corrects_id else None,
        "tracking_code_hash": row.tracking_code_hash,
        "amount_fen": amount if isinstance(amount, int) else None,
        "iati_transaction_type": code,
        "iati_value_cny": f"{value / 100:.2f}" if value is not None else None,
    }


def json_array_stream(
    head: dict[str, Any], key: str, items: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    """``head`` with ``key`` appended as a JSON array of ``items``: the bytes of the whole
    object encoded at once (compact, as FastAPI's JSONResponse), a batch at a time."""

    async def chunks() -> AsyncIterator[bytes]:
        yield encode(head)[:-1] + (b"," if head else b"") + json.dumps(key).encode() + b":["
        separator = b""
        async for batch in items:
            yield separator + b",".join(encode(item) for item in batch)
            separator = b","
        yield b"]}"

    return chunks()


async def json_entries(batches: AsyncIterator[list[Any]]) -> AsyncIterator[list[dict[str, Any]]]:
    async for rows in batches:
        yield [export_row(row) | {"data": row.data} for row in rows]


def json_export(batches: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    return json_array_stream(JSON_HEAD, "entries", json_entries(batches))


def csv_row(row: Any) -> dict[str, Any]:
    """An entry as a CSV row: the JSON export's row, with the value in yuan (a string there,
    ``"-88.00"``) handed to the writer as the number it is, so it is not read as text."""
    cells = export_row(row)
    if cells["iati_value_cny"] is not None:
        cells["iati_value_cny"] = Decimal(cells["iati_value_cny"])
    return cells


def _csv_text(rows: list[dict[str, Any]], *, header: bool = False) -> str:
    buffer = io.StringIO()
    # text cells that a spreadsheet would run (=, +, -, @, tab, CR first) get a leading '
    writer = SafeDictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


async def csv_export(batches: AsyncIterator[list[Any]]) -> AsyncIterator[bytes]:
    yield (BOM + _csv_text([], header=True)).encode()
    async for rows in batches:
        yield _csv_text([csv_row(row) for row in rows]).encode()
