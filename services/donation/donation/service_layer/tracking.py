"""The donor's view: a gift's public timeline, by tracking code or by verified contact."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select

from donation.adapters.orm import (
    Allocation,
    AllocationRelease,
    Disbursement,
    DisbursementReversal,
    Donation,
    DonationItem,
    Donor,
    FollowUp,
    GoodsLineage,
    LookupCode,
    Project,
    Receipt,
    RemainderMove,
)
from donation.domain.commands import RequestLookupCode, VerifyLookupCode
from donation.domain.figures import remaining_fen
from donation.service_layer.common import now, request_notice
from shared.contracts.donation import NoticeFactsV1
from shared.errors import NotFound, ValidationFailed
from shared.ids import uuid7
from shared.uow import SqlUnitOfWork

NOT_FOUND = "未找到该查询码对应的捐赠 (no gift found for this code)"
CODE_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5


def _goods_text(g: GoodsLineage) -> str:
    what = f"{g.item_name or g.item_code} {g.quantity}{g.unit or ''}"
    return {
        "in_stock": f"{what} 入库 {g.destination or ''}",
        "dispatched": f"{what} 调拨发往 {g.destination or ''}",
        "signed": f"{what} 已签收（{g.signed_by or ''}）",
        "written_off": f"{what} 在仓库报损/过期核销",
    }[g.stage].strip()


def _goods_out(g: GoodsLineage) -> dict[str, Any]:
    return {
        "stage": g.stage,
        "item_code": g.item_code,
        "item_name": g.item_name,
        "quantity": g.quantity,
        "unit": g.unit,
        "destination": g.destination,
        "signed_by": g.signed_by,
        "dispatch_id": g.dispatch_id,
        "at": g.at.isoformat(),
    }


async def gift_timeline(uow: SqlUnitOfWork, donation: Donation) -> dict[str, Any]:
    s = uow.session
    project = await s.get(Project, donation.project_code) if donation.project_code else None
    items = list(
        await s.scalars(
            select(DonationItem)
            .where(col(DonationItem.donation_id) == donation.id)
            .order_by(col(DonationItem.line_no))
        )
    )
    receipts = list(
        await s.scalars(
            select(Receipt)
            .where(col(Receipt.donation_id) == donation.id)
            .order_by(col(Receipt.issued_at))
        )
    )
    uses = (
        await s.execute(
            select(Allocation, Disbursement, Project)
            .join(Disbursement, col(Disbursement.id) == col(Allocation.disbursement_id))
            .join(Project, col(Project.code) == col(Disbursement.project_code))
            .where(col(Allocation.donation_id) == donation.id)
            .order_by(col(Disbursement.approved_at))
        )
    ).all()
    releases = (
        await s.execute(
            select(AllocationRelease, DisbursementReversal)
            .join(
                DisbursementReversal,
                col(DisbursementReversal.id) == col(AllocationRelease.reversal_id),
            )
            .where(col(AllocationRelease.donation_id) == donation.id)
            .order_by(col(AllocationRelease.id))
        )
    ).all()
    reversed_ids = {release.disbursement_id for release, _ in releases}
    moves = (
        await s.execute(
            select(RemainderMove, Project)
            .join(Project, col(Project.code) == col(RemainderMove.project_code))
            .where(col(RemainderMove.donation_id) == donation.id)
            .order_by(col(RemainderMove.created_at))
        )
    ).all()
    targets = {
        p.code: p
        for p in await s.scalars(
            select(Project).where(
                col(Project.code).in_([m.to_project_code for m, _ in moves if m.to_project_code])
            )
        )
    }
    lineage = list(
        await s.scalars(
            select(GoodsLineage)
            .where(col(GoodsLineage.donation_id) == donation.id)
            .order_by(col(GoodsLineage.at), col(GoodsLineage.id))
        )
    )
    disbursement_ids = [d.id for _, d, _ in uses]
    # goods the disbursements that drew on this gift bought: into stock, out, signed for
    bought: dict[uuid.UUID, list[GoodsLineage]] = {}
    for g in await s.scalars(
        select(GoodsLineage)
        .where(col(GoodsLineage.disbursement_id).in_(disbursement_ids))
        .order_by(col(GoodsLineage.at), col(GoodsLineage.id))
    ):
        assert g.disbursement_id is not None
        bought.setdefault(g.disbursement_id, []).append(g)
    follow_ups = list(
        await s.scalars(
            select(FollowUp)
            .where(
                or_(
                    col(FollowUp.donation_id) == donation.id,
                    col(FollowUp.disbursement_id).in_(disbursement_ids),
                )
            )
            .order_by(col(FollowUp.visited_on))
        )
    )
    timeline: list[dict[str, Any]] = []
    if donation.status != "pledged":
        timeline.append(
            {
                "at": donation.received_at.isoformat(),
                "event": "received",
                "text": "捐赠已到账 (gift received)",
            }
        )
    for r in receipts:
        timeline.append(
            {
                "at": r.issued_at.isoformat(),
                "event": "receipted",
                "text": f"开具捐赠票据 {r.receipt_no} (receipt issued)",
            }
        )
        if r.voided_at is not None:
            timeline.append(
                {
                    "at": r.voided_at.isoformat(),
                    "event": "receipt_voided",
                    "text": f"票据 {r.receipt_no} 作废：{r.void_reason} (receipt voided)",
                }
            )
    for a, d, p in uses:
        assert d.approved_at is not None
        timeline.append(
            {
                "at": d.approved_at.isoformat(),
                "event": "used",
                "text": f"{p.name}：{d.purpose}，使用本笔捐赠 ¥{a.amount_fen / 100:,.2f}",
            }
        )
    for release, rev in releases:
        timeline.append(
            {
                "at": release.created_at.isoformat(),
                "event": "use_reversed",
                "text": (
                    f"拨付{'更正' if rev.kind == 'correction' else '冲销'}：{rev.reason}，"
                    f"¥{release.amount_fen / 100:,.2f} 退回本笔捐赠，可再使用 (a use was reversed)"
                ),
            }
        )
    for m, source in moves:
        target = targets.get(m.to_project_code or "")
        if m.outcome == "transferred" and m.moved_at is not None:
            name = target.name if target else m.to_project_code
            timeline.append(
                {
                    "at": m.moved_at.isoformat(),
                    "event": "remainder_transferred",
                    "text": (
                        f"{source.name} 结项，经您同意，本笔捐赠结余 ¥{m.amount_fen / 100:,.2f} "
                        f"转入 {name} (the remainder moved with your consent)"
                    ),
                }
            )
    for g in lineage:
        timeline.append({"at": g.at.isoformat(), "event": g.stage, "text": _goods_text(g)})
    for _, d, _ in uses:
        for g in bought.get(d.id, []):
            timeline.append(
                {
                    "at": g.at.isoformat(),
                    "event": f"bought_{g.stage}",
                    "text": f"「{d.purpose}」所购物资：{_goods_text(g)}",
                }
            )
    for f in follow_ups:
        timeline.append(
            {"at": f.visited_on.isoformat(), "event": "follow_up", "text": f"回访：{f.summary}"}
        )
    if donation.status in ("cancelled", "refunded", "completed") and donation.updated_at:
        timeline.append(
            {
                "at": donation.updated_at.isoformat(),
                "event": donation.status,
                "text": {
                    "cancelled": "捐赠已取消 (cancelled)",
                    "refunded": "未使用部分已退回 (refunded)",
                    "completed": "捐赠已全部使用完毕 (completed)",
                }[donation.status],
            }
        )
    timeline.sort(key=lambda e: str(e["at"]))
    live = next((r for r in receipts if r.voided_at is None), None)
    return {
        "tracking_code": donation.tracking_code,
        "kind": donation.kind,
        "status": donation.status,
        "donor": donation.display_name,
        "amount_fen": donation.amount_fen,
        "used_fen": donation.used_fen,
        "refunded_fen": donation.refunded_fen,
        "written_off_fen": donation.written_off_fen,
        # a goods gift's fen are used per unit delivered; a cancelled gift has nothing left
        "remaining_fen": remaining_fen(
            donation.kind,
            donation.status,
            amount_fen=donation.amount_fen,
            used_fen=donation.used_fen,
            refunded_fen=donation.refunded_fen,
            written_off_fen=donation.written_off_fen,
        ),
        "received_at": donation.received_at.isoformat(),
        "project": {"code": project.code, "name": project.name} if project else None,
        "receipt": {
            "receipt_no": live.receipt_no,
            "issued_at": live.issued_at.isoformat(),
            "anonymous": live.anonymous,
            "declined": live.declined,
        }
        if live
        else None,
        "items": [
            {"item_code": i.item_code, "name": i.name, "quantity": i.quantity, "unit": i.unit}
            for i in items
        ],
        "uses": [
            {
                "disbursement_id": str(d.id),
                "project_code": p.code,
                "project_name": p.name,
                "purpose": d.purpose,
                "recipient": d.recipient_display,
                "town": d.town,
                "disbursed_on": d.disbursed_on.isoformat(),
                "amount_fen": a.amount_fen,
                "disbursement_amount_fen": d.amount_fen,
                "reversed": d.id in reversed_ids,
                # the goods this disbursement bought, and who signed for them (masked)
                "goods": [_goods_out(g) for g in bought.get(d.id, [])],
            }
            for a, d, p in uses
        ],
        # where the fen of a closed project's remainder went: moved to another project (with
        # the donor's consent), refunded, or still waiting for a consent or an approval
        "remainder": [
            {
                "from_project_code": source.code,
                "from_project_name": source.name,
                "outcome": m.outcome,
                "to_project_code": m.to_project_code,
                "to_project_name": targets[m.to_project_code].name
                if m.to_project_code in targets
                else None,
                "amount_fen": m.amount_fen,
                "at": (m.moved_at or m.created_at).isoformat(),
            }
            for m, source in moves
        ],
        "goods": [_goods_out(g) for g in lineage],
        "follow_ups": [
            {"visited_on": f.visited_on.isoformat(), "summary": f.summary, "town": f.town}
            for f in follow_ups
        ],
        "timeline": timeline,
    }


async def track(uow: SqlUnitOfWork, code: str) -> dict[str, Any]:
    """The timeline of the gift with this (canonical, ``shared.public_lookups``) code."""
    donation = await uow.session.scalar(select(Donation).where(col(Donation.tracking_code) == code))
    if donation is None:
        raise NotFound(NOT_FOUND)
    return await gift_timeline(uow, donation)


def normalize_contact(contact: str) -> tuple[str, str]:
    """('phone', digits) or ('email', lower-case address)."""
    contact = contact.strip()
    if "@" in contact:
        return "email", contact.lower()
    digits = "".join(ch for ch in contact if ch.isdigit())
    if len(digits) < 6:
        raise ValidationFailed("请输入手机号或电子邮箱 (give a phone number or an e-mail address)")
    return "phone", digits[-11:] if len(digits) > 11 and digits.startswith("86") else digits


def _hash(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


async def _donors_by_contact(uow: SqlUnitOfWork, kind: str, value: str) -> list[Donor]:
    if kind == "email":
        where = func.lower(col(Donor.email)) == value
    else:
        where = func.regexp_replace(col(Donor.phone), "[^0-9]", "", "g") == value
    return list(await uow.session.scalars(select(Donor).where(where)))


async def request_lookup_code(uow: SqlUnitOfWork, cmd: RequestLookupCode, *, secret: str) -> None:
    """Send a one-time code to the contact, if any donor has it. Answers the same either way.
    ``secret`` (the deployment's lookup key, not part of what was asked) keys the stored
    hashes of contact and code."""
    kind, value = normalize_contact(cmd.contact)
    donors = await _donors_by_contact(uow, kind, value)
    if not donors:
        return
    code = f"{secrets.randbelow(1_000_000):06d}"
    at = now()
    row = LookupCode(
        id=uuid7(),
        contact_hash=_hash(secret, f"{kind}:{value}"),
        code_hash=_hash(secret, code),
        expires_at=at + CODE_TTL,
        created_at=at,
    )
    uow.session.add(row)
    donor = donors[0]
    # Only the contact that was typed in receives the code.
    target = Donor(
        id=donor.id,
        donor_type=donor.donor_type,
        name=donor.name,
        phone=donor.phone if kind == "phone" else None,
        email=donor.email if kind == "email" else None,
        display=donor.display,
        created_at=donor.created_at,
    )
    request_notice(
        uow,
        donor=target,
        donation=None,
        milestone="lookup_code",
        facts=NoticeFactsV1(one_time_code=code, code_expires_at=row.expires_at),
        notice_id=row.id,
        force=True,
    )


async def verify_lookup_code(
    uow: SqlUnitOfWork, cmd: VerifyLookupCode, *, secret: str
) -> list[dict[str, Any]]:
    """Spend the contact's live code and answer the timelines of its gifts, newest first; a
    wrong code counts as an attempt (committed), and after too many the code is dead."""
    kind, value = normalize_contact(cmd.contact)
    row = await uow.session.scalar(
        select(LookupCode)
        .where(
            col(LookupCode.contact_hash) == _hash(secret, f"{kind}:{value}"),
            col(LookupCode.used_at).is_(None),
            col(LookupCode.expires_at) > now(),
        )
        .order_by(col(LookupCode.created_at).desc())
        .limit(1)
        .with_for_update()
    )
    wrong = NotFound("验证码无效或已过期 (the code is wrong or expired)")
    if row is None or row.attempts >= MAX_CODE_ATTEMPTS:
        raise wrong
    if not hmac.compare_digest(row.code_hash, _hash(secret, cmd.code.strip())):
        row.attempts += 1
        await uow.commit()
        raise wrong
    row.used_at = now()
    donors = await _donors_by_contact(uow, kind, value)
    gifts = list(
        await uow.session.scalars(
            select(Donation)
            .where(col(Donation.donor_id).in_([d.id for d in donors]))
            .order_by(col(Donation.received_at).desc())
        )
    )
    return [await gift_timeline(uow, g) for g in gifts]
