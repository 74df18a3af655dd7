"""``/api/v1/preparedness``: consumption (AMC), months of stock, reorder suggestions, stock
policies and the near-expiry rotation list (smart preparedness, 智慧备灾).

Every reader sees the warehouses of their organisation (district staff and the auditor: all).
The lists take ``format=csv`` or ``format=xlsx`` for the whole filtered list as a download.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Forbidden, NotFound, PreconditionFailed, PreconditionRequired
from shared.http_commands import WRITE_CONFLICT, RuntimeDep, conflicts_as_409
from shared.openapi import Declared, raises
from shared.pagination import Cursor, decode_cursor, encode_cursor
from shared.versions import etag
from warehouse.domain.model import CATEGORIES
from warehouse.entrypoints.api.deps import (
    OTHER_ORG_READ,
    OTHER_ORG_WRITE,
    IfMatch,
    Reader,
    settings_of,
    versioned,
)
from warehouse.entrypoints.api.exports import EXPORTABLE, export_response
from warehouse.entrypoints.api.preparedness_schemas import (
    CategoryPolicyIn,
    CategoryPolicyList,
    CategoryPolicyOut,
    HeatCellOut,
    HeatItem,
    HeatmapOut,
    LevelOut,
    LevelPage,
    RotationOut,
    RotationPage,
    StockPolicyIn,
    StockPolicyOut,
)
from warehouse.service_layer import stock_policies
from warehouse.service_layer.preparedness import (
    DISTRICT_TOWN,
    LevelAssessment,
    RotationRow,
    assess_filtered,
    heatmap_cells,
    rotation_list,
)
from warehouse.service_layer.scope import ensure_sees_code, read_scope

router = APIRouter(prefix="/api/v1/preparedness", tags=["preparedness 备灾"])

PolicyWriter = require_roles(Role.WAREHOUSE, Role.APPROVER)
DistrictApprover = require_roles(Role.APPROVER)

BigLimit = Annotated[int, Query(ge=1, le=500, description="Page size (1–500)")]
Format = Annotated[
    Literal["json", "csv", "xlsx"] | None,
    Query(description="csv / xlsx: the whole filtered list as a download"),
]

NO_PAIR: Declared = (NotFound, "No such warehouse or item, or no policy of its own")
NO_CATEGORY: Declared = (NotFound, "No such category")
VERSION_REQUIRED: Declared = (PreconditionRequired, "Changing a policy needs If-Match")
VERSION_STALE: Declared = (PreconditionFailed, "If-Match is not the current version")
DISTRICT_ONLY: Declared = (
    Forbidden,
    "权限不足，或非区红十字会人员 (roles, or not district staff)",
)

T = TypeVar("T")


# ------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class LevelFilters:
    """The filters of the level lists (levels and suggestions), as query parameters."""

    warehouse_code: Annotated[str | None, Query(max_length=32)] = None
    town: Annotated[str | None, Query(max_length=20)] = None
    category: Annotated[str | None, Query(max_length=20)] = None
    item_code: Annotated[str | None, Query(max_length=64)] = None
    below_reorder: bool | None = None


async def _assessed(
    session: Any, runtime: RuntimeDep, staff: StaffPrincipal, filters: LevelFilters
) -> list[LevelAssessment]:
    scope = read_scope(staff)
    await ensure_sees_code(session, scope, filters.warehouse_code)
    return await assess_filtered(
        session,
        settings_of(runtime),
        org_code=scope,
        warehouse_code=filters.warehouse_code,
        town=filters.town,
        category=filters.category,
        item_code=filters.item_code,
        below_reorder=filters.below_reorder,
    )


def _levels_answer(
    rows: Sequence[LevelAssessment],
    key: Callable[[LevelAssessment], tuple[str, ...]],
    filename: str,
    fmt: Format,
    limit: int,
    cursor: str | None,
) -> Any:
    """The whole list as a CSV or xlsx file (``fmt``), else one JSON page of it."""
    if fmt in ("csv", "xlsx"):
        return export_response(
            [_level_row(a) for a in rows], LEVEL_HEADERS, fmt=fmt, filename=filename
        )
    page, next_cursor = _page(rows, key, limit, cursor)
    return LevelPage(items=[LevelOut.of(a) for a in page], next_cursor=next_cursor)


def _page(
    rows: Sequence[T], key: Callable[[T], tuple[str, ...]], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """Keyset paging over rows already in ``key`` order (``key`` of strings)."""
    if cursor is not None:
        arity = len(key(rows[0])) if rows else 0
        after = tuple(decode_cursor(cursor, arity)) if arity else ()
        rows = [r for r in rows if key(r) > after]
    page = list(rows[:limit])
    more = len(rows) > limit
    return page, encode_cursor(*key(page[-1])) if more else None


def _level_key(a: LevelAssessment) -> tuple[str, ...]:
    return (a.warehouse_code, a.item_code)


def _suggestion_key(a: LevelAssessment) -> tuple[str, ...]:
    # MOS ascending, no MOS (no consumption) last; zero-padded so text order is number order
    mos = f"{a.mos:015.2f}" if a.mos is not None else "~"
    return (mos, a.warehouse_code, a.item_code)


LEVEL_HEADERS = [
    "仓库编码",
    "仓库",
    "乡镇",
    "物资编码",
    "物资",
    "类别",
    "单位",
    "在库",
    "可用",
    "月均消耗",
    "可用月数",
    "缺货天数",
    "在途",
    "已订未到",
    "补货周期内到期",
    "补货点（月）",
    "目标（月）",
    "最低库存",
    "最高库存",
    "目标数量",
    "建议补货",
    "策略来源",
    "低于补货点",
]


def _level_row(a: LevelAssessment) -> list[Any]:
    return [
        a.warehouse_code,
        a.warehouse_name,
        a.town or DISTRICT_TOWN,
        a.item_code,
        a.item_name,
        CATEGORIES.get(a.category, a.category),
        a.unit,
        a.on_hand,
        a.available,
        a.amc,
        a.mos,
        a.days_out_of_stock,
        a.in_transit,
        a.on_order,
        a.expiring_within_lead,
        a.policy.reorder_mos,
        a.policy.target_mos,
        a.policy.min_quantity,
        a.policy.max_quantity,
        a.suggestion.target_quantity,
        a.suggestion.quantity,
        "单品" if a.policy.source == "item" else "类别默认",
        "是" if a.below_reorder else "否",
    ]


# ------------------------------------------------------------------------------- levels


@router.get(
    "/levels",
    response_model=LevelPage,
    summary="各仓库物资的月均消耗、可用月数与补货建议（format=csv/xlsx 导出）",
    responses={**raises(OTHER_ORG_READ), **EXPORTABLE},
)
async def list_levels(
    runtime: RuntimeDep,
    filters: Annotated[LevelFilters, Depends()],
    staff: StaffPrincipal = Reader,
    format: Format = None,
    limit: BigLimit = 100,
    cursor: Cursor = None,
) -> Any:
    async with runtime.session_factory() as session:
        assessed = await _assessed(session, runtime, staff, filters)
    return _levels_answer(assessed, _level_key, "备灾库存", format, limit, cursor)


@router.get(
    "/suggestions",
    response_model=LevelPage,
    summary="补货建议（建议数量 > 0，按可用月数升序；format=csv/xlsx 导出）",
    responses={**raises(OTHER_ORG_READ), **EXPORTABLE},
)
async def list_suggestions(
    runtime: RuntimeDep,
    filters: Annotated[LevelFilters, Depends()],
    staff: StaffPrincipal = Reader,
    format: Format = None,
    limit: BigLimit = 100,
    cursor: Cursor = None,
) -> Any:
    async with runtime.session_factory() as session:
        assessed = await _assessed(session, runtime, staff, filters)
    wanted = sorted((a for a in assessed if a.suggestion.quantity > 0), key=_suggestion_key)
    return _levels_answer(wanted, _suggestion_key, "补货建议", format, limit, cursor)


@router.get(
    "/heatmap",
    response_model=HeatmapOut,
    summary="乡镇 × 物资的可用月数热力图",
    responses=raises(OTHER_ORG_READ),
)
async def heatmap(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    category: str | None = Query(None, max_length=20),
    item_code: str | None = Query(None, max_length=64),
) -> HeatmapOut:
    async with runtime.session_factory() as session:
        filters = LevelFilters(category=category, item_code=item_code)
        assessed = await _assessed(session, runtime, staff, filters)
    cells = heatmap_cells(assessed)
    seen: dict[str, HeatItem] = {}
    for a in assessed:
        seen.setdefault(a.item_code, HeatItem(code=a.item_code, name=a.item_name, unit=a.unit))
    towns = sorted({c.town for c in cells}, key=lambda t: (t != DISTRICT_TOWN, t))
    return HeatmapOut(
        towns=towns,
        items=[seen[code] for code in sorted(seen)],
        cells=[HeatCellOut.of(c) for c in cells],
    )


# ------------------------------------------------------------------------------- rotation

ROTATION_HEADERS = [
    "仓库编码",
    "仓库",
    "乡镇",
    "物资编码",
    "物资",
    "单位",
    "批号",
    "效期",
    "可用",
    "到期前可消耗",
    "到期余量",
    "月均消耗",
    "建议",
    "调往仓库",
]
ACTION_ZH = {"dispatch_first": "优先发放", "transfer": "调拨", "donate_on": "转赠"}


def _rotation_row(r: RotationRow) -> list[Any]:
    return [
        r.warehouse_code,
        r.warehouse_name,
        r.town or DISTRICT_TOWN,
        r.item_code,
        r.item_name,
        r.unit,
        r.lot.lot_no,
        r.lot.expiry_date,
        r.lot.available,
        r.lot.consumed_before_expiry,
        r.lot.surplus,
        r.amc,
        ACTION_ZH.get(r.lot.action, r.lot.action),
        r.transfer_to_code,
    ]


def _rotation_key(r: RotationRow) -> tuple[str, ...]:
    return (r.lot.expiry_date.isoformat(), r.warehouse_code, r.item_code, r.lot.lot_no)


@router.get(
    "/rotation",
    response_model=RotationPage,
    summary="近效期轮换清单（按当前消耗到期仍有余量的批次；format=csv/xlsx 导出）",
    responses={**raises(OTHER_ORG_READ), **EXPORTABLE},
)
async def list_rotation(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    warehouse_code: str | None = Query(None, max_length=32),
    category: str | None = Query(None, max_length=20),
    action: Literal["dispatch_first", "transfer", "donate_on"] | None = None,
    format: Format = None,
    limit: BigLimit = 100,
    cursor: Cursor = None,
) -> Any:
    scope = read_scope(staff)
    async with runtime.session_factory() as session:
        await ensure_sees_code(session, scope, warehouse_code)
        rows = await rotation_list(session, settings_of(runtime), org_code=scope)
    rows = [
        r
        for r in rows
        if (warehouse_code is None or r.warehouse_code == warehouse_code)
        and (category is None or r.category == category)
        and (action is None or r.lot.action == action)
    ]
    if format in ("csv", "xlsx"):
        return export_response(
            [_rotation_row(r) for r in rows], ROTATION_HEADERS, fmt=format, filename="近效期轮换"
        )
    page, next_cursor = _page(rows, _rotation_key, limit, cursor)
    return RotationPage(items=[RotationOut.of(r) for r in page], next_cursor=next_cursor)


# ------------------------------------------------------------------------------- policies


@router.get(
    "/category-policies", response_model=CategoryPolicyList, summary="各物资类别的默认库存策略"
)
async def list_category_policies(
    runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> CategoryPolicyList:
    async with runtime.session_factory() as session:
        rows = await stock_policies.list_category_policies(session)
    return CategoryPolicyList(items=[CategoryPolicyOut.model_validate(r) for r in rows])


@router.get(
    "/category-policies/{category}",
    response_model=CategoryPolicyOut,
    summary="某物资类别的默认库存策略",
    responses=versioned(NO_CATEGORY),
)
async def get_category_policy(
    category: str, runtime: RuntimeDep, _: StaffPrincipal = Reader
) -> JSONResponse:
    async with runtime.session_factory() as session:
        body = await stock_policies.category_policy_body(session, category)
    return JSONResponse(body, headers=etag(body["version"]))


@router.put(
    "/category-policies/{category}",
    response_model=CategoryPolicyOut,
    summary="设置物资类别的默认库存策略（区红十字会审批人；If-Match）",
    responses=versioned(
        NO_CATEGORY, VERSION_REQUIRED, VERSION_STALE, DISTRICT_ONLY, WRITE_CONFLICT
    ),
)
async def put_category_policy(
    category: str,
    body: CategoryPolicyIn,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = DistrictApprover,
) -> JSONResponse:
    command = stock_policies.SetCategoryPolicy(
        category=category,
        reorder_mos=body.reorder_mos,
        target_mos=body.target_mos,
        lead_time_days=body.lead_time_days,
        actor=staff.username,
        actor_org=staff.org,
        expected_version=version,
    )
    async with conflicts_as_409(), runtime.unit_of_work() as uow:
        await stock_policies.set_category_policy(uow, command)
        result = await stock_policies.category_policy_body(uow.session, category)
        await uow.commit()
    return JSONResponse(result, headers=etag(result["version"]))


@router.get(
    "/policies/{warehouse_code}/{item_code}",
    response_model=StockPolicyOut,
    summary="某仓库某物资的库存策略（单独设置的）",
    responses=versioned(NO_PAIR, OTHER_ORG_READ),
)
async def get_stock_policy(
    warehouse_code: str, item_code: str, runtime: RuntimeDep, staff: StaffPrincipal = Reader
) -> JSONResponse:
    async with runtime.session_factory() as session:
        body = await stock_policies.stock_policy_body(
            session, warehouse_code, item_code, scope=read_scope(staff)
        )
    return JSONResponse(body, headers=etag(body["version"]))


@router.put(
    "/policies/{warehouse_code}/{item_code}",
    response_model=StockPolicyOut,
    summary="设置某仓库某物资的库存策略（按月数或最低/最高；修改须 If-Match）",
    responses=versioned(NO_PAIR, VERSION_REQUIRED, VERSION_STALE, OTHER_ORG_WRITE, WRITE_CONFLICT),
)
async def put_stock_policy(
    warehouse_code: str,
    item_code: str,
    body: StockPolicyIn,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = PolicyWriter,
) -> JSONResponse:
    command = stock_policies.SetStockPolicy(
        warehouse_code=warehouse_code,
        item_code=item_code,
        **body.model_dump(),
        actor=staff.username,
        actor_org=staff.org,
        expected_version=version,
    )
    async with conflicts_as_409(), runtime.unit_of_work() as uow:
        await stock_policies.set_stock_policy(uow, command)
        result = await stock_policies.stock_policy_body(
            uow.session, warehouse_code, item_code, scope=None
        )
        await uow.commit()
    return JSONResponse(result, headers=etag(result["version"]))


@router.delete(
    "/policies/{warehouse_code}/{item_code}",
    status_code=204,
    summary="取消某仓库某物资的单独策略（恢复类别默认；If-Match）",
    responses=raises(NO_PAIR, VERSION_REQUIRED, VERSION_STALE, OTHER_ORG_WRITE, WRITE_CONFLICT),
)
async def delete_stock_policy(
    warehouse_code: str,
    item_code: str,
    runtime: RuntimeDep,
    version: IfMatch,
    staff: StaffPrincipal = PolicyWriter,
) -> Response:
    command = stock_policies.ClearStockPolicy(
        warehouse_code=warehouse_code,
        item_code=item_code,
        actor=staff.username,
        actor_org=staff.org,
        expected_version=version,
    )
    async with conflicts_as_409(), runtime.unit_of_work() as uow:
        await stock_policies.clear_stock_policy(uow, command)
        await uow.commit()
    return Response(status_code=204)
