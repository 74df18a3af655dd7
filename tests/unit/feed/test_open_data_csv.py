"""The open-data CSV: a donor name or free text starting like a formula is written as text;
the amounts (negative ones of refunds and cancellations too) stay numbers, and the JSON
export, whose entries are the ones the log hashes, is not touched."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from notification.service_layer.open_data import csv_export, json_export

AT = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
ORG = '=HYPERLINK("http://x","y")'


def entry(kind: str, title: str, data: dict[str, Any], **cells: Any) -> SimpleNamespace:
    fields: dict[str, Any] = {
        "leaf_index": 0,
        "id": uuid.uuid4(),
        "kind": kind,
        "title": title,
        "occurred_at": AT,
        "published_at": AT,
        "project_code": None,
        "town": None,
        "incident_ref": None,
        "corrects_id": None,
        "tracking_code_hash": None,
        "data": data,
    }
    return SimpleNamespace(**(fields | cells))


ROWS = [
    entry(
        "donation.received",
        f"{ORG} 捐款 ¥500.00",
        {"donation_kind": "money", "amount_fen": 50_000, "donor": ORG},
    ),
    entry("donation.refunded", "捐赠未使用部分 ¥88.00 已退还", {"amount_fen": 8_800}),
    entry("dispatch.shipped", "+1+2", {}, town="@SUM(1)", incident_ref="-1+2"),
]


async def batches() -> AsyncIterator[list[Any]]:
    yield ROWS


async def body(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def test_formula_like_text_is_quoted_and_numbers_stay_numbers() -> None:
    text = (await body(csv_export(batches()))).decode().removeprefix("\ufeff")
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["title"] for r in table] == [
        f"'{ORG} 捐款 ¥500.00",
        "捐赠未使用部分 ¥88.00 已退还",
        "'+1+2",
    ]
    assert (table[2]["town"], table[2]["incident_ref"]) == ("'@SUM(1)", "'-1+2")
    assert [r["amount_fen"] for r in table] == ["50000", "8800", ""]
    assert [r["iati_value_cny"] for r in table] == ["500.00", "-88.00", ""]


async def test_the_json_export_keeps_the_text_as_it_is() -> None:
    document = json.loads(await body(json_export(batches())))
    first, refund, _ = document["entries"]
    assert first["title"] == f"{ORG} 捐款 ¥500.00"
    assert first["data"]["donor"] == ORG
    assert refund["iati_value_cny"] == "-88.00"
