"""``GET /api/v1/reports/goods-value`` (and ``.xlsx``): the stock and its flows valued in fen,
per warehouse and category, with totals per warehouse, per category and overall (物资价值).

The figures and what balances with what: :mod:`warehouse.domain.valuation`; where they are
read from: :mod:`warehouse.service_layer.queries.goods_value`. Read like the stock: every staff
role, a town branch's staff only their organisation's warehouses (district staff and the
auditor all). Dates are Asia/Shanghai days, both ends included.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import StaffPrincipal
from shared.errors import ValidationFailed
from shared.http_commands import RuntimeDep
from shared.openapi import Declared, raises
from warehouse.domain.model import CATEGORIES, SHANGHAI, local_today
from warehouse.domain.valuation import Figures, Flow, Period, PeriodRefused, yuan
from warehouse.entrypoints.api.deps import Reader
from warehouse.entrypoints.api.exports import XLSX_MEDIA_TYPE, content_disposition, xlsx_cell
from warehouse.service_layer import clock
from warehouse.service_layer.queries.goods_value import GoodsValue, Place, goods_value
from warehouse.service_layer.scope import read_scope

router = APIRouter(prefix="/api/v1/reports", tags=["reports 报表"])

BAD_PERIOD: Declared = (
    ValidationFailed,
    "to before from, a period of more than 5 years, or a date outside 1900–2999",
)
From = Annotated[
    date | None,
    Query(alias="from", description="首日（含，Asia/Shanghai）；默认 to 所在年的 1 月 1 日"),
]
To = Annotated[date | None, Query(alias="to", description="末日（含，Asia/Shanghai）；默认今天")]

# (column of the answer, its Chinese header in the xlsx, "qty" or "fen")
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("opening_on_hand_quantity", "期初在库数量", "qty"),
    ("opening_on_hand_value_fen", "期初在库金额（元）", "fen"),
    ("opening_in_transit_quantity", "期初在途数量", "qty"),
    ("opening_in_transit_value_fen", "期初在途金额（元）", "fen"),
    ("received_donated_value_fen", "接收捐赠（元）", "fen"),
    ("received_procured_value_fen", "采购入库（元）", "fen"),
    ("received_transfer_value_fen", "调入（元）", "fen"),
    ("count_gain_value_fen", "盘盈（元）", "fen"),
    ("shipped_value_fen", "发运（元）", "fen"),
    ("returned_value_fen", "签收退回（元）", "fen"),
    ("delivered_value_fen", "发放签收（元）", "fen"),
    ("transferred_out_value_fen", "调出（元）", "fen"),
    ("lost_in_transit_value_fen", "运输短少破损（元）", "fen"),
    ("written_off_value_fen", "报损核销（元）", "fen"),
    ("closing_on_hand_quantity", "期末在库数量", "qty"),
    ("closing_on_hand_value_fen", "期末在库金额（元）", "fen"),
    ("closing_in_transit_quantity", "期末在途数量", "qty"),
    ("closing_in_transit_value_fen", "期末在途金额（元）", "fen"),
)


class FiguresOut(BaseModel):
    """Quantities in the items' units (summed over a category's items), values in fen. The books
    balance: opening (on hand + in transit) + received + count gains − delivered − transferred
    out − lost in transit − written off = closing (on hand + in transit)."""

    opening_on_hand_quantity: int
    opening_on_hand_value_fen: int
    opening_in_transit_quantity: int = Field(description="已发运、尚未签收 shipped, not signed for")
    opening_in_transit_value_fen: int
    received_donated_value_fen: int = Field(description="接收捐赠 goods gifts received")
    received_procured_value_fen: int = Field(description="采购入库 purchases received")
    received_transfer_value_fen: int = Field(description="调入 transfers landed here")
    count_gain_value_fen: int = Field(description="盘盈 stock count increases")
    shipped_value_fen: int = Field(description="发运 shipped (on hand → in transit)")
    returned_value_fen: int = Field(description="签收退回 handed back at sign-off (→ on hand)")
    delivered_value_fen: int = Field(
        description="发放签收 units recipients signed for × the lot's unit value"
    )
    transferred_out_value_fen: int = Field(description="调出 arrived at another warehouse")
    lost_in_transit_value_fen: int = Field(description="运输短少破损 short or damaged on the way")
    written_off_value_fen: int = Field(description="报损核销 damage, expiry and count losses")
    closing_on_hand_quantity: int
    closing_on_hand_value_fen: int
    closing_in_transit_quantity: int
    closing_in_transit_value_fen: int


class PlaceOut(BaseModel):
    warehouse_code: str
    warehouse_name: str
    org_code: str = Field(description="所属组织 the organisation the warehouse belongs to")
    org_name: str


class CategoryOut(BaseModel):
    category: str
    category_name: str


class RowOut(FiguresOut, CategoryOut, PlaceOut):
    pass


class WarehouseTotalOut(FiguresOut, PlaceOut):
    pass


class CategoryTotalOut(FiguresOut, CategoryOut):
    pass


class GoodsValueOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first_day: date = Field(serialization_alias="from", description="首日（含）")
    last_day: date = Field(serialization_alias="to", description="末日（含）")
    timezone: str = "Asia/Shanghai"
    rows: list[RowOut] = Field(description="每个仓库、每个类别 per warehouse and category")
    warehouses: list[WarehouseTotalOut] = Field(description="按仓库合计 totals per warehouse")
    categories: list[CategoryTotalOut] = Field(description="按类别合计 totals per category")
    total: FiguresOut = Field(description="总计 overall")


def figures_of(f: Figures) -> dict[str, int]:
    out = {
        "opening_on_hand_quantity": f.opening.on_hand.quantity,
        "opening_on_hand_value_fen": f.opening.on_hand.value_fen,
        "opening_in_transit_quantity": f.opening.in_transit.quantity,
        "opening_in_transit_value_fen": f.opening.in_transit.value_fen,
        "closing_on_hand_quantity": f.closing.on_hand.quantity,
        "closing_on_hand_value_fen": f.closing.on_hand.value_fen,
        "closing_in_transit_quantity": f.closing.in_transit.quantity,
        "closing_in_transit_value_fen": f.closing.in_transit.value_fen,
    }
    out |= {f"{flow.value}_value_fen": f.value_of(flow) for flow in Flow}
    return out


def _category_order(category: str) -> tuple[int, str]:
    order = list(CATEGORIES)
    return (order.index(category) if category in order else len(order), category)


def _place(place: Place | None, code: str) -> dict[str, str]:
    return {
        "warehouse_code": code,
        "warehouse_name": place.name if place else code,
        "org_code": place.org_code if place else "",
        "org_name": place.org_name if place else "",
    }


def _category(category: str) -> dict[str, str]:
    return {"category": category, "category_name": CATEGORIES.get(category, category)}


def answer_of(report: GoodsValue) -> GoodsValueOut:
    rows = sorted(report.rows.items(), key=lambda kv: (kv[0][0], _category_order(kv[0][1])))
    return GoodsValueOut(
        first_day=report.period.first,
        last_day=report.period.last,
        rows=[
            RowOut(**_place(report.places.get(w), w), **_category(c), **figures_of(f))
            for (w, c), f in rows
        ],
        warehouses=[
            WarehouseTotalOut(**_place(report.places.get(w), w), **figures_of(f))
            for w, f in report.totals.warehouses.items()
        ],
        categories=[
            CategoryTotalOut(**_category(c), **figures_of(f))
            for c, f in sorted(
                report.totals.categories.items(), key=lambda kv: _category_order(kv[0])
            )
        ],
        total=FiguresOut(**figures_of(report.totals.overall)),
    )


def _period(first: date | None, last: date | None) -> Period:
    try:
        return Period.of(first, last, today=local_today(clock.now()))
    except PeriodRefused as exc:
        raise ValidationFailed(exc.message, details=exc.details) from exc


async def _report(runtime: RuntimeDep, staff: StaffPrincipal, period: Period) -> GoodsValue:
    async with runtime.session_factory() as session:
        return await goods_value(session, period, scope=read_scope(staff))


@router.get(
    "/goods-value",
    response_model=GoodsValueOut,
    response_model_by_alias=True,
    summary="物资价值：在库与在途、接收、发放、调出、核销（按仓库与类别，金额为分）",
    responses=raises(BAD_PERIOD),
)
async def report(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    first: From = None,
    last: To = None,
) -> GoodsValueOut:
    return answer_of(await _report(runtime, staff, _period(first, last)))


# ---------------------------------------------------------------------------------- xlsx

XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "物资价值 xlsx (the same figures, in yuan)",
        "content": {XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _cells(figures: dict[str, Any]) -> list[Any]:
    return [yuan(figures[key]) if kind == "fen" else figures[key] for key, _, kind in COLUMNS]


def _sheet(
    workbook: Workbook,
    title: str,
    labels: Sequence[str],
    rows: Sequence[tuple[Sequence[Any], dict[str, Any]]],
    total: dict[str, Any],
) -> None:
    """One sheet: ``labels`` then the figure columns, a row per entry, then 合计."""
    sheet = workbook.create_sheet(title=title)
    sheet.append([*labels, *(header for _, header, _ in COLUMNS)])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for label_values, figures in rows:
        sheet.append([xlsx_cell(v) for v in label_values] + _cells(figures))
    sheet.append(["合计", *[None] * (len(labels) - 1), *_cells(total)])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    first_figure = len(labels) + 1
    for row in sheet.iter_rows(min_row=2, min_col=first_figure):
        for cell, (_, _, kind) in zip(row, COLUMNS, strict=True):
            cell.number_format = "#,##0.00" if kind == "fen" else "#,##0"
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = 16


def xlsx_of(answer: GoodsValueOut, generated_at: datetime) -> bytes:
    """The answer as a workbook: per warehouse and category, per warehouse, per category (each
    with its totals row), and a sheet saying the period and how the figures balance."""
    total = answer.total.model_dump()
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    _sheet(
        workbook,
        "物资价值",
        ("仓库编码", "仓库名称", "所属组织", "物资类别"),
        [
            ((r.warehouse_code, r.warehouse_name, r.org_name, r.category_name), r.model_dump())
            for r in answer.rows
        ],
        total,
    )
    _sheet(
        workbook,
        "按仓库",
        ("仓库编码", "仓库名称", "所属组织"),
        [
            ((w.warehouse_code, w.warehouse_name, w.org_name), w.model_dump())
            for w in answer.warehouses
        ],
        total,
    )
    _sheet(
        workbook,
        "按类别",
        ("物资类别",),
        [((c.category_name,), c.model_dump()) for c in answer.categories],
        total,
    )
    about = workbook.create_sheet(title="说明")
    for line in (
        ("期间", f"{answer.first_day} 至 {answer.last_day}（含首末日，北京时间）"),
        ("生成时间", generated_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")),
        ("金额", "元，由分精确换算（批次单价 × 数量）"),
        ("在途", "已发运、尚未签收的物资，仍计入发出仓库"),
        (
            "平衡关系",
            "期初（在库+在途）+ 接收捐赠 + 采购入库 + 调入 + 盘盈 − 发放签收 − 调出"
            " − 运输短少破损 − 报损核销 = 期末（在库+在途）",
        ),
    ):
        about.append(list(line))
    about.column_dimensions["A"].width = 12
    about.column_dimensions["B"].width = 90
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@router.get(
    "/goods-value.xlsx",
    summary="物资价值 Excel 导出（同一数据，金额为元）",
    response_class=Response,
    responses={**raises(BAD_PERIOD), **XLSX_RESPONSE},
)
async def report_xlsx(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    first: From = None,
    last: To = None,
) -> Response:
    period = _period(first, last)
    answer = answer_of(await _report(runtime, staff, period))
    name = f"物资价值_{period.first}_{period.last}.xlsx"
    return Response(
        xlsx_of(answer, clock.now()),
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": content_disposition(name)},
    )
