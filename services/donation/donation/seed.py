"""Demo data for ``make up``: staff accounts and a plausible year of a district branch.

About three hundred gifts over the past twelve months — money through every channel and goods
in kind, named / surname-only / anonymous, individuals and organisations, some designated to a
project, a few pledged, cancelled or refunded — most with a receipt; disbursements from each
project entered by finance and approved by the approver (allocated to the gifts that fund
them); follow-up visits; one finished emergency project whose remainder moved, gift by gift
with each donor's consent, to the standing emergency project.

Idempotent: everything is seeded once (recognised by the ``demo-seed`` author).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from donation.adapters.orm import Donation, Project, RemainderConsent, RemainderDecision
from donation.config import DonationSettings
from donation.domain.allocation import InsufficientFunds
from donation.domain.commands import (
    ApproveDisbursement,
    CancelDonation,
    CloseProject,
    DecideRemainder,
    DonorDetails,
    EnterDisbursement,
    GoodsLine,
    IssueReceipt,
    OpenProject,
    RecordDonation,
    RecordFollowUp,
    RecordRemainderConsent,
    RefundDonation,
)
from donation.service_layer import disbursements, follow_ups, funds, gifts, projects
from donation.service_layer.intake import record_donation
from donation.service_layer.staff import seed_demo_staff
from shared.db import create_engine, create_session_factory
from shared.errors import AppError
from shared.uow import SqlUnitOfWork

SEED_AUTHOR = "demo-seed"
EMERGENCY = "YJJZ-2026-TY"
MakeUow = Callable[[], SqlUnitOfWork]
APPROVER = "approver"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段漕钱汤尹黎易常武乔贺赖龚文"  # noqa: E501
GIVEN = [
    "建国",
    "秀英",
    "伟",
    "洋",
    "静",
    "帆",
    "敏",
    "丽",
    "杰",
    "磊",
    "慧",
    "丽娟",
    "志强",
    "红",
    "明",
    "小雨",
    "海燕",
    "国庆",
    "晓东",
    "春梅",
    "建华",
    "玉兰",
    "文斌",
    "桂芳",
]
ORGANIZATIONS = [
    "奉化区爱心企业联合会",
    "宁波某某电器有限公司",
    "溪口镇商会",
    "锦屏街道志愿者协会",
    "奉化水蜜桃合作社",
    "岳林街道某某社区居委会",
    "奉化区某某中学全体师生",
    "宁波某某服饰有限公司",
    "江口街道企业家联谊会",
    "某某银行奉化支行",
]
MONEY_CHANNELS = ["bank_transfer", "wechat_pay", "wechat_pay", "alipay", "cash", "cheque"]
DESIGNATIONS = [None, None, None, "BOAI-SWJ", "BOAI-WRX", "BOAI-JY", "YJJZ", "BOAI-JY-XK",
                "BOAI-JY-DY", "BOAI-JY-CH", "YJJZ-2026-TY"]  # fmt: skip
AMOUNTS = [2000, 5000, 10000, 10000, 20000, 20000, 50000, 50000, 100000, 200000, 500000,
           1000000, 3000000]  # fmt: skip
GOODS = [
    ("QUILT", "棉被", "床", 12000, False),
    ("RAINCOAT", "雨衣", "件", 2500, False),
    ("FLASHLIGHT", "手电筒", "个", 3500, False),
    ("COT", "折叠床", "张", 15000, False),
    ("NOODLES", "方便食品", "箱", 4500, True),
]
TOWNS = ["锦屏街道", "岳林街道", "江口街道", "西坞街道", "萧王庙街道", "方桥街道", "尚田街道",
         "莼湖街道", "溪口镇", "大堰镇", "松岙镇", "裘村镇"]  # fmt: skip
USES = {
    "BOAI-SWJ": ["春节前走访慰问困难家庭", "为困难老人送去米油棉被", "慰问因病致困家庭"],
    "BOAI-WRX": ["5·8 博爱周应急救护培训", "资助困难学生助学金", "人道救助金发放"],
    "BOAI-JY": ["博爱家园防灾减灾宣传", "社区应急救护培训", "博爱服务站设备采购"],
    "YJJZ": ["梅汛期受灾群众生活救助", "台风过境后受灾家庭慰问", "备灾物资补充采购"],
    "YJJZ-2026-TY": ["台风“贝碧嘉”受灾群众生活救助", "受灾房屋修缮补助"],
}


async def seed(
    settings: DonationSettings, *, gifts_count: int = 300, disbursement_rounds: int = 5
) -> None:
    """Seed once. A database seeded by the earlier, smaller demo (gifts only) is completed:
    more gifts up to ``gifts_count``, receipts, disbursements, follow-ups."""
    engine = create_engine(settings, application_name="donation-seed")
    factory = create_session_factory(engine)
    try:
        await seed_demo_staff(factory, settings.demo_password.get_secret_value())
        async with factory() as session:
            seeded = int(
                await session.scalar(
                    select(func.count())
                    .select_from(Donation)
                    .where(col(Donation.created_by) == SEED_AUTHOR)
                )
                or 0
            )
            demo_project = await session.get(Project, EMERGENCY)
        if seeded and demo_project is not None:
            print(f"donation: demo data already present ({seeded} gifts)")
            moved = await execute_emergency_remainder(settings)
            if moved:
                print(f"donation: the typhoon project's remainder moved for {moved} gifts")
            return
        rng = random.Random(20261128 + seeded)  # noqa: S311 - demo data, not security
        now = datetime.now(UTC)

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(
                factory, source="/sunshine/donation", topic_prefix=settings.topic_prefix
            )

        await _emergency_project(uow)
        ids = []
        missing = max(gifts_count - seeded, 0)
        for n in range(missing):
            at = now - timedelta(days=365 * (missing - n) / missing, hours=rng.randint(0, 20))
            ids.append(await _seed_gift(uow, rng, at))
        receipts = sum(1 for _, receipted in ids if receipted)
        if seeded:
            receipts += await _receipt_earlier_demo_gifts(uow, factory, rng)
        disbursed = await _seed_disbursements(uow, rng, now, disbursement_rounds)
        await _close_emergency_project(uow, now)
        print(
            f"donation: seeded {len(ids)} demo gifts, {receipts} receipts, {disbursed} "
            "approved disbursements with follow-ups, a closed project whose remainder moved, and"
            " demo staff of the district and two town branches"
        )
    finally:
        await engine.dispose()


async def _receipt_earlier_demo_gifts(
    make: MakeUow, factory: async_sessionmaker[AsyncSession], rng: random.Random
) -> int:
    async with factory() as session:
        pending = list(
            await session.scalars(
                select(col(Donation.id))
                .where(
                    col(Donation.created_by) == SEED_AUTHOR,
                    col(Donation.status) == "received",
                )
                .order_by(col(Donation.received_at))
            )
        )
    issued = 0
    for donation_id in pending:
        if rng.random() < 0.85:
            async with make() as uow:
                await gifts.issue_receipt(uow, IssueReceipt(donation_id, actor="finance"))
                await uow.commit()
                issued += 1
    return issued


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES[:60]) + rng.choice(GIVEN)


async def _seed_gift(make: MakeUow, rng: random.Random, at: datetime) -> tuple[uuid.UUID, bool]:
    organization = rng.random() < 0.2
    name = rng.choice(ORGANIZATIONS) if organization else _person(rng)
    goods = rng.random() < 0.2
    items: tuple[GoodsLine, ...] = ()
    if goods:
        code, label, unit, value, tracked = rng.choice(GOODS)
        quantity = rng.choice([5, 10, 20, 30, 50, 100])
        expiry = (at + timedelta(days=rng.randint(200, 500))).date() if tracked else None
        items = (GoodsLine(code, label, quantity, unit, None, expiry, quantity * value),)
    amount = sum(i.value_fen for i in items) if goods else rng.choice(AMOUNTS)
    channel = "on_site" if goods else rng.choice(MONEY_CHANNELS)
    phone = None if organization else f"13{rng.randint(100_000_000, 999_999_999)}"
    email = f"donor{rng.randint(1000, 9999)}@example.com" if rng.random() < 0.3 else None
    project = rng.choice(DESIGNATIONS)
    if project == "YJJZ-2026-TY" and not (
        datetime(2026, 9, 1, tzinfo=UTC) <= at <= datetime(2026, 10, 31, tzinfo=UTC)
    ):
        project = "YJJZ"
    command = RecordDonation(
        kind="goods" if goods else "money",
        amount_fen=amount,
        channel=channel,
        display=rng.choice(["named", "named", "surname", "surname", "anonymous"]),
        donor=DonorDetails(
            donor_type="organization" if organization else "individual",
            name=name,
            phone=phone,
            email=email,
            notify=rng.choice(["all", "all", "sms", "none"]),
        ),
        received_at=at,
        actor=SEED_AUTHOR,
        external_ref=f"DEMO-{rng.randrange(10**12):012d}" if channel == "bank_transfer" else None,
        project_code=project,
        items=items,
        pledged=rng.random() < 0.02,
    )
    roll = rng.random()  # < 0.02: cancelled; < 0.03: refunded
    receipted = not command.pledged and roll >= 0.02 and rng.random() < 0.85
    async with make() as uow:
        donation = (await record_donation(uow, command)).donation
        if receipted:
            await uow.flush()
            await gifts.issue_receipt(
                uow, IssueReceipt(donation.id, actor="finance", declined=rng.random() < 0.05)
            )
        await uow.commit()
    if roll < 0.02:
        async with make() as uow:
            await gifts.cancel_donation(
                uow, CancelDonation(donation.id, actor="finance", reason="重复登记，撤销")
            )
            await uow.commit()
    elif roll < 0.03 and not goods and command.project_code is None and not command.pledged:
        async with make() as uow:
            await gifts.refund_donation(
                uow, RefundDonation(donation.id, actor="finance", reason="捐赠人误转，原路退回")
            )
            await uow.commit()
    return donation.id, receipted


async def _emergency_project(factory: MakeUow) -> None:
    async with factory() as uow:
        if await uow.session.get(Project, "YJJZ-2026-TY") is not None:
            return
        await projects.open_project(
            uow,
            OpenProject(
                code="YJJZ-2026-TY",
                name="应急救灾（台风“贝碧嘉”）",
                category="emergency",
                description="2026 年台风过境后受灾群众的生活救助与房屋修缮补助",
                starts_on=date(2026, 9, 1),
                ends_on=date(2026, 10, 31),
                budget_fen=50_000_000,
                actor="finance",
            ),
        )
        await uow.commit()


async def _seed_disbursements(
    factory: MakeUow, rng: random.Random, now: datetime, rounds: int
) -> int:
    count = 0
    voucher = 0
    for code, purposes in USES.items():
        for month_back in range(2 * rounds, 0, -2):
            async with factory() as uow:
                figures = await funds.project_figures(uow, code)
            room = figures.remaining_fen
            if code == "YJJZ" or code.startswith("BOAI-JY"):
                room = max(room, 0) + 100_000  # may draw on unrestricted funds
            amount = int(room * rng.uniform(0.25, 0.5)) // 100 * 100
            if amount <= 0:
                continue
            voucher += 1
            on = (now - timedelta(days=30 * month_back)).date()
            if code == "YJJZ-2026-TY":
                on = date(2026, 10, rng.randint(1, 28))
            town = rng.choice(TOWNS)
            organization = rng.random() < 0.7
            try:
                async with factory() as uow:
                    entered = await disbursements.enter_disbursement(
                        uow,
                        EnterDisbursement(
                            project_code=code,
                            actor="finance",
                            amount_fen=amount,
                            purpose=rng.choice(purposes),
                            recipient_type="organization" if organization else "person",
                            recipient_name=f"{town}人民政府" if organization else _person(rng),
                            town=town,
                            voucher_no=f"FH-DEMO-{voucher:04d}",
                            disbursed_on=on,
                        ),
                    )
                    await uow.commit()
                async with factory() as uow:
                    await disbursements.approve_disbursement(
                        uow, ApproveDisbursement(disbursement_id=entered.id, actor=APPROVER)
                    )
                    await uow.commit()
            except (AppError, InsufficientFunds):
                continue
            count += 1
            if rng.random() < 0.6:
                async with factory() as uow:
                    await follow_ups.record_follow_up(
                        uow,
                        RecordFollowUp(
                            actor="approver",
                            disbursement_id=entered.id,
                            donation_id=None,
                            visited_on=min(on + timedelta(days=rng.randint(7, 30)), now.date()),
                            summary=rng.choice(
                                [
                                    "款物已按计划发放到户，受助群众表示感谢",
                                    "回访受助家庭 5 户，生活困难已有缓解",
                                    "培训已完成，参训人员考核合格",
                                    "项目执行情况良好，票据凭证齐全",
                                ]
                            ),
                            town=town,
                            visitor=rng.choice(["周主任", "吴监事", "志愿者 小林"]),
                        ),
                    )
                    await uow.commit()
    return count


async def _close_emergency_project(factory: MakeUow, now: datetime) -> None:
    async with factory() as uow:
        project = await uow.session.get(Project, "YJJZ-2026-TY")
        if project is None or project.status != "open" or now.date() <= date(2026, 10, 31):
            return
        await projects.close_project(
            uow, CloseProject(code="YJJZ-2026-TY", actor="finance", closed_on=date(2026, 10, 31))
        )
        await uow.commit()
    # the remainder moves gift by gift, each with its donor's consent (asked by phone)
    await _emergency_consents(factory)
    async with factory() as uow:
        await projects.decide_remainder(
            uow,
            DecideRemainder(
                code="YJJZ-2026-TY",
                actor="finance",
                decision="transfer",
                target_project_code="YJJZ",
                note="经理事会决议，台风救灾结余转入应急救灾项目，用于备灾物资补充",
            ),
        )
        await uow.commit()


async def _emergency_consents(factory: MakeUow) -> int:
    """Record every remaining typhoon gift's consent (the demo's donors all agree)."""
    async with factory() as uow:
        remaining = list(
            await uow.session.scalars(
                select(col(Donation.id))
                .where(
                    col(Donation.kind) == "money",
                    col(Donation.project_code) == EMERGENCY,
                    col(Donation.moved_to_project_code).is_(None),
                    col(Donation.status).in_(["received", "receipted", "allocated"]),
                    col(Donation.amount_fen) > col(Donation.used_fen) + col(Donation.refunded_fen),
                )
                .order_by(col(Donation.received_at))
            )
        )
        consented = set(
            await uow.session.scalars(
                select(col(RemainderConsent.donation_id)).where(
                    col(RemainderConsent.project_code) == EMERGENCY
                )
            )
        )
    recorded = 0
    for donation_id in remaining:
        if donation_id in consented:
            continue
        async with factory() as uow:
            await projects.record_consent(
                uow,
                RecordRemainderConsent(
                    code=EMERGENCY,
                    donation_id=donation_id,
                    actor="finance",
                    method="phone",
                    obtained_by="周主任",
                    obtained_at=datetime(2026, 11, 10, 2, 0, tzinfo=UTC),
                    note="电话联系捐赠人，同意结余转入应急救灾项目",
                ),
            )
            await uow.commit()
            recorded += 1
    return recorded


async def execute_emergency_remainder(settings: DonationSettings) -> int:
    """A demo database seeded before remainders were executed holds the typhoon project's
    remainder "moved" on paper only: record the donors' consents, which moves the waiting
    gifts (the decision's moves are made once, for the gifts the decision left waiting)."""
    engine = create_engine(settings, application_name="donation-seed")
    factory = create_session_factory(engine)
    try:

        def uow() -> SqlUnitOfWork:
            return SqlUnitOfWork(
                factory, source="/sunshine/donation", topic_prefix=settings.topic_prefix
            )

        async with uow() as u:
            decided = await u.session.get(RemainderDecision, EMERGENCY)
            transfer = decided is not None and decided.decision == "transfer"
        if not transfer:
            return 0
        async with uow() as u:
            await projects.execute_remainder(u, EMERGENCY, actor="finance")
            await u.commit()
        return await _emergency_consents(uow)
    finally:
        await engine.dispose()
