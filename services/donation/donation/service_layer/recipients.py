"""The recipients register (受助对象登记, issue 17): who the help reached, with privacy.

A person's or household head's 居民身份证号码 is checked (GB 11643) and then kept only as its
keyed fingerprint (``domain.identity_numbers``) and last 4 characters: a person registered
twice is found by the fingerprint (409 naming the first registration), and neither the
number nor any part of it but the last 4 enters a row, the audit log or an event. Every
registration and change is audited and announced as ``recipient_registered.v1`` (masked:
no name in clear, phone, address or ID fragment) so the warehouse can name recipients at
delivery.

Scope: a recipient belongs to the organisation that registered it; a town branch's staff see
and change only theirs (and register only in their town), the district's staff all.

Also here: the recipients a disbursement names (and their repeat receipts for the approver),
and what the warehouse's deliveries reached (``dispatch.delivered.v1`` naming recipients).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from donation.adapters.orm import (
    DeliveredDispatch,
    DeliveredDispatchRecipient,
    Disbursement,
    DisbursementRecipient,
    Organisation,
    Project,
    Recipient,
)
from donation.adapters.recipient_key import load_recipient_key
from donation.domain.identity_numbers import fingerprint, normalise_resident_id
from donation.domain.recipients import (
    Reach,
    RecipientShare,
    is_repeat,
    masked_name,
    reach_of,
    total_reach,
)
from donation.service_layer.common import audit, check_version, lock_row, now
from shared.contracts.donation import RECIPIENT_REGISTERED, RecipientRegisteredV1
from shared.contracts.warehouse import DispatchDeliveredV1
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.organisations import DISTRICT, org_name, reaches
from shared.pagination import decode_cursor, read_page
from shared.uow import SqlUnitOfWork

EDITABLE = frozenset({"name", "phone", "address", "household_size"})
NULLABLE = frozenset({"phone", "address"})


@dataclass(frozen=True)
class RegisterRecipient:
    actor: str
    actor_org: str
    kind: str
    name: str
    town: str
    id_number: str | None = None
    household_size: int | None = None
    address: str | None = None
    phone: str | None = None
    org_code: str | None = None  # default: the actor's organisation
    org_kind: str | None = None
    credit_code: str | None = None


@dataclass(frozen=True)
class UpdateRecipient:
    recipient_id: uuid.UUID
    actor: str
    actor_org: str
    expected_version: int | None
    changes: dict[str, object] = field(default_factory=dict)


# --- identity numbers ----------------------------------------------------------------------


def id_fingerprint(id_number: str, key: bytes) -> tuple[str, str]:
    """(fingerprint, last 4) of a resident ID number; a 422 saying what is wrong with it
    (length, characters, birth date, check character), never echoing the number."""
    try:
        number = normalise_resident_id(id_number)
    except ValueError as exc:
        raise ValidationFailed(str(exc), details={"field": "id_number"}) from None
    print_ = fingerprint(number, key)
    return print_.digest, print_.last4


def request_payload(body: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A create request as the idempotency store fingerprints it: the ID number replaced by
    its keyed fingerprint (an unkeyed hash of a body holding it could be reversed)."""
    number = body.get("id_number")
    if not isinstance(number, str):
        return body
    try:
        digest = fingerprint(normalise_resident_id(number), key).digest
    except ValueError:
        digest = "invalid"
    return body | {"id_number": digest}


# --- scope ---------------------------------------------------------------------------------


def check_reach(actor_org: str, recipient: Recipient) -> None:
    if not reaches(actor_org, recipient.org_code):
        raise Forbidden(
            f"该受助对象由{org_name(recipient.org_code)}登记，{org_name(actor_org)}无权查看或修改 "
            f"(recipient {recipient.id} belongs to {recipient.org_code}; staff of {actor_org} "
            f"reach only their own)",
            details={"org_code": recipient.org_code},
        )


async def _organisation(uow: SqlUnitOfWork, cmd: RegisterRecipient) -> Organisation:
    code = cmd.org_code or cmd.actor_org
    if not reaches(cmd.actor_org, code):
        raise Forbidden(
            f"只能为本机构（{org_name(cmd.actor_org)}）登记受助对象 (staff of {cmd.actor_org} "
            f"register recipients for {cmd.actor_org} only)"
        )
    organisation = await uow.session.get(Organisation, code)
    if organisation is None or not organisation.active:
        raise ValidationFailed(
            f"机构不存在或已停用 (organisation {code} is unknown or inactive)",
            details={"org_code": code},
        )
    if organisation.town is not None and organisation.town != cmd.town:
        raise ValidationFailed(
            f"{organisation.name}只登记{organisation.town}的受助对象 (a town branch registers "
            f"recipients of its own town, {organisation.town})",
            details={"town": cmd.town},
        )
    return organisation


# --- events and audit ----------------------------------------------------------------------


def registered_payload(recipient: Recipient) -> RecipientRegisteredV1:
    return RecipientRegisteredV1(
        recipient_id=recipient.id,
        kind=recipient.kind,  # type: ignore[arg-type]
        name_masked=recipient.name_masked,
        org_kind=recipient.org_kind,  # type: ignore[arg-type]
        town=recipient.town,
        household_size=recipient.household_size,
        org_code=recipient.org_code,
        version=recipient.version,
        recorded_at=recipient.updated_at or recipient.created_at,
    )


def _announce(uow: SqlUnitOfWork, recipient: Recipient) -> None:
    uow.publish(
        topic=DONATION_EVENTS,
        key=str(recipient.id),
        type=RECIPIENT_REGISTERED,
        subject=str(recipient.id),
        payload=registered_payload(recipient),
    )


def audit_facts(recipient: Recipient) -> dict[str, object]:
    """What the audit log records of a recipient: masked, the last 4 of the ID number only."""
    return {
        "kind": recipient.kind,
        "name_masked": recipient.name_masked,
        "id_last4": recipient.id_last4,
        "household_size": recipient.household_size,
        "town": recipient.town,
        "org_code": recipient.org_code,
        "org_kind": recipient.org_kind,
        "has_phone": recipient.phone is not None,
        "has_address": recipient.address is not None,
    }


def _change_facts(changes: dict[str, object]) -> dict[str, object]:
    """A change as the audit log keeps it: a new name masked, phone and address only said."""
    facts: dict[str, object] = {}
    for key, value in changes.items():
        if key == "name":
            facts["name_masked"] = value
        elif key in NULLABLE:
            facts[f"{key}_changed"] = True
            facts[f"has_{key}"] = value is not None
        else:
            facts[key] = value
    return facts


# --- register and change -------------------------------------------------------------------


async def existing_person(uow: SqlUnitOfWork, digest: str) -> Recipient | None:
    found: Recipient | None = await uow.session.scalar(
        select(Recipient).where(
            col(Recipient.kind) == "person", col(Recipient.id_fingerprint) == digest
        )
    )
    return found


async def register_recipient(uow: SqlUnitOfWork, cmd: RegisterRecipient, key: bytes) -> Recipient:
    organisation = await _organisation(uow, cmd)
    digest = last4 = None
    if cmd.id_number is not None:
        digest, last4 = id_fingerprint(cmd.id_number, key)
    if cmd.kind == "person":
        if digest is None:
            raise ValidationFailed("个人请填写身份证号码 (a person is registered with id_number)")
        first = await existing_person(uow, digest)
        if first is not None:
            raise Conflict(
                f"该身份证号码已登记为受助对象 {first.id}（{first.name_masked}，"
                f"{org_name(first.org_code)}），请直接使用 (this person is already registered "
                f"as recipient {first.id}: reuse it)",
                details={"recipient_id": str(first.id), "org_code": first.org_code},
            )
    name = " ".join(cmd.name.split())
    at = now()
    recipient = Recipient(
        id=uuid7(),
        kind=cmd.kind,
        name=name,
        name_masked=masked_name(cmd.kind, name),
        id_fingerprint=digest,
        id_last4=last4,
        household_size=1 if cmd.kind == "person" else cmd.household_size,
        town=cmd.town,
        address=cmd.address,
        phone=cmd.phone,
        org_code=organisation.code,
        org_kind=cmd.org_kind,
        credit_code=cmd.credit_code,
        created_at=at,
        created_by=cmd.actor,
    )
    reach_of(recipient.kind, recipient.household_size)  # the kind's rules, before the CHECKs
    uow.session.add(recipient)
    audit(
        uow.session,
        actor=cmd.actor,
        action="recipient.register",
        entity="recipient",
        entity_id=str(recipient.id),
        after=audit_facts(recipient),
    )
    _announce(uow, recipient)
    await uow.session.flush()
    return recipient


async def update_recipient(uow: SqlUnitOfWork, cmd: UpdateRecipient) -> Recipient:
    unknown = set(cmd.changes) - EDITABLE
    if unknown:
        raise ValidationFailed(f"不能修改这些字段 (not editable: {', '.join(sorted(unknown))})")
    emptied = sorted(k for k, v in cmd.changes.items() if v is None and k not in NULLABLE)
    if emptied:
        raise ValidationFailed(f"这些字段不能为空 (cannot be null: {', '.join(emptied)})")
    recipient = await lock_row(
        uow, Recipient, cmd.recipient_id, f"受助对象不存在 (recipient {cmd.recipient_id} not found)"
    )
    check_reach(cmd.actor_org, recipient)
    check_version(recipient.version, cmd.expected_version)
    changes = dict(cmd.changes)
    resized = changes.get("household_size", recipient.household_size)
    if resized != recipient.household_size and recipient.kind != "household":
        raise ValidationFailed(
            "只有家庭可以修改人口数 (only a household's size can change; a person counts 1)"
        )
    if "name" in changes:
        assert isinstance(changes["name"], str)
        changes["name"] = " ".join(changes["name"].split())
    before = _change_facts(
        {k: recipient.name_masked if k == "name" else getattr(recipient, k) for k in changes}
    )
    for key, value in changes.items():
        setattr(recipient, key, value)
    if "name" in changes:
        recipient.name_masked = masked_name(recipient.kind, recipient.name)
        changes["name"] = recipient.name_masked
    recipient.version += 1
    recipient.updated_at = now()
    recipient.updated_by = cmd.actor
    audit(
        uow.session,
        actor=cmd.actor,
        action="recipient.update",
        entity="recipient",
        entity_id=str(recipient.id),
        before=before,
        after=_change_facts(changes),
    )
    _announce(uow, recipient)
    return recipient


# --- reading -------------------------------------------------------------------------------


async def get_recipient(uow: SqlUnitOfWork, recipient_id: uuid.UUID, actor_org: str) -> Recipient:
    recipient = await uow.session.get(Recipient, recipient_id, populate_existing=True)
    if recipient is None:
        raise NotFound(f"受助对象不存在 (recipient {recipient_id} not found)")
    check_reach(actor_org, recipient)
    return recipient


async def list_recipients(
    uow: SqlUnitOfWork,
    *,
    actor_org: str,
    key: bytes,
    town: str | None = None,
    kind: str | None = None,
    id_number: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Recipient], str | None]:
    """Newest first, keyset-paged, within the caller's reach; ``id_number`` is looked up by
    its fingerprint (a person, or a household whose head it is), ``q`` in the names."""
    query = select(Recipient).order_by(col(Recipient.created_at).desc(), col(Recipient.id).desc())
    if actor_org != DISTRICT:
        query = query.where(col(Recipient.org_code) == actor_org)
    if town is not None:
        query = query.where(col(Recipient.town) == town)
    if kind is not None:
        query = query.where(col(Recipient.kind) == kind)
    if id_number is not None:
        digest, _ = id_fingerprint(id_number, key)
        query = query.where(col(Recipient.id_fingerprint) == digest)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(col(Recipient.name).ilike(pattern, escape="\\"))
    if cursor is not None:
        at, last = decode_cursor(cursor, 2, datetime.fromisoformat, uuid.UUID)
        query = query.where(tuple_(col(Recipient.created_at), col(Recipient.id)) < tuple_(at, last))
    rows, next_cursor = await read_page(
        uow.session, query, limit, lambda r: (r[0].created_at.isoformat(), str(r[0].id))
    )
    return [r[0] for r in rows], next_cursor


# --- the recipients of a disbursement ------------------------------------------------------


async def name_recipients(
    uow: SqlUnitOfWork, disbursement: Disbursement, shares: Sequence[RecipientShare]
) -> list[DisbursementRecipient]:
    """Store the recipients a new disbursement names, with whom each reaches now; a 422 for
    a recipient named twice or not registered, or shares beyond the disbursement's amount."""
    if not shares:
        return []
    ids = [s.recipient_id for s in shares]
    twice = sorted({str(i) for i in ids if ids.count(i) > 1})
    if twice:
        raise ValidationFailed(
            f"同一受助对象重复列出 (recipient named twice: {', '.join(twice)})",
            details={"recipient_ids": twice},
        )
    known = {
        r.id: r
        for r in await uow.session.scalars(select(Recipient).where(col(Recipient.id).in_(ids)))
    }
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise ValidationFailed(
            f"受助对象未登记 (not in the recipients register: {', '.join(unknown)}; "
            "POST /api/v1/recipients first)",
            details={"recipient_ids": unknown},
        )
    shared_fen = sum(s.amount_fen or 0 for s in shares)
    if shared_fen > disbursement.amount_fen:
        raise ValidationFailed(
            f"各对象金额合计 {shared_fen} 分超过拨付金额 {disbursement.amount_fen} 分 "
            "(the recipients' shares exceed the disbursement)",
            details={"shares_fen": shared_fen, "amount_fen": disbursement.amount_fen},
        )
    rows = []
    for share in shares:
        recipient = known[share.recipient_id]
        reach = reach_of(recipient.kind, recipient.household_size)
        row = DisbursementRecipient(
            disbursement_id=disbursement.id,
            recipient_id=recipient.id,
            amount_fen=share.amount_fen,
            people=reach.people,
            households=reach.households,
        )
        uow.session.add(row)
        rows.append(row)
    return rows


@dataclass(frozen=True)
class RepeatReceipt:
    disbursement_id: uuid.UUID
    project_code: str
    voucher_no: str
    disbursed_on: date
    days_apart: int
    amount_fen: int | None


@dataclass(frozen=True)
class NamedRecipient:
    recipient: Recipient
    amount_fen: int | None
    reach: Reach
    repeats: list[RepeatReceipt] | None


async def recipients_of(
    uow: SqlUnitOfWork, disbursement: Disbursement, *, repeat_window_days: int | None
) -> list[NamedRecipient]:
    """The recipients a disbursement names, in the order of their registration; with
    ``repeat_window_days`` and while it awaits approval, each one's repeat receipts: the
    approved disbursements of a project of the same category to the same recipient dated
    less than the window apart (``domain.recipients.is_repeat``), newest first."""
    rows = (
        await uow.session.execute(
            select(DisbursementRecipient, Recipient)
            .join(Recipient, col(Recipient.id) == col(DisbursementRecipient.recipient_id))
            .where(col(DisbursementRecipient.disbursement_id) == disbursement.id)
            .order_by(col(Recipient.created_at), col(Recipient.id))
        )
    ).all()
    if not rows:
        return []
    repeats: dict[uuid.UUID, list[RepeatReceipt]] | None = None
    if repeat_window_days is not None and disbursement.status == "pending":
        repeats = await _repeats(uow, disbursement, [r.id for _, r in rows], repeat_window_days)
    return [
        NamedRecipient(
            recipient=recipient,
            amount_fen=share.amount_fen,
            reach=Reach(share.people, share.households),
            repeats=None if repeats is None else repeats.get(recipient.id, []),
        )
        for share, recipient in rows
    ]


async def _repeats(
    uow: SqlUnitOfWork,
    disbursement: Disbursement,
    recipient_ids: list[uuid.UUID],
    window_days: int,
) -> dict[uuid.UUID, list[RepeatReceipt]]:
    project = await uow.session.get(Project, disbursement.project_code)
    assert project is not None
    this_on = disbursement.disbursed_on
    window = timedelta(days=window_days)
    other = (
        await uow.session.execute(
            select(DisbursementRecipient, Disbursement)
            .join(Disbursement, col(Disbursement.id) == col(DisbursementRecipient.disbursement_id))
            .join(Project, col(Project.code) == col(Disbursement.project_code))
            .where(
                col(DisbursementRecipient.recipient_id).in_(recipient_ids),
                col(Disbursement.id) != disbursement.id,
                col(Disbursement.status) == "approved",
                col(Project.category) == project.category,
                col(Disbursement.disbursed_on) > this_on - window,
                col(Disbursement.disbursed_on) < this_on + window,
            )
            .order_by(col(Disbursement.disbursed_on).desc(), col(Disbursement.id))
        )
    ).all()
    found: dict[uuid.UUID, list[RepeatReceipt]] = defaultdict(list)
    for share, earlier in other:
        if not is_repeat(this_on, earlier.disbursed_on, window_days):
            continue
        found[share.recipient_id].append(
            RepeatReceipt(
                disbursement_id=earlier.id,
                project_code=earlier.project_code,
                voucher_no=earlier.voucher_no,
                disbursed_on=earlier.disbursed_on,
                days_apart=abs((this_on - earlier.disbursed_on).days),
                amount_fen=share.amount_fen,
            )
        )
    return found


# --- what the warehouse's deliveries reached -----------------------------------------------


async def record_delivery(session: AsyncSession, delivered: DispatchDeliveredV1) -> None:
    """A dispatch signed for (not a transfer): keep whom it reached, with its project, so
    people reached can be counted per project. Recipients the register does not hold (never
    expected: the warehouse names only those it copied from our events) are left out of the
    rows; the figures are the warehouse's, taken at the sign-off. Idempotent."""
    await session.execute(
        pg_insert(DeliveredDispatch)
        .values(
            dispatch_id=delivered.dispatch_id,
            dispatch_no=delivered.dispatch_no,
            project_code=delivered.project_code,
            incident_code=delivered.incident_code,
            town=delivered.destination.town,
            people_reached=delivered.people_reached,
            households_reached=delivered.households_reached,
            delivered_at=delivered.delivered_at,
            recorded_at=now(),
        )
        .on_conflict_do_nothing(index_elements=["dispatch_id"])
    )
    if not delivered.recipient_ids:
        return
    known = list(
        await session.scalars(
            select(col(Recipient.id)).where(col(Recipient.id).in_(delivered.recipient_ids))
        )
    )
    if known:
        await session.execute(
            pg_insert(DeliveredDispatchRecipient)
            .values([{"dispatch_id": delivered.dispatch_id, "recipient_id": r} for r in known])
            .on_conflict_do_nothing()
        )


@dataclass(frozen=True)
class ProjectReach:
    project_code: str
    disbursements: tuple[Reach, int]  # (people and households, distinct recipients)
    deliveries: tuple[Reach, int]
    delivered_dispatches: int
    total: tuple[Reach, int]


async def project_reach(uow: SqlUnitOfWork, project_code: str) -> ProjectReach:
    """Whom a project reached: the recipients of its approved disbursements (as counted when
    each was entered), those its delivered dispatches named (as the warehouse counted at the
    sign-off), and, counting every recipient once, both together (at the register's current
    household sizes)."""
    session = uow.session
    if await session.get(Project, project_code) is None:
        raise NotFound(f"项目不存在 (project {project_code} not found)")
    paid = (
        await session.execute(
            select(
                func.coalesce(func.sum(DisbursementRecipient.people), 0),
                func.coalesce(func.sum(DisbursementRecipient.households), 0),
                func.count(func.distinct(DisbursementRecipient.recipient_id)),
            )
            .join(Disbursement, col(Disbursement.id) == col(DisbursementRecipient.disbursement_id))
            .where(
                col(Disbursement.project_code) == project_code,
                col(Disbursement.status) == "approved",
            )
        )
    ).one()
    delivered = (
        await session.execute(
            select(
                func.coalesce(func.sum(DeliveredDispatch.people_reached), 0),
                func.coalesce(func.sum(DeliveredDispatch.households_reached), 0),
                func.count(),
            ).where(col(DeliveredDispatch.project_code) == project_code)
        )
    ).one()
    delivered_recipients = await session.scalar(
        select(func.count(func.distinct(DeliveredDispatchRecipient.recipient_id)))
        .join(
            DeliveredDispatch,
            col(DeliveredDispatch.dispatch_id) == col(DeliveredDispatchRecipient.dispatch_id),
        )
        .where(col(DeliveredDispatch.project_code) == project_code)
    )
    paid_ids = (
        select(col(DisbursementRecipient.recipient_id))
        .join(Disbursement, col(Disbursement.id) == col(DisbursementRecipient.disbursement_id))
        .where(
            col(Disbursement.project_code) == project_code,
            col(Disbursement.status) == "approved",
        )
    )
    delivered_ids = (
        select(col(DeliveredDispatchRecipient.recipient_id))
        .join(
            DeliveredDispatch,
            col(DeliveredDispatch.dispatch_id) == col(DeliveredDispatchRecipient.dispatch_id),
        )
        .where(col(DeliveredDispatch.project_code) == project_code)
    )
    everyone = list(
        await session.scalars(
            select(Recipient).where(
                or_(col(Recipient.id).in_(paid_ids), col(Recipient.id).in_(delivered_ids))
            )
        )
    )
    return ProjectReach(
        project_code=project_code,
        disbursements=(Reach(int(paid[0]), int(paid[1])), int(paid[2])),
        deliveries=(Reach(int(delivered[0]), int(delivered[1])), int(delivered_recipients or 0)),
        delivered_dispatches=int(delivered[2]),
        total=(
            total_reach(reach_of(r.kind, r.household_size) for r in everyone),
            len(everyone),
        ),
    )


# what the routes use of the adapters (routes do not import adapters)
RecipientRow = Recipient
load_key = load_recipient_key
