"""``/api/v1/follow-up-visits``: the visits due by rule after a disbursement or a delivery
(docs/donation.md#follow-up-visits): the due list, one visit, its outcome, its photos.

Project officers (the roles that record follow-ups) record outcomes and upload photos; the
readers of follow-ups, the auditor included, read the list and the photos. A town branch's
staff reach only their own organisation's projects.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from donation.domain.follow_up_plan import DEFAULT_RULES, FollowUpRule, RecordVisitOutcome
from donation.entrypoints.api.deps import IfMatch
from donation.entrypoints.api.follow_up_visit_schemas import (
    FollowUpVisitOut,
    FollowUpVisitPage,
    VisitListState,
    VisitOutcomeIn,
    VisitPhotoOut,
)
from donation.entrypoints.api.project_access import VERSION, Reader, Visitor
from donation.service_layer import follow_up_visits
from donation.service_layer.follow_up_visits import PHOTO_HASH_PATTERN, PHOTO_TYPES, PhotoStore
from donation.service_layer.queries import follow_up_visits as queries
from shared.auth import StaffPrincipal
from shared.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from shared.http_commands import IdempotencyKey, RuntimeDep, idempotent, read_row
from shared.openapi import IDEMPOTENCY_CONFLICT, Declared, Responses, raises
from shared.organisations import ORG_CODE_PATTERN
from shared.pagination import Cursor, Limit
from shared.request_guard import MAX_UPLOAD_BYTES
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork

router = APIRouter(tags=["projects"])

NO_VISIT: Declared = (NotFound, "No such follow-up visit")
OUT_OF_REACH: Declared = (Forbidden, "The visit belongs to another organisation's project")
VisitId = Annotated[uuid.UUID, Path(description="回访计划编号")]
AsOf = Annotated[
    date | None,
    Query(description="按此日计算状态（默认今天，北京时间）(states as of this day; default today)"),
]
PROJECT_CODE = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
ALREADY_THERE: Responses = {
    200: {
        "model": VisitPhotoOut,
        "description": "这张照片已在该回访中 (the visit had this photo already)",
    }
}
PHOTO: Responses = {
    200: {"description": "照片 The photo", "content": dict.fromkeys(PHOTO_TYPES, _BINARY)}
}


def follow_up_rules(runtime: ServiceRuntime) -> tuple[FollowUpRule, ...]:
    """``DONATION_FOLLOW_UP_RULES`` (validated at start), else the defaults."""
    settings = getattr(runtime, "settings", None)  # a test's stand-in runtime may have none
    rules = getattr(settings, "follow_up_plan", DEFAULT_RULES)
    return tuple(rules)


def attachment_store(runtime: ServiceRuntime) -> PhotoStore:
    store = runtime.extras.get("attachments")
    if not isinstance(store, PhotoStore):
        store = PhotoStore(runtime.settings.attachments_dir)  # type: ignore[attr-defined]
        runtime.extras["attachments"] = store
    return store


@router.get(
    "/api/v1/follow-up-visits",
    response_model=FollowUpVisitPage,
    summary="回访计划 The due list: planned visits, earliest due first",
    responses=raises(
        (Forbidden, "A town branch asked for another organisation"),
        (ValidationFailed, "An invalid cursor"),
    ),
)
async def list_visits(
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
    state: Annotated[
        VisitListState,
        Query(
            description="open 未完成（默认） / due 待回访 / overdue 逾期 / done 已完成 / "
            "cancelled 已取消 / all 全部"
        ),
    ] = "open",
    project_code: Annotated[
        str | None, Query(pattern=PROJECT_CODE, max_length=32, description="项目")
    ] = None,
    org: Annotated[
        str | None,
        Query(pattern=ORG_CODE_PATTERN, max_length=16, description="机构（镇街只能本机构）"),
    ] = None,
    due_before: Annotated[date | None, Query(description="应回访日期早于此日")] = None,
    as_of: AsOf = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FollowUpVisitPage:
    async with runtime.unit_of_work() as uow:
        return await queries.list_visits(
            uow,
            actor_org=staff.org,
            as_of=as_of or follow_up_visits.today(),
            state=state,
            project_code=project_code,
            org=org,
            due_before=due_before,
            limit=limit,
            cursor=cursor,
        )


@router.get(
    "/api/v1/follow-up-visits/{visit_id}",
    response_model=FollowUpVisitOut,
    summary="一次回访 One planned visit (its version as the ETag)",
    responses=raises(NO_VISIT, OUT_OF_REACH),
)
async def get_visit(
    visit_id: VisitId, runtime: RuntimeDep, staff: StaffPrincipal = Reader, as_of: AsOf = None
) -> JSONResponse:
    async def render(uow: SqlUnitOfWork) -> dict[str, Any]:
        await follow_up_visits.get_visit(uow, visit_id, staff.org)
        return await queries.visit_body(uow, visit_id, as_of or follow_up_visits.today())

    return await read_row(runtime, render)


@router.post(
    "/api/v1/follow-up-visits/{visit_id}/outcome",
    response_model=FollowUpVisitOut,
    summary="登记回访结果 Record a planned visit's outcome (once; a follow-up is published)",
    responses=raises(
        NO_VISIT,
        OUT_OF_REACH,
        (Conflict, "Recorded already, or cancelled"),
        *VERSION,
        (ValidationFailed, "visited_on in the future or before the fact; satisfaction"),
        IDEMPOTENCY_CONFLICT,
    ),
)
async def record_outcome(
    visit_id: VisitId,
    body: VisitOutcomeIn,
    runtime: RuntimeDep,
    key: IdempotencyKey,
    if_match: IfMatch = None,
    staff: StaffPrincipal = Visitor,
) -> JSONResponse:
    today = follow_up_visits.today()
    command = RecordVisitOutcome(
        visit_id=visit_id,
        actor=staff.username,
        actor_org=staff.org,
        visited_on=body.visited_on,
        outcome=body.outcome,
        visitor=body.visitor,
        satisfaction=body.satisfaction,
        notes=body.notes,
        expected_version=if_match if if_match is not None else body.version,
    )

    async def act(uow: SqlUnitOfWork) -> tuple[int, dict[str, Any]]:
        await follow_up_visits.record_outcome(uow, command, today=today)
        return 200, await queries.visit_body(uow, visit_id, today)

    return await idempotent(
        runtime,
        staff=staff,
        key=key,
        route="POST /api/v1/follow-up-visits/{visit_id}/outcome",
        payload={"visit_id": str(visit_id), **body.model_dump(mode="json")},
        action=act,
    )


@router.post(
    "/api/v1/follow-up-visits/{visit_id}/photos",
    status_code=201,
    response_model=VisitPhotoOut,
    summary="上传回访照片 Attach a photo (raw JPEG or PNG body, at most 5 MiB)",
    description="请求体为照片本身（Content-Type: image/jpeg 或 image/png），按 SHA-256 存于数据库"
    "之外；同一张照片重复上传只存一份 (the same photo again answers 200 with the stored one).",
    openapi_extra={
        "requestBody": {"required": True, "content": dict.fromkeys(PHOTO_TYPES, _BINARY)}
    },
    responses=ALREADY_THERE
    | raises(
        NO_VISIT,
        OUT_OF_REACH,
        (Conflict, "The visit was cancelled, or has its 20 photos"),
        (PayloadTooLarge, f"Larger than {MAX_UPLOAD_BYTES} bytes"),
        (UnsupportedMediaType, "Not image/jpeg or image/png"),
        (ValidationFailed, "Empty, or not the image its Content-Type says"),
    ),
)
async def upload_photo(
    visit_id: VisitId, request: Request, runtime: RuntimeDep, staff: StaffPrincipal = Visitor
) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type not in PHOTO_TYPES:
        raise UnsupportedMediaType(
            f"照片须为 JPEG 或 PNG (send the photo as image/jpeg or image/png, not "
            f"{content_type or 'no Content-Type'})",
            details={"accepted": sorted(PHOTO_TYPES)},
        )
    data = await request.body()
    if len(data) > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"照片不能超过 {MAX_UPLOAD_BYTES} 字节 (a photo is at most {MAX_UPLOAD_BYTES} bytes)"
        )
    store = attachment_store(runtime)
    async with runtime.unit_of_work() as uow:
        stored = await follow_up_visits.add_photo(
            uow,
            store,
            visit_id=visit_id,
            actor=staff.username,
            actor_org=staff.org,
            content_type=content_type,
            data=data,
        )
        body = VisitPhotoOut.model_validate(stored.photo, from_attributes=True)
        await uow.commit()
    return JSONResponse(
        body.model_dump(mode="json"),
        201 if stored.created else 200,
        headers={"ETag": f'"{body.sha256}"'},
    )


@router.get(
    "/api/v1/follow-up-visits/{visit_id}/photos/{sha256}",
    response_class=Response,
    summary="回访照片 A visit's photo (checked against its SHA-256, the ETag)",
    responses=PHOTO
    | raises(
        NO_VISIT,
        OUT_OF_REACH,
        (NotFound, "The visit has no such photo"),
        (Gone, "The stored file is damaged (it no longer matches its SHA-256) or lost"),
    ),
)
async def get_photo(
    visit_id: VisitId,
    sha256: Annotated[
        str, Path(pattern=PHOTO_HASH_PATTERN, description="照片的 SHA-256（小写十六进制）")
    ],
    runtime: RuntimeDep,
    staff: StaffPrincipal = Reader,
) -> Response:
    store = attachment_store(runtime)
    async with runtime.unit_of_work() as uow:
        photo, data = await follow_up_visits.read_photo(
            uow, store, visit_id=visit_id, sha256=sha256, actor_org=staff.org
        )
        content_type = photo.content_type  # read while the session is open
    extension = "png" if content_type == "image/png" else "jpg"
    return Response(
        data,
        media_type=content_type,
        headers={
            "ETag": f'"{sha256}"',
            "Cache-Control": "private, max-age=86400",
            "Content-Disposition": f'inline; filename="{sha256}.{extension}"',
        },
    )
