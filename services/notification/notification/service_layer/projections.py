"""Projections of donation and warehouse events into the public feed: one entry per fact.

Deterministic (a rebuild from offset zero gives the same hashed entries): the entry id is
derived from the event id, every time comes from the payload or the event, and nothing
depends on the wall clock except ``published_at``, which is outside the hashed content.
Only masked names reach an entry; free text from producers is passed through
``scrub_text``, which removes anything shaped like a phone number, e-mail or ID number (the
text rules are ``notification.domain.text``).

Entries are staged on the session and written in one multi-row INSERT when the transaction
commits (the consumer applies a whole poll in one transaction), or earlier when a projection
reads the feed (``_find`` writes what is staged first, so it sees the entries of earlier
events of the same batch).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from notification.domain.text import (
    disbursement_reversed_title,
    mask_person,
    public_donor,
    remainder_transferred_title,
    scrub_text,
    yuan_plain,
)
from notification.log.entry import entry_id_text
from notification.service_layer.feed_metrics import observe_disclosure
from notification.service_layer.incidents import on_incident_recorded
from shared.contracts import donation as d
from shared.contracts import warehouse as w
from shared.messaging.envelope import CloudEvent

CHANNEL_CATEGORY = {
    "bank_transfer": "银行转账",
    "wechat_pay": "网络支付",
    "alipay": "网络支付",
    "cash": "现金",
    "cheque": "支票",
    "on_site": "现场捐赠",
}
REMAINDER_TEXT = {
    "carry_forward": "结转下一期",
    "transfer": "转入其他项目",
    "return_to_donors": "退还捐赠人",
    "other": "其他处理",
}


def tracking_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


_STAGED = "notification.feed.staged"
_HOOKED = "notification.feed.hooked"
# (column, PostgreSQL type) of a staged entry, in the order of the staged tuples
_COLUMNS = (
    ("id", "uuid"),
    ("source_event_id", "varchar"),
    ("kind", "varchar"),
    ("subject_id", "varchar"),
    ("tracking_code_hash", "varchar"),
    ("title", "varchar"),
    ("data", "jsonb"),
    ("occurred_at", "timestamptz"),
    ("published_at", "timestamptz"),
    ("corrects_seq", "bigint"),
    ("project_code", "varchar"),
    ("town", "varchar"),
    ("incident_ref", "varchar"),
    ("event_type", "varchar"),
    ("event_time", "timestamptz"),
)
_DATA = [name for name, _ in _COLUMNS].index("data")
# One statement for the whole batch: one array per column (no per-row statement parameters).
_INSERT_ENTRIES = text(
    "INSERT INTO feed_entries ("  # noqa: S608 - constant column names
    + ", ".join(name for name, _ in _COLUMNS)
    + ") SELECT "
    + ", ".join(name for name, _ in _COLUMNS)
    + " FROM unnest("
    + ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS)
    + ") WITH ORDINALITY AS staged("
    + ", ".join(name for name, _ in _COLUMNS)
    + ", position) ORDER BY position"
)


def _stage(session: AsyncSession, row: tuple[Any, ...]) -> None:
    """Queue an entry row; written before the transaction commits (or by ``write_staged``)."""
    info = session.info
    staged: list[tuple[Any, ...]] | None = info.get(_STAGED)
    if staged is None:
        staged = info[_STAGED] = []
        if not info.get(_HOOKED):
            sa_event.listen(session.sync_session, "before_commit", _write_on_commit)
            sa_event.listen(session.sync_session, "after_soft_rollback", _drop_on_rollback)
            info[_HOOKED] = True
    staged.append(row)


def _insert_params(rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    columns = [list(values) for values in zip(*rows, strict=True)]
    columns[_DATA] = [json.dumps(data, ensure_ascii=False) for data in columns[_DATA]]
    return {name: values for (name, _), values in zip(_COLUMNS, columns, strict=True)}


async def write_staged(session: AsyncSession) -> None:
    """Write the staged entries now, in one statement (before reading the feed)."""
    rows = session.info.pop(_STAGED, None)
    if rows:
        await session.execute(_INSERT_ENTRIES, _insert_params(rows))


def _write_on_commit(session: Session) -> None:
    # Runs inside the commit (in the asyncio greenlet), so the sync API may emit SQL here.
    rows = session.info.pop(_STAGED, None)
    if rows:
        session.execute(_INSERT_ENTRIES, _insert_params(rows))


def _drop_on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_STAGED, None)


async def _find(session: AsyncSession, subject_id: str, kind: str) -> int | None:
    await write_staged(session)  # an entry of an earlier event in this batch counts too
    value = await session.scalar(
        text(
            "SELECT seq FROM feed_entries WHERE subject_id = :s AND kind = :k "
            "ORDER BY seq DESC LIMIT 1"
        ),
        {"s": subject_id, "k": kind},
    )
    return None if value is None else int(value)


async def _add(
    session: AsyncSession,
    event: CloudEvent,
    *,
    kind: str,
    subject_id: str,
    title: str,
    data: dict[str, Any],
    occurred_at: datetime,
    tracking_code: str | None = None,
    project_code: str | None = None,
    town: str | None = None,
    incident_ref: str | None = None,
    corrects_seq: int | None = None,
) -> None:
    published_at = datetime.now(UTC)
    _stage(
        session,
        (
            entry_id_text(event.id),
            event.id,
            kind,
            subject_id,
            tracking_hash(tracking_code) if tracking_code else None,
            scrub_text(title),
            data,
            occurred_at,
            published_at,
            corrects_seq,
            project_code,
            town,
            incident_ref,
            event.type,
            event.time,
        ),
    )
    observe_disclosure(kind, occurred_at, published_at, (incident_ref, project_code))


# --- donation.events ---------------------------------------------------------------------


async def on_donation_received(session: AsyncSession, event: CloudEvent) -> None:
    gift = d.DonationReceivedV1.model_validate(event.data)
    donor = public_donor(gift.display, gift.display_name, gift.donor_type)
    if gift.kind == "money":
        title = f"{donor} 捐款 ¥{yuan_plain(gift.amount_fen)}"
    else:
        goods = "、".join(f"{i.name}{i.quantity}{i.unit}" for i in gift.items)
        title = f"{donor} 捐赠物资：{goods}"
    await _add(
        session,
        event,
        kind="donation.received",
        subject_id=str(gift.donation_id),
        title=title,
        data={
            "donation_id": str(gift.donation_id),
            "donation_kind": gift.kind,
            "donor": donor,
            "donor_type": gift.donor_type,
            "amount_fen": gift.amount_fen,
            "channel_category": CHANNEL_CATEGORY.get(gift.channel, "其他"),
            "project_code": gift.project_code,
            "items": [
                {"name": i.name, "quantity": i.quantity, "unit": i.unit, "value_fen": i.value_fen}
                for i in gift.items
            ],
        },
        occurred_at=gift.received_at,
        tracking_code=gift.tracking_code,
        project_code=gift.project_code,
        incident_ref=gift.incident_code,
    )


async def on_donation_receipted(session: AsyncSession, event: CloudEvent) -> None:
    r = d.DonationReceiptedV1.model_validate(event.data)
    note = "（捐赠人放弃票据，号码已登记）" if r.declined else ""
    await _add(
        session,
        event,
        kind="donation.receipted",
        subject_id=str(r.donation_id),
        title=f"{r.display_name} 的捐赠已开具公益事业捐赠票据 {r.receipt_no}{note}",
        data={
            "donation_id": str(r.donation_id),
            "receipt_no": r.receipt_no,
            "amount_fen": r.amount_fen,
            "declined": r.declined,
        },
        occurred_at=r.issued_at,
        tracking_code=r.tracking_code,
    )


async def on_receipt_voided(session: AsyncSession, event: CloudEvent) -> None:
    v = d.DonationReceiptVoidedV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="correction",
        subject_id=str(v.donation_id),
        title=f"更正：票据 {v.receipt_no} 已作废（{scrub_text(v.reason)}）",
        data={
            "donation_id": str(v.donation_id),
            "correction": "receipt_voided",
            "receipt_no": v.receipt_no,
            "reason": scrub_text(v.reason),
        },
        occurred_at=v.voided_at,
        tracking_code=v.tracking_code,
        corrects_seq=await _find(session, str(v.donation_id), "donation.receipted"),
    )


async def on_donation_cancelled(session: AsyncSession, event: CloudEvent) -> None:
    c = d.DonationCancelledV1.model_validate(event.data)
    target = await _find(session, str(c.donation_id), "donation.received")
    await _add(
        session,
        event,
        kind="correction",
        subject_id=str(c.donation_id),
        title=f"更正：捐赠 ¥{yuan_plain(c.amount_fen)} 已取消（{scrub_text(c.reason)}）",
        data={
            "donation_id": str(c.donation_id),
            "correction": "cancelled",
            "amount_fen": -c.amount_fen if target is not None else 0,
            "reason": scrub_text(c.reason),
        },
        occurred_at=c.cancelled_at,
        tracking_code=c.tracking_code,
        corrects_seq=target,
    )


async def on_designation_changed(session: AsyncSession, event: CloudEvent) -> None:
    c = d.DesignationChangedV1.model_validate(event.data)
    before = c.from_project_code or "非定向"
    after = c.to_project_code or "非定向"
    reason = f"（{scrub_text(c.reason)}）" if c.reason else ""
    await _add(
        session,
        event,
        kind="correction",
        subject_id=str(c.donation_id),
        title=f"更正：捐赠定向由 {before} 改为 {after}{reason}",
        data={
            "donation_id": str(c.donation_id),
            "correction": "designation_changed",
            "from_project_code": c.from_project_code,
            "to_project_code": c.to_project_code,
            "reason": scrub_text(c.reason) if c.reason else None,
        },
        occurred_at=c.changed_at,
        tracking_code=c.tracking_code,
        project_code=c.to_project_code,
        corrects_seq=await _find(session, str(c.donation_id), "donation.received"),
    )


async def on_donation_refunded(session: AsyncSession, event: CloudEvent) -> None:
    r = d.DonationRefundedV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="donation.refunded",
        subject_id=str(r.donation_id),
        title=f"捐赠未使用部分 ¥{yuan_plain(r.amount_fen)} 已退还捐赠人（{scrub_text(r.reason)}）",
        data={
            "donation_id": str(r.donation_id),
            "amount_fen": r.amount_fen,
            "reason": scrub_text(r.reason),
        },
        occurred_at=r.refunded_at,
        tracking_code=r.tracking_code,
        corrects_seq=await _find(session, str(r.donation_id), "donation.received"),
    )


async def on_status_changed(session: AsyncSession, event: CloudEvent) -> None:
    s = d.DonationStatusChangedV1.model_validate(event.data)
    if s.to_status != "allocated":
        return  # uses are disclosed by their own events (disbursed, dispatched, delivered)
    await _add(
        session,
        event,
        kind="donation.allocated",
        subject_id=str(s.donation_id),
        title="捐赠已按捐赠人意愿分配至项目",
        data={"donation_id": str(s.donation_id), "donation_kind": s.kind},
        occurred_at=s.changed_at,
        tracking_code=s.tracking_code,
    )


async def on_funds_disbursed(session: AsyncSession, event: CloudEvent) -> None:
    f = d.FundsDisbursedV1.model_validate(event.data)
    recipient = mask_person(f.recipient) if f.recipient_type == "person" else f.recipient
    await _add(
        session,
        event,
        kind="funds.disbursed",
        subject_id=str(f.disbursement_id),
        title=f"{f.project_name} 拨付 ¥{yuan_plain(f.amount_fen)}：{scrub_text(f.purpose)}",
        data={
            "disbursement_id": str(f.disbursement_id),
            "project_code": f.project_code,
            "project_name": f.project_name,
            "amount_fen": f.amount_fen,
            "purpose": scrub_text(f.purpose),
            "recipient_type": f.recipient_type,
            "recipient": scrub_text(recipient),
            "voucher_no": f.voucher_no,
            "disbursed_on": f.disbursed_on.isoformat(),
            "funded_by": [
                {"tracking_code_hash": tracking_hash(a.tracking_code), "amount_fen": a.amount_fen}
                for a in f.allocations
            ],
        },
        occurred_at=f.approved_at,
        project_code=f.project_code,
        incident_ref=f.incident_code,
        town=f.town,
    )


async def on_project_opened(session: AsyncSession, event: CloudEvent) -> None:
    p = d.ProjectOpenedV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="project.opened",
        subject_id=p.project_code,
        title=f"项目启动：{p.name}",
        data={
            "project_code": p.project_code,
            "name": p.name,
            "category": p.category,
            "description": scrub_text(p.description),
            "starts_on": p.starts_on.isoformat(),
            "ends_on": p.ends_on.isoformat() if p.ends_on else None,
            "budget_fen": p.budget_fen,
        },
        occurred_at=p.opened_at,
        project_code=p.project_code,
        town=p.town,
    )


async def on_project_closed(session: AsyncSession, event: CloudEvent) -> None:
    p = d.ProjectClosedV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="project.closed",
        subject_id=p.project_code,
        title=(
            f"项目结项：{p.name}，收入 ¥{yuan_plain(p.received_fen)}，"
            f"使用 ¥{yuan_plain(p.used_fen)}，结余 ¥{yuan_plain(p.remainder_fen)}"
        ),
        data={
            "project_code": p.project_code,
            "name": p.name,
            "closed_on": p.closed_on.isoformat(),
            "received_fen": p.received_fen,
            "used_fen": p.used_fen,
            "remainder_fen": p.remainder_fen,
            "disclosure_due": p.disclosure_due.isoformat() if p.disclosure_due else None,
        },
        occurred_at=p.closed_at,
        project_code=p.project_code,
    )


async def on_remainder_decided(session: AsyncSession, event: CloudEvent) -> None:
    r = d.RemainderDecidedV1.model_validate(event.data)
    target = f"（转入 {r.target_project_code}）" if r.target_project_code else ""
    await _add(
        session,
        event,
        kind="project.remainder",
        subject_id=r.project_code,
        title=(
            f"项目结余 ¥{yuan_plain(r.remainder_fen)} 处理："
            f"{REMAINDER_TEXT.get(r.decision, r.decision)}{target}"
        ),
        data={
            "project_code": r.project_code,
            "remainder_fen": r.remainder_fen,
            "decision": r.decision,
            "target_project_code": r.target_project_code,
            "note": scrub_text(r.note),
            "disclosure_due": r.disclosure_due.isoformat(),
        },
        occurred_at=r.decided_at,
        project_code=r.project_code,
    )


async def on_remainder_transferred(session: AsyncSession, event: CloudEvent) -> None:
    """One gift's share of a closed project's remainder moved to another project with its
    donor's consent: on the gift's entries (by its tracking code) and the closed project's."""
    t = d.RemainderTransferredV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="project.remainder_transferred",
        subject_id=str(t.donation_id),
        title=remainder_transferred_title(
            t.amount_fen, t.from_project_name, t.to_project_name, t.consent
        ),
        data={
            "donation_id": str(t.donation_id),
            "from_project_code": t.from_project_code,
            "from_project_name": t.from_project_name,
            "to_project_code": t.to_project_code,
            "to_project_name": t.to_project_name,
            "amount_fen": t.amount_fen,
            "consent": t.consent,
        },
        occurred_at=t.transferred_at,
        tracking_code=t.tracking_code,
        project_code=t.from_project_code,
    )


async def on_disbursement_reversed(session: AsyncSession, event: CloudEvent) -> None:
    """A correction entry referencing the disbursement it reverses (``corrects_seq``); a
    correction's replacement arrives as its own ``funds.disbursed``."""
    r = d.DisbursementReversedV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="correction",
        subject_id=str(r.disbursement_id),
        title=disbursement_reversed_title(
            r.kind, r.project_name, r.amount_fen, r.voucher_no, r.reason
        ),
        data={
            "disbursement_id": str(r.disbursement_id),
            "correction": "disbursement_reversed"
            if r.kind == "reversal"
            else "disbursement_corrected",
            "project_code": r.project_code,
            "amount_fen": -r.amount_fen,
            "recipient_type": r.recipient_type,
            "voucher_no": r.voucher_no,
            "reason": scrub_text(r.reason),
            "replacement_disbursement_id": str(r.replacement_disbursement_id)
            if r.replacement_disbursement_id
            else None,
            "released_to": [
                {"tracking_code_hash": tracking_hash(a.tracking_code), "amount_fen": a.amount_fen}
                for a in r.released
            ],
        },
        occurred_at=r.reversed_at,
        project_code=r.project_code,
        town=r.town,
        corrects_seq=await _find(session, str(r.disbursement_id), "funds.disbursed"),
    )


async def on_follow_up(session: AsyncSession, event: CloudEvent) -> None:
    f = d.FollowUpRecordedV1.model_validate(event.data)
    await _add(
        session,
        event,
        kind="follow_up",
        subject_id=str(f.disbursement_id or f.donation_id or f.follow_up_id),
        title=f"回访：{scrub_text(f.summary)}",
        data={
            "follow_up_id": str(f.follow_up_id),
            "disbursement_id": str(f.disbursement_id) if f.disbursement_id else None,
            "visited_on": f.visited_on.isoformat(),
            "summary": scrub_text(f.summary),
        },
        occurred_at=f.recorded_at,
        project_code=f.project_code,
        town=f.town,
    )


# --- warehouse.events ----------------------------------------------------------------------


def _lines(lines: list[w.PickedLineV1]) -> list[dict[str, Any]]:
    return [
        {
            "item_code": line.item_code,
            "item_name": line.item_name,
            "unit": line.unit,
            "quantity": line.quantity,
            "from_gifts": sorted(
                tracking_hash(lot.tracking_code) for lot in line.lots if lot.tracking_code
            ),
        }
        for line in sorted(lines, key=lambda line: line.item_code)
    ]


async def on_dispatch_shipped(session: AsyncSession, event: CloudEvent) -> None:
    s = w.DispatchShippedV1.model_validate(event.data)
    goods = "、".join(f"{line.item_name}{line.quantity}{line.unit}" for line in s.lines)
    await _add(
        session,
        event,
        kind="goods.dispatched",
        subject_id=str(s.dispatch_id),
        title=f"物资发往 {s.destination.town or s.destination.name}：{goods}",
        data={
            "dispatch_no": s.dispatch_no,
            "from_warehouse": s.from_warehouse_name,
            "destination": s.destination.name,
            "destination_kind": s.destination.kind,
            "incident_code": s.incident_code,
            "incident_name": s.incident_name,
            "lines": _lines(s.lines),
        },
        occurred_at=s.shipped_at,
        town=s.destination.town,
        incident_ref=s.incident_code,
    )


async def on_dispatch_delivered(session: AsyncSession, event: CloudEvent) -> None:
    s = w.DispatchDeliveredV1.model_validate(event.data)
    goods = "、".join(f"{line.item_name}{line.delivered_quantity}{line.unit}" for line in s.lines)
    await _add(
        session,
        event,
        kind="goods.delivered",
        subject_id=str(s.dispatch_id),
        title=f"物资已送达 {s.destination.town or s.destination.name} 并签收：{goods}",
        data={
            "dispatch_no": s.dispatch_no,
            "destination": s.destination.name,
            "incident_code": s.incident_code,
            "incident_name": s.incident_name,
            "signed_by": mask_person(s.recipient_name_masked),
            "recipient_org": s.recipient_org,
            "partial": s.partial,
            "lines": [
                {
                    "item_code": line.item_code,
                    "item_name": line.item_name,
                    "unit": line.unit,
                    "delivered_quantity": line.delivered_quantity,
                    "returned_quantity": line.returned_quantity,
                    "from_gifts": sorted(
                        tracking_hash(lot.tracking_code)
                        for lot in line.lots
                        if lot.tracking_code and lot.delivered_quantity
                    ),
                }
                for line in sorted(s.lines, key=lambda line: line.item_code)
            ],
        },
        occurred_at=s.delivered_at,
        town=s.destination.town,
        incident_ref=s.incident_code,
    )


ADJUSTMENT_TEXT = {
    "lost": "丢失",
    "damaged": "损坏",
    "expired": "过期",
    "found": "盘盈",
    "correction": "更正",
}


async def on_stock_adjusted(session: AsyncSession, event: CloudEvent) -> None:
    """A donated lot's quantity changed outside a dispatch (lost, damaged, expired, found):
    disclosed, so a donor's goods are accounted for to the last unit."""
    a = w.StockAdjustedV1.model_validate(event.data)
    if not a.tracking_code:
        return  # procured stock: not a donor's gift
    reason = ADJUSTMENT_TEXT.get(a.reason, a.reason)
    change = f"减少 {-a.delta}" if a.delta < 0 else f"增加 {a.delta}"
    await _add(
        session,
        event,
        kind="goods.adjusted",
        subject_id=str(a.lot_id),
        title=f"捐赠物资 {a.item_name} 因{reason}{change}{a.unit}",
        data={
            "lot_no": a.lot_no,
            "item_code": a.item_code,
            "item_name": a.item_name,
            "unit": a.unit,
            "reason": a.reason,
            "delta": a.delta,
            "quantity_after": a.quantity_after,
            "from_gifts": [tracking_hash(a.tracking_code)],
        },
        occurred_at=a.adjusted_at,
        tracking_code=a.tracking_code,
    )


async def on_stock_received(session: AsyncSession, event: CloudEvent) -> None:
    """Not a public fact by itself; remembers item categories for the summary."""
    s = w.StockReceivedV1.model_validate(event.data)
    for lot in s.lots:
        await _remember_category(session, lot.item_code, lot.category)


async def on_stock_level_changed(session: AsyncSession, event: CloudEvent) -> None:
    s = w.StockLevelChangedV1.model_validate(event.data)
    await _remember_category(session, s.item_code, s.category)


async def _remember_category(session: AsyncSession, item_code: str, category: str) -> None:
    await session.execute(
        text(
            "INSERT INTO feed_item_categories (item_code, category) VALUES (:i, :c) "
            "ON CONFLICT (item_code) DO NOTHING"
        ),
        {"i": item_code, "c": category},
    )


Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]

FEED_HANDLERS: dict[str, Handler] = {
    d.DONATION_RECEIVED: on_donation_received,
    d.DONATION_RECEIPTED: on_donation_receipted,
    d.DONATION_RECEIPT_VOIDED: on_receipt_voided,
    d.DONATION_CANCELLED: on_donation_cancelled,
    d.DONATION_REFUNDED: on_donation_refunded,
    d.DESIGNATION_CHANGED: on_designation_changed,
    d.DONATION_STATUS_CHANGED: on_status_changed,
    d.FUNDS_DISBURSED: on_funds_disbursed,
    d.PROJECT_OPENED: on_project_opened,
    d.PROJECT_CLOSED: on_project_closed,
    d.REMAINDER_DECIDED: on_remainder_decided,
    d.REMAINDER_TRANSFERRED: on_remainder_transferred,
    d.DISBURSEMENT_REVERSED: on_disbursement_reversed,
    d.FOLLOW_UP_RECORDED: on_follow_up,
    d.INCIDENT_RECORDED: on_incident_recorded,
    w.DISPATCH_SHIPPED: on_dispatch_shipped,
    w.DISPATCH_DELIVERED: on_dispatch_delivered,
    w.STOCK_ADJUSTED: on_stock_adjusted,
    w.STOCK_RECEIVED: on_stock_received,
    w.STOCK_LEVEL_CHANGED: on_stock_level_changed,
}
