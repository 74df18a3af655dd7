"""Receipt numbers are gapless and unique per year under concurrent requests (real PG)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.integration.donation.conftest import Api, gift

pytestmark = pytest.mark.integration

CONCURRENT = 40


async def test_concurrent_receipts_have_no_gap_and_no_duplicate(api: Api) -> None:
    gifts = await asyncio.gather(
        *(
            api.ok("POST", "/api/v1/donations", json=gift(amount_fen=100 + n))
            for n in range(CONCURRENT)
        )
    )
    responses = await asyncio.gather(
        *(api.call("POST", f"/api/v1/donations/{g['id']}/receipt") for g in gifts)
    )
    assert [r.status_code for r in responses] == [201] * CONCURRENT
    numbers = [r.json()["receipt_no"] for r in responses]
    assert len(set(numbers)) == CONCURRENT

    # the same gift receipted by many clients at once: exactly one number is taken
    one = await api.ok("POST", "/api/v1/donations", json=gift())
    racing = await asyncio.gather(
        *(api.call("POST", f"/api/v1/donations/{one['id']}/receipt") for _ in range(10))
    )
    assert sorted(r.status_code for r in racing) == [201] + [409] * 9

    # the whole year's register, across every test of this run: 1..N, nothing missing.
    # One series: a month's combined receipt (爱心人士) takes its number from the same counter.
    conn = await asyncpg.connect(api.settings.asyncpg_dsn)
    try:
        year = responses[0].json()["year"]
        seqs = [
            r["seq"]
            for r in await conn.fetch(
                "SELECT seq FROM receipts WHERE year = $1 "
                "UNION ALL SELECT seq FROM combined_receipts WHERE year = $1",
                year,
            )
        ]
        counter = await conn.fetchval("SELECT last_seq FROM receipt_counters WHERE year = $1", year)
    finally:
        await conn.close()
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
    assert counter == len(seqs)
    assert all(n == f"{year}-{int(n.split('-')[1]):06d}" for n in numbers)
