"""Follow-ups: a visit recorded on one approved disbursement or on one gift, published so the
public feed and the donor's timeline can show what became of the money."""

from __future__ import annotations

from donation.adapters.orm import Disbursement, Donation, FollowUp
from donation.domain.commands import RecordFollowUp
from donation.service_layer.common import audit, now
from shared.contracts.donation import FOLLOW_UP_RECORDED, FollowUpRecordedV1
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.ids import uuid7
from shared.messaging.topics import DONATION_EVENTS
from shared.uow import SqlUnitOfWork


async def record_follow_up(uow: SqlUnitOfWork, cmd: RecordFollowUp) -> FollowUp:
    disbursement_id, donation_id, town = cmd.disbursement_id, cmd.donation_id, cmd.town
    if (disbursement_id is None) == (donation_id is None):
        raise ValidationFailed(
            "回访须针对一笔拨付或一笔捐赠 (give exactly one of disbursement_id, donation_id)"
        )
    project_code: str | None = None
    if disbursement_id is not None:
        disbursement = await uow.session.get(Disbursement, disbursement_id)
        if disbursement is None:
            raise NotFound(f"拨付记录不存在 (disbursement {disbursement_id} not found)")
        if disbursement.status != "approved":
            raise Conflict(
                f"拨付状态为「{disbursement.status}」，不能回访 (disbursement is "
                f"{disbursement.status})",
                details={"status": disbursement.status},
            )
        project_code = disbursement.project_code
        town = town or disbursement.town
    else:
        donation = await uow.session.get(Donation, donation_id)
        if donation is None:
            raise NotFound(f"捐赠记录不存在 (donation {donation_id} not found)")
        project_code = donation.project_code
    follow_up = FollowUp(
        id=uuid7(),
        disbursement_id=disbursement_id,
        donation_id=donation_id,
        project_code=project_code,
        visited_on=cmd.visited_on,
        summary=cmd.summary,
        town=town,
        visitor=cmd.visitor,
        created_at=now(),
        created_by=cmd.actor,
    )
    await stage_follow_up(uow, follow_up)
    return follow_up


async def stage_follow_up(uow: SqlUnitOfWork, follow_up: FollowUp) -> None:
    """Add a follow-up row, audited, with its FollowUpRecordedV1 (keyed by the disbursement,
    the gift or the dispatch it is about): also the record of a planned visit's outcome."""
    uow.session.add(follow_up)
    audit(
        uow.session,
        actor=follow_up.created_by,
        action="follow_up.record",
        entity="follow_up",
        entity_id=str(follow_up.id),
        after={
            "disbursement_id": follow_up.disbursement_id,
            "donation_id": follow_up.donation_id,
            "dispatch_id": follow_up.dispatch_id,
            "visited_on": follow_up.visited_on,
            "summary": follow_up.summary,
        },
    )
    key = str(follow_up.disbursement_id or follow_up.donation_id or follow_up.dispatch_id)
    uow.publish(
        topic=DONATION_EVENTS,
        key=key,
        type=FOLLOW_UP_RECORDED,
        subject=key,
        payload=FollowUpRecordedV1(
            follow_up_id=follow_up.id,
            disbursement_id=follow_up.disbursement_id,
            donation_id=follow_up.donation_id,
            project_code=follow_up.project_code,
            visited_on=follow_up.visited_on,
            summary=follow_up.summary,
            town=follow_up.town,  # type: ignore[arg-type]
            recorded_at=follow_up.created_at,
        ),
    )
    await uow.session.flush()
