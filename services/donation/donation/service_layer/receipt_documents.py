"""A gift's live receipt as the 公益事业捐赠电子票据 document (rendered by ``receipt_pdf``).

票据号码 is the year's two digits and the receipt's gapless sequence (``26`` + 8 digits); the
校验码 is keyed (HMAC-SHA256 over code, number and amount with the service's secret), so a
receipt's three numbers cannot be made up; its QR code opens the gift's tracking page.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from sqlmodel import col, select

from donation.adapters.orm import Donation, Project, Receipt
from donation.adapters.receipt_pdf import ReceiptDocument, ReceiptLine, render_receipt_pdf
from donation.config import DonationSettings
from donation.service_layer.common import local_date
from shared.errors import NotFound, ServiceUnavailable
from shared.uow import SqlUnitOfWork

UNRESTRICTED_CODE = "FH-GENERAL"
UNRESTRICTED_NAME = "非定向捐赠（统筹使用）"


def receipt_number(receipt: Receipt) -> str:
    return f"{receipt.year % 100:02d}{receipt.seq:08d}"


def check_code(secret: str, code: str, number: str, amount_fen: int) -> str:
    digest = hmac.new(secret.encode(), f"{code}|{number}|{amount_fen}".encode(), hashlib.sha256)
    return f"{int.from_bytes(digest.digest()[:8], 'big') % 1_000_000:06d}"


async def receipt_document(
    uow: SqlUnitOfWork, tracking_code: str, settings: DonationSettings, *, secret: str
) -> ReceiptDocument:
    donation = await uow.session.scalar(
        select(Donation).where(col(Donation.tracking_code) == tracking_code)
    )
    receipt = (
        None
        if donation is None
        else await uow.session.scalar(
            select(Receipt)
            .where(col(Receipt.donation_id) == donation.id, col(Receipt.declined).is_(False))
            .order_by(col(Receipt.voided_at).is_(None).desc(), col(Receipt.issued_at).desc())
            .limit(1)
        )
    )
    if donation is None or receipt is None:
        raise NotFound("该捐赠尚无票据 (no receipt for this gift)")
    project = (
        await uow.session.get(Project, donation.project_code) if donation.project_code else None
    )
    number = receipt_number(receipt)
    base = settings.public_url.rstrip("/")
    return ReceiptDocument(
        receipt_code=settings.receipt_code,
        receipt_number=number,
        check_code=check_code(secret, settings.receipt_code, number, receipt.amount_fen),
        issued_on=local_date(receipt.issued_at),
        payer_name="" if receipt.anonymous else (receipt.payer_name or ""),
        payer_credit_code=receipt.payer_credit_code,
        lines=(
            ReceiptLine(
                project_code=project.code if project is not None else UNRESTRICTED_CODE,
                project_name=project.name if project is not None else UNRESTRICTED_NAME,
                amount_fen=receipt.amount_fen,
            ),
        ),
        verify_url=f"{base}/track/{donation.tracking_code}",
        issuer_name=settings.receipt_issuer_name,
        issuer_credit_code=settings.receipt_issuer_credit_code,
        remark=f"查询码 {donation.tracking_code}；内部编号 {receipt.receipt_no}",
        reviewer=settings.receipt_reviewer,
        payee=settings.receipt_payee,
        voided=receipt.voided_at is not None,
    )


async def render(doc: ReceiptDocument, settings: DonationSettings) -> tuple[bytes, str]:
    """The PDF (set in a worker thread: font subsetting takes tens of milliseconds) and its
    file name."""
    if not settings.receipt_font_file.is_file():
        raise ServiceUnavailable(
            "票据字体未安装，暂时无法生成 PDF (the receipt font is missing: install "
            f"fonts-wqy-microhei or set DONATION_RECEIPT_FONT_FILE; {settings.receipt_font_file})"
        )
    pdf = await asyncio.to_thread(render_receipt_pdf, doc, font_path=settings.receipt_font_file)
    return pdf, f"receipt-{doc.receipt_code}-{doc.receipt_number}.pdf"
