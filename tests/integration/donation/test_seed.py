"""``python -m donation seed`` loads plausible demo data once; a second run changes nothing."""

from __future__ import annotations

import asyncpg
import pytest

from donation.config import DonationSettings
from donation.seed import SEED_AUTHOR, seed
from tests.integration.donation.conftest import Api

pytestmark = pytest.mark.integration


async def test_seed_is_plausible_and_idempotent(
    api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = api.settings
    assert isinstance(settings, DonationSettings)
    await seed(settings, gifts_count=24, disbursement_rounds=1)
    first = capsys.readouterr().out
    assert "seeded 24 demo gifts" in first
    await seed(settings, gifts_count=24)
    assert "already present (24 gifts)" in capsys.readouterr().out

    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        gifts = await conn.fetchval(
            "SELECT count(*) FROM donations WHERE created_by = $1", SEED_AUTHOR
        )
        kinds = {r["kind"] for r in await conn.fetch("SELECT DISTINCT kind FROM donations")}
        receipts = await conn.fetchval(
            "SELECT count(*) FROM receipts r JOIN donations d ON d.id = r.donation_id "
            "WHERE d.created_by = $1",
            SEED_AUTHOR,
        )
        remainder = await conn.fetchrow(
            "SELECT decision, disclosure_due FROM remainder_decisions "
            "WHERE project_code = 'YJJZ-2026-TY'"
        )
        moves = await conn.fetch(
            "SELECT outcome, to_project_code, consent_id FROM remainder_moves "
            "WHERE project_code = 'YJJZ-2026-TY'"
        )
        four_eyes = await conn.fetchval(
            "SELECT bool_and(approved_by <> entered_by) FROM disbursements "
            "WHERE status = 'approved'"
        )
    finally:
        await conn.close()
    assert gifts == 24
    assert kinds == {"money", "goods"}
    assert receipts > 10
    assert four_eyes is True
    if remainder is not None:
        assert str(remainder["disclosure_due"]) == "2027-01-31"
        # executed, not only noted: every remaining gift moved with its donor's consent
        assert {(m["outcome"], m["to_project_code"]) for m in moves} <= {("transferred", "YJJZ")}
        assert all(m["consent_id"] is not None for m in moves)
        typhoon = await api.ok("GET", "/api/v1/projects/YJJZ-2026-TY")
        assert typhoon["figures"]["remaining_fen"] == 0
        assert typhoon["figures"]["transferred_out_fen"] == sum(
            m["amount_fen"] for m in typhoon["remainder"]["moves"]
        )
