"""Demo data for ``make up``: staff accounts and a spread of plausible gifts.

Idempotent: gifts are seeded once (recognised by their ``demo-seed`` author).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from donation.adapters.orm import Donation
from donation.config import DonationSettings
from donation.domain.commands import DonorDetails, GoodsLine, RecordDonation
from donation.service_layer.handlers import record_donation
from donation.service_layer.staff import seed_demo_staff
from shared.db import create_engine, create_session_factory
from shared.uow import SqlUnitOfWork

SEED_AUTHOR = "demo-seed"
PEOPLE = [
    "王建国",
    "李秀英",
    "张伟",
    "刘洋",
    "陈静",
    "杨帆",
    "赵敏",
    "黄丽",
    "周杰",
    "吴磊",
    "徐慧",
    "孙丽娟",
    "胡志强",
    "朱红",
    "欧阳明",
    "林小雨",
]
ORGANIZATIONS = [
    "奉化区爱心企业联合会",
    "宁波某某电器有限公司",
    "溪口镇商会",
    "锦屏街道志愿者协会",
    "奉化水蜜桃合作社",
]
CHANNELS = ["bank_transfer", "wechat_pay", "alipay", "cash", "cheque", "on_site"]
PROJECTS = [None, None, "BOAI-SWJ", "BOAI-WRX", "BOAI-JY", "YJJZ"]
GOODS = [
    ("QUILT", "棉被", "床", 12000),
    ("WATER-550", "饮用水 550ml×24", "箱", 3000),
    ("RAINCOAT", "雨衣", "件", 2500),
    ("FIRSTAID", "急救包", "个", 8000),
    ("NOODLES", "方便食品", "箱", 4500),
]


async def seed(settings: DonationSettings, *, gifts: int = 60) -> None:
    engine = create_engine(settings, application_name="donation-seed")
    factory = create_session_factory(engine)
    try:
        await seed_demo_staff(factory, settings.demo_password.get_secret_value())
        async with factory() as session:
            seeded = await session.scalar(
                select(func.count())
                .select_from(Donation)
                .where(col(Donation.created_by) == SEED_AUTHOR)
            )
        if seeded:
            print(f"donation: demo data already present ({seeded} gifts)")
            return
        rng = random.Random(20261128)  # noqa: S311 - demo data, not security
        now = datetime.now(UTC)
        for n in range(gifts):
            await _seed_one(
                factory,
                settings,
                rng,
                now - timedelta(days=(gifts - n) * 3, hours=rng.randint(0, 20)),
            )
        print(f"donation: seeded {gifts} demo gifts and one staff account per role")
    finally:
        await engine.dispose()


async def _seed_one(
    factory: async_sessionmaker[AsyncSession],
    settings: DonationSettings,
    rng: random.Random,
    at: datetime,
) -> None:
    organization = rng.random() < 0.25
    name = rng.choice(ORGANIZATIONS if organization else PEOPLE)
    goods = rng.random() < 0.25
    items: tuple[GoodsLine, ...] = ()
    if goods:
        code, label, unit, value = rng.choice(GOODS)
        quantity = rng.randint(5, 200)
        items = (GoodsLine(code, label, quantity, unit, None, None, quantity * value),)
    amount = (
        sum(i.value_fen for i in items)
        if goods
        else rng.choice([5000, 10000, 20000, 50000, 100000, 500000, 2000000])
    )
    command = RecordDonation(
        kind="goods" if goods else "money",
        amount_fen=amount,
        channel="on_site" if goods else rng.choice(CHANNELS),
        display=rng.choice(["named", "surname", "anonymous"]),
        donor=DonorDetails(
            donor_type="organization" if organization else "individual",
            name=name,
            phone=None if organization else f"138{rng.randint(10_000_000, 99_999_999)}",
            email=None,
        ),
        received_at=at,
        actor=SEED_AUTHOR,
        project_code=rng.choice(PROJECTS),
    )
    async with SqlUnitOfWork(
        factory, source="/sunshine/donation", topic_prefix=settings.topic_prefix
    ) as uow:
        await record_donation(uow, command)
        await uow.commit()
