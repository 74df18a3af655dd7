"""Projections of donation and warehouse events into the public feed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from notification.adapters.orm import FeedEntry
from shared.contracts.donation import DonationReceivedV1
from shared.ids import uuid7
from shared.messaging.envelope import CloudEvent

CHANNEL_CATEGORY = {
    "bank_transfer": "银行转账",
    "wechat_pay": "网络支付",
    "alipay": "网络支付",
    "cash": "现金",
    "cheque": "支票",
    "on_site": "现场捐赠",
}


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def tracking_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def on_donation_received(session: AsyncSession, event: CloudEvent) -> None:
    gift = DonationReceivedV1.model_validate(event.data)
    if gift.kind == "money":
        title = f"{gift.display_name} 捐款 ¥{yuan(gift.amount_fen)}"
    else:
        goods = "、".join(f"{i.name}{i.quantity}{i.unit}" for i in gift.items)
        title = f"{gift.display_name} 捐赠物资：{goods}"
    data = {
        "donation_id": str(gift.donation_id),
        "donation_kind": gift.kind,
        "donor": gift.display_name,
        "donor_type": gift.donor_type,
        "amount_fen": gift.amount_fen,
        "channel_category": CHANNEL_CATEGORY.get(gift.channel, "其他"),
        "project_code": gift.project_code,
        "items": [
            {"name": i.name, "quantity": i.quantity, "unit": i.unit, "value_fen": i.value_fen}
            for i in gift.items
        ],
    }
    session.add(
        FeedEntry(
            id=uuid7(),
            source_event_id=event.id,
            kind="donation.received",
            subject_id=str(gift.donation_id),
            tracking_code_hash=tracking_hash(gift.tracking_code),
            title=title,
            data=data,
            occurred_at=gift.received_at,
            published_at=datetime.now(UTC),
        )
    )
