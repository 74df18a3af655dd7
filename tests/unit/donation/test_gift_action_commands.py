"""A gift's actions over HTTP map the request to one command, without PostgreSQL: what the
route sends to the service layer (an absent body means the defaults the API promises), the
body a retry must repeat, and a PATCH's version (If-Match before the body's) and changes
(only the fields sent, ``reason`` among them, never ``version``)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

import pytest
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from donation.adapters.orm import AuditEntry, Receipt
from donation.domain.commands import (
    CancelDonation,
    CompleteDonation,
    IssueReceipt,
    ReceivePledge,
    RecordFailedLogin,
    RefundDonation,
    UpdateDonation,
    VoidReceipt,
)
from donation.entrypoints.api import donations
from donation.entrypoints.api.auth import failed_login_command
from donation.entrypoints.api.schemas import DonationPatch, ReasonIn, ReceiptIn, ReceiveIn
from donation.service_layer import gifts
from donation.service_layer.staff import LoginFailed, record_failed_login
from shared.auth import StaffPrincipal
from shared.runtime import ServiceRuntime
from shared.uow import SqlUnitOfWork

GIFT = uuid.UUID("0190a6f2-0000-7000-8000-0000000000aa")
STAFF = StaffPrincipal(username="finance", roles=frozenset({"finance"}), display_name="陈会计")


class FakeUow:
    """What the routes' write helpers ask of a unit of work, doing nothing."""

    async def __aenter__(self) -> FakeUow:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def commit(self) -> None:
        return None


class FakeRuntime:
    def unit_of_work(self) -> FakeUow:
        return FakeUow()


RUNTIME = cast(ServiceRuntime, FakeRuntime())


class Sent:
    """The commands the service layer received, and what the idempotency helpers were given."""

    def __init__(self) -> None:
        self.commands: list[object] = []
        self.routes: list[str] = []
        self.payloads: list[Any] = []

    def service(self, answer: object) -> Callable[[SqlUnitOfWork, object], Awaitable[object]]:
        async def run(uow: SqlUnitOfWork, cmd: object) -> object:
            self.commands.append(cmd)
            return answer

        return run


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Sent:
    """Routes run against fakes: ``act_on_row`` and ``idempotent`` run the change at once."""
    record = Sent()
    uow = cast(SqlUnitOfWork, FakeUow())

    async def act_on_row(
        runtime: ServiceRuntime,
        *,
        staff: StaffPrincipal,
        key: str | None,
        route: str,
        body: BaseModel | None,
        change: Callable[[SqlUnitOfWork], Awaitable[object]],
        render: object,
        status: int = 200,
    ) -> JSONResponse:
        record.routes.append(route)
        record.payloads.append(body.model_dump(mode="json") if body is not None else {})
        await change(uow)
        return JSONResponse({})

    async def idempotent(
        runtime: ServiceRuntime,
        *,
        staff: StaffPrincipal,
        key: str | None,
        route: str,
        payload: Any,
        action: Callable[[SqlUnitOfWork], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> JSONResponse:
        record.routes.append(route)
        record.payloads.append(payload)
        status, body = await action(uow)
        return JSONResponse(body, status)

    async def donation_body(uow: SqlUnitOfWork, donation_id: uuid.UUID) -> dict[str, Any]:
        return {"id": str(donation_id)}  # the refund route answers the gift itself

    monkeypatch.setattr(donations, "act_on_row", act_on_row)
    monkeypatch.setattr(donations, "idempotent", idempotent)
    monkeypatch.setattr(donations, "donation_body", donation_body)
    receipt = Receipt(
        id=uuid.uuid4(),
        donation_id=GIFT,
        year=2026,
        seq=7,
        receipt_no="2026-000007",
        amount_fen=10000,
        payer_name="王小明",
        anonymous=False,
        declined=False,
        issued_at=datetime(2026, 5, 1, tzinfo=UTC),
        issued_by="finance",
    )
    for name in ("receive_pledged", "cancel_donation", "refund_donation", "complete_donation"):
        monkeypatch.setattr(gifts, name, record.service(None))
    for name in ("issue_receipt", "void_receipt"):
        monkeypatch.setattr(gifts, name, record.service(receipt))
    return record


async def test_a_pledge_received_without_a_body_arrives_now(sent: Sent) -> None:
    await donations.receive(GIFT, RUNTIME, "k1", None, STAFF)

    assert sent.commands == [ReceivePledge(donation_id=GIFT, actor="finance", received_at=None)]
    # a retry repeats the defaulted body, as before the command existed
    assert sent.payloads == [{"received_at": None}]
    assert sent.routes == [f"POST /donations/{GIFT}/receive"]


async def test_a_pledge_received_at_a_time_keeps_it(sent: Sent) -> None:
    at = datetime(2026, 3, 8, 9, 30, tzinfo=UTC)

    await donations.receive(GIFT, RUNTIME, None, ReceiveIn(received_at=at), STAFF)

    assert sent.commands == [ReceivePledge(donation_id=GIFT, actor="finance", received_at=at)]


async def test_a_receipt_without_a_body_is_sent_in_the_donors_name(sent: Sent) -> None:
    answer = await donations.issue_receipt(GIFT, RUNTIME, "k2", None, STAFF)

    assert sent.commands == [IssueReceipt(donation_id=GIFT, actor="finance")]
    assert sent.commands[0] == IssueReceipt(GIFT, "finance", declined=False, payer_name=None)
    assert sent.payloads == [{"declined": False, "payer_name": None}]
    assert sent.routes == [f"POST /donations/{GIFT}/receipt"]
    assert answer.status_code == 201


async def test_a_declined_receipt_for_another_payer_carries_both(sent: Sent) -> None:
    body = ReceiptIn(declined=True, payer_name="阳光公司")

    await donations.issue_receipt(GIFT, RUNTIME, None, body, STAFF)

    assert sent.commands == [
        IssueReceipt(donation_id=GIFT, actor="finance", declined=True, payer_name="阳光公司")
    ]


@pytest.mark.parametrize(
    ("action", "command"),
    [
        ("void", VoidReceipt(donation_id=GIFT, actor="finance", reason="抬头有误")),
        ("cancel", CancelDonation(donation_id=GIFT, actor="finance", reason="抬头有误")),
        # the refund carries the four-eyes threshold (DONATION_REFUND_FOUR_EYES_FEN)
        (
            "refund",
            RefundDonation(
                donation_id=GIFT, actor="finance", reason="抬头有误", four_eyes_fen=100_000
            ),
        ),
    ],
    ids=["void", "cancel", "refund"],
)
async def test_an_action_with_a_reason_carries_it(sent: Sent, action: str, command: object) -> None:
    route = {
        "void": donations.void_receipt,
        "cancel": donations.cancel,
        "refund": donations.refund,
    }[action]

    await route(GIFT, ReasonIn(reason="抬头有误"), RUNTIME, None, STAFF)

    assert sent.commands == [command]
    assert sent.payloads == [{"reason": "抬头有误"}]
    path = "receipt/void" if action == "void" else action
    assert sent.routes == [f"POST /donations/{GIFT}/{path}"]


async def test_completing_sends_no_body(sent: Sent) -> None:
    await donations.complete(GIFT, RUNTIME, None, STAFF)

    assert sent.commands == [CompleteDonation(donation_id=GIFT, actor="finance")]
    assert sent.payloads == [{}]


@pytest.fixture
def updates(monkeypatch: pytest.MonkeyPatch) -> list[UpdateDonation]:
    """``PATCH /donations/{id}`` through the real ``edit_row``, its service call recorded."""
    seen: list[UpdateDonation] = []

    async def update_donation(uow: SqlUnitOfWork, cmd: UpdateDonation) -> None:
        seen.append(cmd)

    async def donation_body(uow: SqlUnitOfWork, donation_id: uuid.UUID) -> dict[str, Any]:
        return {"id": str(donation_id), "version": 4}

    monkeypatch.setattr(gifts, "update_donation", update_donation)
    monkeypatch.setattr(donations, "donation_body", donation_body)
    return seen


async def test_a_designation_change_sends_only_what_was_sent(updates: list[UpdateDonation]) -> None:
    body = DonationPatch.model_validate(
        {"project_code": None, "reason": "捐赠人来电", "version": 3}
    )

    answer = await donations.patch_donation(GIFT, body, RUNTIME, None, STAFF)

    # the body's version when there is no If-Match; an explicit null (unrestricted) is a change
    assert updates == [
        UpdateDonation(
            donation_id=GIFT,
            actor="finance",
            expected_version=3,
            changes={"project_code": None, "reason": "捐赠人来电"},
        )
    ]
    assert answer.headers["ETag"] == '"4"'


async def test_if_match_wins_over_the_bodys_version(updates: list[UpdateDonation]) -> None:
    body = DonationPatch.model_validate({"note": "年终", "version": 3})

    await donations.patch_donation(GIFT, body, RUNTIME, 5, STAFF)

    assert updates == [
        UpdateDonation(
            donation_id=GIFT, actor="finance", expected_version=5, changes={"note": "年终"}
        )
    ]


async def test_a_patch_without_any_version_sends_none(updates: list[UpdateDonation]) -> None:
    await donations.patch_donation(GIFT, DonationPatch(note="x"), RUNTIME, None, STAFF)

    assert [u.expected_version for u in updates] == [None]


def test_a_refused_login_records_the_account_never_what_was_typed() -> None:
    unknown = failed_login_command(LoginFailed("unknown_user", None), "10.0.0.9", "donation")
    wrong = failed_login_command(LoginFailed("wrong_password", "finance"), "10.0.0.9", "donation")

    assert unknown == RecordFailedLogin(
        reason="unknown_user", username=None, client="10.0.0.9", service="donation"
    )
    assert (wrong.reason, wrong.username) == ("wrong_password", "finance")


class AddingSession:
    def __init__(self) -> None:
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)


async def test_a_refused_login_is_audited_as_anonymous_with_a_short_client() -> None:
    session = AddingSession()
    uow = SqlUnitOfWork(cast(Any, None), source="donation")
    uow.session = cast(AsyncSession, session)

    await record_failed_login(
        uow,
        RecordFailedLogin(reason="unknown_user", username=None, client="x" * 100, service="d"),
    )

    [entry] = session.added
    assert isinstance(entry, AuditEntry)
    assert (entry.actor, entry.action, entry.entity) == ("anonymous", "login_failed", "staff_user")
    assert entry.entity_id == "(unknown)"
    assert entry.after == {"reason": "unknown_user", "client": "x" * 64}
    assert uow.staged_events == []
