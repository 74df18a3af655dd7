"""Small anonymous online gifts: no receipt each, one combined receipt for the month."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.integration.giving.conftest import Giving

pytestmark = pytest.mark.integration
SHANGHAI = ZoneInfo("Asia/Shanghai")


def months_ago(n: int) -> str:
    today = datetime.now(SHANGHAI)
    index = today.year * 12 + today.month - 1 - n
    return f"{index // 12}-{index % 12 + 1:02d}"


async def test_small_anonymous_gifts_share_one_receipt_for_their_month(giving: Giving) -> None:
    below = giving.settings.combined_receipt_below_fen
    small = [
        await giving.start(amount_fen=500, display="anonymous", name=None),
        await giving.start(amount_fen=below - 1, display="anonymous", name=None),
    ]
    named = await giving.start(amount_fen=500, display="surname")
    at_threshold = await giving.start(amount_fen=below, display="anonymous", name=None)
    for order in [*small, named, at_threshold]:
        await giving.pay(order)
    rows = [await giving.until_status(o["out_trade_no"], "paid") for o in small]
    for row in rows:
        assert row["receipt_combined"] is True
        assert (
            await giving.row("SELECT 1 FROM receipts WHERE donation_id = $1", row["donation_id"])
            is None
        )  # no receipt of its own
    for order in (named, at_threshold):  # named, or not below the threshold: its own receipt
        row = await giving.until_status(order["out_trade_no"], "paid")
        assert row["receipt_combined"] is False
        assert (
            await giving.row("SELECT 1 FROM receipts WHERE donation_id = $1", row["donation_id"])
            is not None
        )

    month = months_ago(2)
    conn = await giving.db()
    try:
        await conn.execute(
            "UPDATE online_orders SET paid_at = $2::timestamptz WHERE out_trade_no = ANY($1)",
            [o["out_trade_no"] for o in small],
            datetime.fromisoformat(f"{month}-15T12:00:00+08:00"),
        )
    finally:
        await conn.close()

    too_soon = await giving.client.post(
        "/api/v1/combined-receipts", json={"month": months_ago(0)}, headers=giving.staff()
    )
    assert too_soon.status_code == 422
    assert "尚未结束" in too_soon.text
    auditor = await giving.client.post(
        "/api/v1/combined-receipts", json={"month": month}, headers=giving.staff("auditor")
    )
    assert auditor.status_code == 403
    issued = await giving.client.post(
        "/api/v1/combined-receipts", json={"month": month}, headers=giving.staff()
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert (body["amount_fen"], body["gift_count"]) == (500 + below - 1, 2)
    year, seq = body["receipt_no"].split("-")
    assert year == month[:4]
    assert int(seq) > 0
    again = await giving.client.post(
        "/api/v1/combined-receipts", json={"month": month}, headers=giving.staff()
    )
    assert again.status_code == 409
    assert body["receipt_no"] in again.text
    listed = await giving.client.get("/api/v1/combined-receipts", headers=giving.staff("auditor"))
    assert [r["month"] for r in listed.json()].count(month) == 1
    pdf = await giving.client.get(
        f"/api/v1/combined-receipts/{month}.pdf", headers=giving.staff("auditor")
    )
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    # the register lists it by its number, beside the gifts' receipts of the same series
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:  # small pages, so that the keyset crosses both tables
        params: dict[str, Any] = {"year": int(year), "limit": 7}
        if cursor is not None:
            params["cursor"] = cursor
        page = await giving.client.get("/api/v1/receipts", params=params, headers=giving.staff())
        assert page.status_code == 200, page.text
        entries += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None or any(e["receipt_no"] == body["receipt_no"] for e in entries):
            break
    line = next(e for e in entries if e["receipt_no"] == body["receipt_no"])
    assert (line["kind"], line["month"], line["gift_count"]) == ("combined", month, 2)
    assert (line["donation_id"], line["payer_name"]) == (None, "爱心人士")
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(set(seqs), reverse=True)  # by number, none twice across pages
    members = await giving.rows(
        "SELECT donation_id FROM combined_receipt_gifts g JOIN combined_receipts r "
        "ON r.id = g.combined_receipt_id WHERE r.month = $1",
        month,
    )
    assert {m["donation_id"] for m in members} == {r["donation_id"] for r in rows}


async def test_a_month_without_waiting_gifts_has_nothing_to_issue(giving: Giving) -> None:
    response = await giving.client.post(
        "/api/v1/combined-receipts", json={"month": "2020-01"}, headers=giving.staff()
    )
    assert response.status_code == 409
    assert "没有待合并开票" in response.text
