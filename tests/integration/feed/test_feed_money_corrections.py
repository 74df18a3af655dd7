"""The feed shows the money that moved after the fact: a closed project's remainder moved to
another project (on the gift's entries), and a reversed or corrected disbursement (a
``correction`` entry that refers to the ``funds.disbursed`` it reverses). The summary's "used"
and the IATI export are net of reversals. Projected on the real PostgreSQL schema."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from notification.main import MIGRATIONS
from notification.service_layer.open_data import iati
from notification.service_layer.projections import FEED_HANDLERS, tracking_hash
from notification.service_layer.summary import build_summary
from shared.contracts import donation as d
from shared.db import create_engine, create_session_factory
from shared.messaging.envelope import CloudEvent
from tests.conftest import PORT_BASE, TOPIC_PREFIX, _reset_database
from tests.integration.feed.conftest import feed_settings
from tests.integration.feed.summary_reference import reference_summary
from tests.integration.feed.test_feed_determinism import Recorder

pytestmark = pytest.mark.integration

GIFT = uuid.UUID("01a22497-5db0-7241-aa97-3b7fd4464201")
CODE = "1MFB-V2RH-TWEX-7RZY-152D-7"
ORIGINAL = uuid.UUID("01a22497-6a00-7b41-8a97-3b7fd4464201")
REPLACEMENT = uuid.UUID("01a22497-6a00-7b41-8a97-3b7fd4464202")
REVERSED = uuid.UUID("01a22497-6a00-7b41-8a97-3b7fd4464203")


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 2, 0, tzinfo=UTC)


def _disbursed(disbursement_id: uuid.UUID, amount: int, voucher: str, at: datetime) -> Any:
    return d.FundsDisbursedV1(
        disbursement_id=disbursement_id,
        project_code="P-MONEY",
        project_name="博爱送万家",
        amount_fen=amount,
        purpose="春节慰问困难家庭",
        recipient_type="organization",
        recipient="溪口镇人民政府",
        town="溪口镇",
        voucher_no=voucher,
        disbursed_on=at.date(),
        approved_at=at,
        allocations=[d.AllocationShareV1(donation_id=GIFT, tracking_code=CODE, amount_fen=amount)],
    )


def _reversed(
    disbursement_id: uuid.UUID, amount: int, voucher: str, replacement: uuid.UUID | None
) -> Any:
    return d.DisbursementReversedV1(
        reversal_id=uuid.uuid4(),
        disbursement_id=disbursement_id,
        kind="correction" if replacement else "reversal",
        project_code="P-MONEY",
        project_name="博爱送万家",
        amount_fen=amount,
        recipient_type="organization",
        voucher_no=voucher,
        town="溪口镇",
        reason="金额录入错误，联系 13800001111",
        replacement_disbursement_id=replacement,
        released=[d.AllocationShareV1(donation_id=GIFT, tracking_code=CODE, amount_fen=amount)],
        reversed_at=_at(6, 1),
    )


async def _story() -> list[CloudEvent]:
    r = Recorder()
    await r.publish(
        d.DONATION_RECEIVED,
        d.DonationReceivedV1(
            donation_id=GIFT,
            tracking_code=CODE,
            kind="money",
            amount_fen=100_000,
            channel="wechat_pay",
            project_code="P-MONEY",
            display="surname",
            display_name="张某",
            donor_type="individual",
            received_at=_at(4, 1),
        ),
        key=str(GIFT),
    )
    await r.publish(d.FUNDS_DISBURSED, _disbursed(ORIGINAL, 40_000, "V-1", _at(5, 10)), key="o")
    await r.publish(d.FUNDS_DISBURSED, _disbursed(REVERSED, 10_000, "V-2", _at(5, 12)), key="r")
    await r.publish(
        d.DISBURSEMENT_REVERSED, _reversed(ORIGINAL, 40_000, "V-1", REPLACEMENT), key="o"
    )
    await r.publish(d.FUNDS_DISBURSED, _disbursed(REPLACEMENT, 35_000, "V-3", _at(6, 1)), key="n")
    await r.publish(d.DISBURSEMENT_REVERSED, _reversed(REVERSED, 10_000, "V-2", None), key="r")
    await r.publish(
        d.REMAINDER_TRANSFERRED,
        d.RemainderTransferredV1(
            donation_id=GIFT,
            tracking_code=CODE,
            from_project_code="P-MONEY",
            from_project_name="博爱送万家",
            to_project_code="YJJZ",
            to_project_name="应急救灾",
            amount_fen=65_000,
            consent="phone",
            transferred_at=_at(11, 5),
        ),
        key=str(GIFT),
    )
    return r.sent


async def test_corrections_and_moves_in_the_feed(tmp_path: Path) -> None:
    settings = feed_settings(tmp_path, "money_corrections", PORT_BASE + 49, TOPIC_PREFIX)
    await _reset_database(settings, MIGRATIONS)
    engine = create_engine(settings, application_name="tests")
    sessions = create_session_factory(engine)
    try:
        for event in await _story():
            async with sessions() as session, session.begin():
                await FEED_HANDLERS[event.type](session, event)
        async with sessions() as session:
            rows = {
                (r.kind, r.subject_id): r
                for r in (
                    await session.execute(
                        text(
                            "SELECT e.*, c.id AS corrects_id FROM feed_entries e "
                            "LEFT JOIN feed_entries c ON c.seq = e.corrects_seq ORDER BY e.seq"
                        )
                    )
                ).all()
            }
        summary = await build_summary(sessions)
        reference = await reference_summary(sessions)
    finally:
        await engine.dispose()

    original = rows[("funds.disbursed", str(ORIGINAL))]
    correction = rows[("correction", str(ORIGINAL))]
    assert correction.corrects_seq == original.seq
    assert correction.title == (
        "更正：博爱送万家 拨付 ¥400.00（凭证 V-1）已更正为新拨付（金额录入错误，联系 [已隐去]）"
    )
    assert correction.data == {
        "disbursement_id": str(ORIGINAL),
        "correction": "disbursement_corrected",
        "project_code": "P-MONEY",
        "amount_fen": -40_000,
        "recipient_type": "organization",
        "voucher_no": "V-1",
        "reason": "金额录入错误，联系 [已隐去]",
        "replacement_disbursement_id": str(REPLACEMENT),
        "released_to": [{"tracking_code_hash": tracking_hash(CODE), "amount_fen": 40_000}],
    }
    assert (correction.project_code, correction.town) == ("P-MONEY", "溪口镇")
    reversal = rows[("correction", str(REVERSED))]
    assert reversal.title.startswith("更正：博爱送万家 拨付 ¥100.00（凭证 V-2）已冲销（")
    assert reversal.data["correction"] == "disbursement_reversed"
    assert reversal.corrects_seq == rows[("funds.disbursed", str(REVERSED))].seq

    moved = rows[("project.remainder_transferred", str(GIFT))]
    assert moved.title == "项目结余 ¥650.00 经捐赠人同意（电话）由 博爱送万家 转入 应急救灾"
    assert moved.tracking_code_hash == tracking_hash(CODE)
    assert moved.project_code == "P-MONEY"
    assert moved.data["to_project_code"] == "YJJZ"
    assert moved.data["amount_fen"] == 65_000

    # "used" is net of reversals: only the replacement counts, in its own month
    used = summary["used"]
    assert used["total_fen"] == 35_000
    assert used["by_month"] == [{"month": "2026-06", "amount_fen": 35_000, "count": 1}]
    assert used["by_town"] == [{"town": "溪口镇", "amount_fen": 35_000, "count": 1}]
    assert summary == reference  # the triggers agree with the summary read off the feed
    assert summary["entries_by_kind"]["correction"] == 2
    assert summary["entries_by_kind"]["project.remainder_transferred"] == 1
    # the open-data export: a reversal is the same transaction type, negative
    assert iati(correction) == (3, -40_000)
    assert iati(original) == (3, 40_000)
    assert iati(moved) == (None, None)
    assert date(2026, 6, 1) == correction.occurred_at.date()
