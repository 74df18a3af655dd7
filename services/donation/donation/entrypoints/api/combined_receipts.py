"""``/api/v1/combined-receipts``: the month's combined receipt for small anonymous online gifts.

Off unless ``DONATION_COMBINED_RECEIPT_BELOW_FEN`` is set (docs/online-giving.md). Finance
issues a month's once it is over; finance and the auditor read them and their PDFs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from donation.config import DonationSettings
from donation.entrypoints.api.public import receipt_secret
from donation.service_layer import combined_receipts, receipt_documents
from shared.auth import Role, StaffPrincipal, require_roles
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.http_commands import RuntimeDep
from shared.openapi import raises

router = APIRouter(prefix="/api/v1/combined-receipts", tags=["donations"])

Issuer = require_roles(Role.FINANCE)
Reader = require_roles(Role.FINANCE, Role.AUDITOR)


class CombinedIn(BaseModel):
    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="已结束的月份 YYYY-MM")


class CombinedOut(BaseModel):
    month: str
    receipt_no: str
    amount_fen: int
    gift_count: int
    issued_by: str
    issued_at: str


def _out(receipt: Any) -> dict[str, Any]:
    return CombinedOut(
        month=receipt.month,
        receipt_no=receipt.receipt_no,
        amount_fen=receipt.amount_fen,
        gift_count=receipt.gift_count,
        issued_by=receipt.issued_by,
        issued_at=receipt.issued_at.isoformat(),
    ).model_dump()


@router.post(
    "",
    status_code=201,
    response_model=CombinedOut,
    summary="合并开具月度匿名小额捐赠票据 Issue a past month's combined receipt",
    responses=raises((Conflict, "Already issued for the month, or no gift waits for one")),
)
async def issue(body: CombinedIn, runtime: RuntimeDep, staff: StaffPrincipal = Issuer) -> Any:
    async with runtime.unit_of_work() as uow:
        receipt = await combined_receipts.issue_combined_receipt(uow, body.month, staff.username)
        out = _out(receipt)
        await uow.commit()
    return JSONResponse(out, status_code=201)


@router.get(
    "", response_model=list[CombinedOut], summary="合并票据 Combined receipts (newest first)"
)
async def list_all(runtime: RuntimeDep, _: StaffPrincipal = Reader) -> Any:
    async with runtime.unit_of_work() as uow:
        return [_out(r) for r in await combined_receipts.list_combined(uow)]


@router.get(
    "/{month}.pdf",
    summary="合并票据 PDF A combined receipt as PDF",
    responses=raises(
        (NotFound, "No combined receipt for the month"),
        (ServiceUnavailable, "The receipt font is not installed"),
    ),
)
async def pdf(month: str, runtime: RuntimeDep, _: StaffPrincipal = Reader) -> Response:
    settings = runtime.settings
    assert isinstance(settings, DonationSettings)
    secret = receipt_secret(runtime)
    async with runtime.unit_of_work() as uow:
        view = await combined_receipts.combined_view(uow, month)
        doc = await combined_receipts.combined_document(uow, view, settings, secret=secret)
    content, name = await receipt_documents.render(doc, settings)
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"},
    )
