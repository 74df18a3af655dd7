"""A small, realistic story of public facts (and the private data that must never leak)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.contracts import donation as d
from shared.contracts import warehouse as w
from shared.ids import new_tracking_code
from tests.integration.feed.conftest import FeedStack, project

# Private data given in the input. None of it may appear in any entry or public response.
PRIVATE_NAMES = ["王建国", "李秀英", "赵志刚", "张建丰"]
PRIVATE_PHONES = ["13812345678", "15900001111"]
PRIVATE_EMAILS = ["wang.jianguo@example.com", "zhang.jf@example.com"]
PRIVATE_IDS = ["330283199001011234", "33028319851231567X"]

_EXAMPLES: dict[str, Any] = {c.type: c.example for c in [*d.CONTRACTS, *w.CONTRACTS]}


def example(type_: str, **update: Any) -> Any:
    return _EXAMPLES[type_].model_copy(update=update)


def code(n: int) -> str:
    """A fresh tracking code, well-formed (the public look-ups refuse any other with a 422);
    ``n`` numbers the story's gifts for the reader only."""
    del n
    return new_tracking_code()


@dataclass
class Story:
    gifts: dict[str, tuple[uuid.UUID, str]] = field(default_factory=dict)  # name -> (id, code)
    dispatch_id: uuid.UUID = field(default_factory=uuid.uuid4)
    disbursement_id: uuid.UUID = field(default_factory=uuid.uuid4)
    events: int = 0
    entries: int = 0


def gift(
    donation_id: uuid.UUID,
    tracking_code: str,
    *,
    amount_fen: int,
    at: datetime,
    kind: str = "money",
    project_code: str | None = "BOAI-JY-XK",
    display_name: str = "王某",
    organization: bool = False,
) -> d.DonationReceivedV1:
    items = []
    if kind == "goods":
        items = [
            d.DonatedItemV1(
                item_code="QUILT", name="棉被", quantity=20, unit="床", value_fen=amount_fen
            )
        ]
    return d.DonationReceivedV1(
        donation_id=donation_id,
        tracking_code=tracking_code,
        kind=kind,  # type: ignore[arg-type]
        amount_fen=amount_fen,
        channel="wechat_pay" if kind == "money" else "on_site",
        project_code=project_code,
        display="named" if organization else "surname",
        display_name=display_name,
        donor_type="organization" if organization else "individual",
        received_at=at,
        items=items,
    )


async def publish_story(stack: FeedStack, *, late_gift: bool = True) -> Story:
    """Every kind of public fact once (plus a late one), in a realistic order."""
    story = Story()
    now = datetime.now(UTC).replace(microsecond=0)
    await stack.publish(
        d.PROJECT_OPENED,
        project("BOAI-JY-XK", "博爱家园（溪口镇）", town="溪口镇"),
        key="BOAI-JY-XK",
    )
    story.entries += 1
    for i, name in enumerate(["a", "b", "c", "goods", "d"]):
        story.gifts[name] = (uuid.uuid4(), code(i))
    ga, ca = story.gifts["a"]
    gb, cb = story.gifts["b"]
    gc, cc = story.gifts["c"]
    gg, cg = story.gifts["goods"]
    await stack.publish(d.DONATION_RECEIVED, gift(ga, ca, amount_fen=50_000, at=now), key=str(ga))
    await stack.publish(
        d.DONATION_RECEIVED,
        gift(gb, cb, amount_fen=1_000_000, at=now, display_name="溪口镇商会", organization=True),
        key=str(gb),
    )
    # received 15 days ago, published now: outside the 7-working-day deadline
    received_c = now - timedelta(days=15) if late_gift else now
    await stack.publish(
        d.DONATION_RECEIVED,
        # a producer bug: the full name of a donor who chose "surname only"
        gift(
            gc,
            cc,
            amount_fen=20_000,
            at=received_c,
            project_code=None,
            display_name=PRIVATE_NAMES[0],
        ),
        key=str(gc),
    )
    await stack.publish(
        d.DONATION_RECEIVED,
        gift(gg, cg, amount_fen=240_000, at=now, kind="goods", project_code=None),
        key=str(gg),
    )
    story.entries += 4
    # designated to one project, then re-designated before use: a correction note
    gd, cd = story.gifts["d"]
    await stack.publish(
        d.DONATION_RECEIVED,
        gift(gd, cd, amount_fen=30_000, at=now, project_code="BOAI-SWJ"),
        key=str(gd),
    )
    await stack.publish(
        d.DESIGNATION_CHANGED,
        example(
            d.DESIGNATION_CHANGED,
            donation_id=gd,
            tracking_code=cd,
            from_project_code="BOAI-SWJ",
            to_project_code="BOAI-JY-XK",
            reason=f"捐赠人来电（{PRIVATE_PHONES[0]}）要求改为博爱家园",
            changed_at=now,
        ),
        key=str(gd),
    )
    story.entries += 2
    await stack.publish(
        d.DONATION_RECEIPTED,
        example(
            d.DONATION_RECEIPTED, donation_id=ga, tracking_code=ca, amount_fen=50_000, issued_at=now
        ),
        key=str(ga),
    )
    await stack.publish(
        d.DONATION_RECEIPT_VOIDED,
        example(
            d.DONATION_RECEIPT_VOIDED,
            donation_id=ga,
            tracking_code=ca,
            reason=f"抬头错误，联系人 {PRIVATE_PHONES[0]}",
            voided_at=now,
        ),
        key=str(ga),
    )
    await stack.publish(
        d.DONATION_STATUS_CHANGED,
        example(d.DONATION_STATUS_CHANGED, donation_id=ga, tracking_code=ca, changed_at=now),
        key=str(ga),
    )
    # a status change that is not a public fact of its own: no entry
    await stack.publish(
        d.DONATION_STATUS_CHANGED,
        example(
            d.DONATION_STATUS_CHANGED,
            donation_id=gb,
            tracking_code=cb,
            from_status="allocated",
            to_status="used",
            changed_at=now,
        ),
        key=str(gb),
    )
    story.entries += 3
    await stack.publish(
        d.DONATION_CANCELLED,
        example(
            d.DONATION_CANCELLED,
            donation_id=gc,
            tracking_code=cc,
            previous_status="received",
            amount_fen=20_000,
            reason=f"重复登记（身份证 {PRIVATE_IDS[0]}）",
            cancelled_at=now,
        ),
        key=str(gc),
    )
    await stack.publish(
        d.DONATION_REFUNDED,
        example(
            d.DONATION_REFUNDED,
            donation_id=gb,
            tracking_code=cb,
            amount_fen=100_000,
            reason=f"多转部分退回，邮箱 {PRIVATE_EMAILS[0]}",
            refunded_at=now,
        ),
        key=str(gb),
    )
    story.entries += 2
    await stack.publish(
        d.FUNDS_DISBURSED,
        example(
            d.FUNDS_DISBURSED,
            disbursement_id=story.disbursement_id,
            project_code="BOAI-JY-XK",
            project_name="博爱家园（溪口镇）",
            amount_fen=300_000,
            purpose=f"困难家庭慰问金，经办 {PRIVATE_PHONES[1]}",
            recipient_type="person",
            recipient=PRIVATE_NAMES[1],
            town="溪口镇",
            disbursed_on=now.date(),
            approved_at=now,
            allocations=[
                d.AllocationShareV1(donation_id=ga, tracking_code=ca, amount_fen=50_000),
                d.AllocationShareV1(donation_id=gb, tracking_code=cb, amount_fen=250_000),
            ],
        ),
        key=str(story.disbursement_id),
    )
    await stack.publish(
        d.FUNDS_DISBURSED,
        example(
            d.FUNDS_DISBURSED,
            disbursement_id=uuid.uuid4(),
            project_code="BOAI-SWJ",
            amount_fen=400_000,
            town="萧王庙街道",
            disbursed_on=now.date(),
            approved_at=now,
            allocations=[d.AllocationShareV1(donation_id=gb, tracking_code=cb, amount_fen=400_000)],
        ),
        key="d2",
    )
    story.entries += 2
    # goods: categories come from the warehouse's stock events
    await stack.publish(
        w.STOCK_RECEIVED,
        example(w.STOCK_RECEIVED),
        key="inbound-1",
        topic="warehouse.events",
    )
    header = example(w.DISPATCH_SHIPPED).model_dump()
    header.update(dispatch_id=story.dispatch_id, shipped_at=now)
    lines = header["lines"]
    lines[0]["lots"][0].update(donation_id=gg, tracking_code=cg)
    await stack.publish(
        w.DISPATCH_SHIPPED, header, key=str(story.dispatch_id), topic="warehouse.events"
    )
    delivered = example(w.DISPATCH_DELIVERED).model_dump()
    delivered.update(
        dispatch_id=story.dispatch_id,
        delivered_at=now,
        recipient_name_masked=PRIVATE_NAMES[2],  # a producer bug: the full name
    )
    for line in delivered["lines"]:
        for lot in line["lots"]:
            if lot.get("tracking_code"):
                lot.update(donation_id=gg, tracking_code=cg)
    await stack.publish(
        w.DISPATCH_DELIVERED, delivered, key=str(story.dispatch_id), topic="warehouse.events"
    )
    story.entries += 2
    # a donated lot damaged in the warehouse: disclosed; a procured one: not
    await stack.publish(
        w.STOCK_ADJUSTED,
        example(w.STOCK_ADJUSTED, donation_id=gg, tracking_code=cg, adjusted_at=now),
        key="lot-1",
        topic="warehouse.events",
    )
    await stack.publish(
        w.STOCK_ADJUSTED,
        example(w.STOCK_ADJUSTED, adjusted_at=now),
        key="lot-2",
        topic="warehouse.events",
    )
    story.entries += 1
    await stack.publish(
        d.FOLLOW_UP_RECORDED,
        example(
            d.FOLLOW_UP_RECORDED,
            disbursement_id=story.disbursement_id,
            project_code="BOAI-JY-XK",
            town="溪口镇",
            summary=f"已发放到户，户主 {PRIVATE_IDS[1]} 反馈良好",
            recorded_at=now,
        ),
        key=str(story.disbursement_id),
    )
    await stack.publish(
        d.PROJECT_CLOSED,
        example(
            d.PROJECT_CLOSED, project_code="BOAI-JY-XK", name="博爱家园（溪口镇）", closed_at=now
        ),
        key="BOAI-JY-XK",
    )
    await stack.publish(
        d.REMAINDER_DECIDED,
        example(
            d.REMAINDER_DECIDED,
            project_code="BOAI-JY-XK",
            note=f"经理事会决议转入应急救灾项目（联系 {PRIVATE_EMAILS[1]}）",
            disclosure_due=date(2027, 3, 31),
            decided_at=now,
        ),
        key="BOAI-JY-XK",
    )
    story.entries += 3
    # private topic: contact details for one notice, never for the feed
    await stack.publish(
        d.NOTICE_REQUESTED,
        example(d.NOTICE_REQUESTED, donation_id=ga, tracking_code=ca),
        key=str(ga),
        topic="donation.private",
    )
    story.events = len(stack.sent)
    return story
