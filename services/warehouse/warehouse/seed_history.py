"""A year of demo consumption for ``make up``, run through the real commands back-dated with
:func:`warehouse.service_layer.clock.travel` (never by writing movement rows).

The shape of the year (see :func:`plan_year`):

- procurement rounds at the district warehouse, each sized to the transfers that follow it;
- transfers from the district warehouse to the town stations: a first stocking, a spring
  top-up, a big pre-positioning before the typhoon season (June), an autumn top-up, and a last
  one a month ago that brings each station to a different cover and skips a few towns (so
  today's months of stock range from none to comfortable);
- every station's monthly issues to its town (a shelter or a village site), seasonal: more in
  June (梅汛) and July–September (typhoon season), capped by what the station holds, so the
  typhoon month runs some coastal stations out of stock;
- one typhoon (a made-up incident) tagged on its dispatches, from the stations and from the
  district warehouse, and a June flood dispatch from the district warehouse.

The quantities are computed while the year is replayed in order, from a running tally of each
warehouse's stock, so that every pick finds its goods.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.organisations import DISTRICT as FH
from shared.uow import SqlUnitOfWork
from warehouse.config import WarehouseSettings
from warehouse.domain.commands import (
    ApproveDispatch,
    ConfirmInbound,
    ConfirmLine,
    DeliverDispatch,
    Destination,
    ExpectedLine,
    PickDispatch,
    RegisterProcurement,
    RequestDispatch,
    ReturnLine,
    ShipDispatch,
)
from warehouse.service_layer import clock, delivery, dispatch, picking
from warehouse.service_layer.inbound import confirm_inbound, register_procurement

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACTOR = "demo-seed"

# people served, relative (the bigger towns issue more); coastal towns get the typhoon's brunt
TOWN_WEIGHT: dict[str, float] = {
    "锦屏街道": 1.0,
    "岳林街道": 1.0,
    "江口街道": 0.8,
    "西坞街道": 0.6,
    "萧王庙街道": 0.5,
    "方桥街道": 0.5,
    "尚田街道": 0.4,
    "莼湖街道": 0.7,
    "溪口镇": 0.9,
    "大堰镇": 0.3,
    "松岙镇": 0.4,
    "裘村镇": 0.4,
}
COASTAL = ("莼湖街道", "松岙镇", "裘村镇")
# month of the year → issues relative to an ordinary month (梅汛 in June, typhoons Jul–Sep)
SEASON: dict[int, float] = {
    1: 0.5, 2: 0.5, 3: 0.6, 4: 0.7, 5: 0.9, 6: 1.3,
    7: 1.8, 8: 2.5, 9: 2.0, 10: 1.0, 11: 0.7, 12: 0.6,
}  # fmt: skip
# what a station issues in an ordinary month at weight 1.0
STATION_ITEMS: dict[str, int] = {
    "QUILT": 6,
    "WATER-550": 12,
    "NOODLES": 8,
    "RAINCOAT": 10,
    "FLASHLIGHT": 3,
    "FIRSTAID": 2,
    "HYGIENE-KIT": 3,
}
SHELF_LIFE_DAYS = {"WATER-550": 540, "NOODLES": 365, "FIRSTAID": 900, "HYGIENE-KIT": 720}
# towns the last top-up skips: their stations end the year short
SKIPPED_IN_AUTUMN = ("松岙镇", "大堰镇", "裘村镇")
LAST_COVER = (9.0, 5.0, 2.0, 12.0, 4.0, 7.0, 1.5, 6.0, 10.0, 3.5)


def station_code(town_codes: dict[str, str], town: str) -> str:
    return f"ST-{town_codes[town]}"


def monthly_issue(item: str, town: str, month: int) -> int:
    """What a station wants to issue of ``item`` in a month of the year."""
    return max(1, round(STATION_ITEMS[item] * TOWN_WEIGHT[town] * SEASON[month]))


@dataclass(frozen=True)
class Incident:
    code: str
    name: str


@dataclass
class Step:
    """One operation of the year, at its time; ``lines`` are filled when it runs."""

    at: datetime
    kind: str  # procure | transfer | issue | relief
    warehouse: str  # the warehouse whose stock moves
    town: str | None = None
    cover_months: float = 0.0
    wanted: dict[str, int] = field(default_factory=dict)
    incident: Incident | None = None
    destination: Destination | None = None
    order: int = 0


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, dtime(hour, 0), SHANGHAI)


def _month_start(today: date, months_back: int) -> date:
    index = today.year * 12 + today.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def plan_year(today: date, town_codes: dict[str, str]) -> list[Step]:
    """The year's operations in time order (quantities of transfers and procurement are
    computed when they run, from the stock then)."""
    steps: list[Step] = []
    months = [_month_start(today, back) for back in range(12, 0, -1)]  # the last 12 months
    towns = list(TOWN_WEIGHT)
    typhoon_month = max(m for m in months if m.month == 8)
    flood_month = max(m for m in months if m.month == 6)
    typhoon = Incident(
        f"TY-{typhoon_month.year}-DEMO", f"{typhoon_month.year}年台风「烟雨」（演示）"
    )
    flood = Incident(f"FL-{flood_month.year}-DEMO", f"{flood_month.year}年梅汛期强降雨（演示）")
    # month → months of cover the transfers bring each station to (the last round varies by
    # town, so that today's months of stock range from short to comfortable)
    rounds = {months[0]: 4.0, months[4]: 2.0, flood_month: 4.0, months[-3]: 2.0, months[-1]: 0.0}
    for month in months:
        if month in rounds:
            steps.append(Step(_at(month, 9), "procure", "WH-DISTRICT", order=0))
            for n, town in enumerate(towns):
                last = month == months[-1]
                if last and town in SKIPPED_IN_AUTUMN:
                    continue
                steps.append(
                    Step(
                        _at(month + timedelta(days=2), 9) + timedelta(minutes=10 * n),
                        "transfer",
                        station_code(town_codes, town),
                        town=town,
                        cover_months=LAST_COVER[n % len(LAST_COVER)] if last else rounds[month],
                        order=1,
                    )
                )
        for n, town in enumerate(towns):
            wanted = {item: monthly_issue(item, town, month.month) for item in STATION_ITEMS}
            incident = None
            if month == typhoon_month and town in COASTAL:
                wanted = {item: q * 3 for item, q in wanted.items()}  # the storm itself
                incident = typhoon
            steps.append(
                Step(
                    _at(month + timedelta(days=9 + n % 10), 10),
                    "issue",
                    station_code(town_codes, town),
                    town=town,
                    wanted=wanted,
                    incident=incident,
                    destination=Destination(
                        kind="shelter" if incident else "site",
                        name=f"{town}{'临时安置点' if incident else '社区救助站'}",
                        town=town,
                    ),
                    order=2,
                )
            )
    # the district warehouse's own relief dispatches (met from the rounds' procurement)
    steps.append(
        Step(
            _at(flood_month + timedelta(days=20), 14),
            "relief",
            "WH-DISTRICT",
            town="大堰镇",
            wanted={"LIFEJACKET": 30, "RAINCOAT": 60, "WATER-550": 40},
            incident=flood,
            destination=Destination(kind="site", name="大堰镇后畈村避灾点", town="大堰镇"),
            order=3,
        )
    )
    steps.append(
        Step(
            _at(typhoon_month + timedelta(days=11), 8),
            "relief",
            "WH-DISTRICT",
            town="溪口镇",
            wanted={"QUILT": 80, "WATER-550": 60, "NOODLES": 30, "FIRSTAID": 20},
            incident=typhoon,
            destination=Destination(kind="shelter", name="溪口镇中心小学临时安置点", town="溪口镇"),
            order=3,
        )
    )
    steps.append(
        Step(
            _at(typhoon_month + timedelta(days=11), 9),
            "relief",
            "WH-DISTRICT",
            town="松岙镇",
            wanted={"TENT": 6, "COT": 40, "RAINCOAT": 100, "FLASHLIGHT": 30},
            incident=typhoon,
            destination=Destination(kind="site", name="松岙镇海沿村避灾点", town="松岙镇"),
            order=3,
        )
    )
    steps.sort(key=lambda s: (s.at, s.order))
    return steps


class YearOfStock:
    """Replays :func:`plan_year` through the commands, keeping a tally of each warehouse's
    stock per item so that transfers and issues ask only for what is there."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        settings: WarehouseSettings,
        town_codes: dict[str, str],
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.town_codes = town_codes
        self.stock: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.orders = 0
        self.steps: list[Step] = []

    def _uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(
            self.factory, source="/sunshine/warehouse", topic_prefix=self.settings.topic_prefix
        )

    async def run(self, today: date) -> int:
        """Replay the year; the number of dispatches made."""
        self.steps = plan_year(today, self.town_codes)
        made = 0
        started = time.monotonic()
        for n, step in enumerate(self.steps):
            with clock.travel(step.at):
                if step.kind == "procure":
                    await self._procure(step, n)
                elif step.kind == "transfer":
                    made += await self._transfer(step)
                else:
                    made += await self._issue(step)
        print(f"warehouse: a year of stock history ({made} dispatches, "
              f"{time.monotonic() - started:.1f} s)")  # fmt: skip
        return made

    # ---------------------------------------------------------------- sizing

    def _transfer_need(self, step: Step) -> dict[str, int]:
        assert step.town is not None
        held = self.stock[step.warehouse]
        need: dict[str, int] = {}
        month = step.at.astimezone(SHANGHAI).month
        for item in STATION_ITEMS:
            target = round(
                sum(
                    min(1.0, step.cover_months - k)
                    * monthly_issue(item, step.town, (month + k - 1) % 12 + 1)
                    for k in range(math.ceil(step.cover_months))
                )
            )
            if held[item] < target:
                need[item] = target - held[item]
        return need

    def _round_need(self, index: int) -> dict[str, int]:
        """What the transfers and relief dispatches until the next procurement round need."""
        total: dict[str, int] = defaultdict(int)
        for step in self.steps[index + 1 :]:
            if step.kind == "procure":
                break
            wanted = self._transfer_need(step) if step.kind == "transfer" else step.wanted
            if step.kind in ("transfer", "relief"):
                for item, q in wanted.items():
                    total[item] += q
        return dict(total)

    # ---------------------------------------------------------------- commands

    async def _procure(self, step: Step, index: int) -> None:
        need = self._round_need(index)
        lines = sorted(need.items())
        if not lines:
            return
        self.orders += 1
        day = step.at.astimezone(SHANGHAI).date()
        order = f"CG-{day:%Y%m}-{self.orders:02d}"
        expected = tuple(
            ExpectedLine(
                item,
                qty,
                None,
                f"{order}-{item}",
                day + timedelta(days=SHELF_LIFE_DAYS[item]) if item in SHELF_LIFE_DAYS else None,
            )
            for item, qty in lines
        )
        await receive_procurement(self._uow(), step.warehouse, order, expected)
        for item, qty in lines:
            self.stock[step.warehouse][item] += qty

    async def _transfer(self, step: Step) -> int:
        district = self.stock["WH-DISTRICT"]
        lines = {
            item: min(q, district[item])
            for item, q in self._transfer_need(step).items()
            if district[item] > 0
        }
        if not lines:
            return 0
        await self._dispatch(
            "WH-DISTRICT",
            Destination(kind="station", warehouse_code=step.warehouse),
            lines,
            incident=None,
            recipient=(f"{step.town}储备点仓管员", f"{step.town}救灾物资储备点"),
        )
        for item, q in lines.items():
            district[item] -= q
            self.stock[step.warehouse][item] += q
        return 1

    async def _issue(self, step: Step) -> int:
        held = self.stock[step.warehouse]
        lines = {item: min(q, held[item]) for item, q in step.wanted.items() if held[item] > 0}
        if not lines:
            return 0
        assert step.destination is not None
        assert step.town is not None
        await self._dispatch(
            step.warehouse,
            step.destination,
            lines,
            incident=step.incident,
            recipient=(f"{step.town}民政办", f"{step.town}人民政府"),
            returns=(ReturnLine("COT", 5),) if "COT" in lines else (),
        )
        for item, q in lines.items():
            held[item] -= q
        return 1

    async def _dispatch(
        self,
        source: str,
        destination: Destination,
        lines: dict[str, int],
        *,
        incident: Incident | None,
        recipient: tuple[str, str],
        returns: tuple[ReturnLine, ...] = (),
    ) -> None:
        await dispatch_through(
            self._uow(),
            source,
            destination,
            lines,
            incident=incident,
            recipient=recipient,
            returns=returns,
            min_days=self.settings.pick_min_days_to_expiry,
        )
        if returns:
            for ret in returns:
                self.stock[source][ret.item_code] += ret.quantity


async def receive_procurement(
    uow: SqlUnitOfWork, warehouse_code: str, order: str, expected: tuple[ExpectedLine, ...]
) -> None:
    """A procurement delivery announced and received in full, at ``clock.now()``."""
    async with uow:
        inbound_id = await register_procurement(
            uow,
            RegisterProcurement(
                warehouse_code=warehouse_code,
                procurement_order=order,
                lines=expected,
                actor=ACTOR,
                actor_org=FH,
                supplier="区应急管理局统一采购（演示）",
            ),
        )
        await confirm_inbound(
            uow,
            ConfirmInbound(
                inbound_id=inbound_id,
                warehouse_code=None,
                lines=tuple(
                    ConfirmLine(
                        n, None, line.quantity, lot_no=line.lot_no, expiry_date=line.expiry_date
                    )
                    for n, line in enumerate(expected, start=1)
                ),
                actor="warehouse",
                actor_org=FH,
                received_at=clock.now(),
            ),
        )
        await uow.commit()


async def dispatch_through(
    uow: SqlUnitOfWork,
    source: str,
    destination: Destination,
    lines: dict[str, int],
    *,
    incident: Incident | None,
    recipient: tuple[str, str],
    min_days: int,
    returns: tuple[ReturnLine, ...] = (),
) -> uuid.UUID:
    """A dispatch from request to sign-off in one transaction, by four pairs of hands: requested
    at ``clock.now()``, approved an hour later by another person, picked (FEFO) after two,
    shipped after three, signed for after six; a transfer lands at its station. Its id."""
    base = clock.now()
    async with uow:
        requested = await dispatch.request_dispatch(
            uow,
            RequestDispatch(
                from_warehouse_code=source,
                destination=destination,
                lines=tuple(sorted(lines.items())),
                actor="dispatcher",
                actor_org=FH,
                urgency="urgent" if incident else "normal",
                incident_code=incident.code if incident else None,
                incident_name=incident.name if incident else None,
                requested_at=base,
            ),
        )
        dispatch_id: uuid.UUID = requested.row.id
        with clock.travel(base + timedelta(hours=1)):
            await dispatch.approve_dispatch(
                uow, ApproveDispatch(dispatch_id, "approver", actor_org=FH)
            )
        with clock.travel(base + timedelta(hours=2)):
            await picking.pick_dispatch(
                uow, PickDispatch(dispatch_id, "warehouse", min_days, actor_org=FH)
            )
        with clock.travel(base + timedelta(hours=3)):
            await dispatch.ship_dispatch(
                uow,
                ShipDispatch(
                    dispatch_id,
                    "warehouse",
                    waybill_no=f"ZY-{str(dispatch_id)[-8:]}",
                    carrier="区红十字会自有车辆",
                    actor_org=FH,
                ),
            )
        at = base + timedelta(hours=6)
        with clock.travel(at):
            await delivery.deliver_dispatch(
                uow,
                DeliverDispatch(
                    dispatch_id,
                    recipient_name=recipient[0],
                    recipient_org=recipient[1],
                    actor="dispatcher",
                    actor_org=FH,
                    returns=returns,
                    delivered_at=at,
                ),
            )
        await uow.commit()
    return dispatch_id
