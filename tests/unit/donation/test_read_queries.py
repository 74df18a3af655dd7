"""The donation read side without a database: the wire shape of a gift, and the list queries
(their filters, order and page size; a made-up cursor or code is a 422 before any read)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.base import PGDialect

from donation.adapters.orm import Donation, DonationItem, Donor, Receipt
from donation.service_layer.queries.audit import AuditFilters, audit_query
from donation.service_layer.queries.donations import GiftFilters, donation_out, donations_query
from donation.service_layer.queries.donors import DonorFilters, donors_query
from donation.service_layer.queries.receipts import register_query
from shared.errors import ValidationFailed
from shared.pagination import encode_cursor

POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it unannotated
AT = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
DONOR_ID = uuid.UUID("0190a6f2-0000-7000-8000-0000000000d1")
GIFT_ID = uuid.UUID("0190a6f2-0000-7000-8000-0000000000a1")


def sql(query: Any) -> str:
    return str(query.compile(dialect=POSTGRESQL))


def where(query: Any) -> str:
    """The query's conditions (what follows WHERE), or nothing."""
    return sql(query).partition(" WHERE ")[2]


def params(query: Any) -> dict[str, Any]:
    return dict(query.compile(dialect=POSTGRESQL).params)


def test_a_gift_answers_with_its_donor_lines_and_what_is_left() -> None:
    donor = Donor(
        id=DONOR_ID,
        donor_type="individual",
        name="王小明",
        phone="13800000000",
        display="surname",
        version=3,
        created_at=AT,
    )
    gift = Donation(
        id=GIFT_ID,
        tracking_code="SX-ABCD-2345",
        kind="goods",
        status="in_stock",
        amount_fen=10000,
        channel="on_site",
        display="surname",
        display_name="王*明",
        donor_id=DONOR_ID,
        received_at=AT,
        created_at=AT,
        created_by="finance",
        version=2,
        used_fen=2500,
        refunded_fen=1000,
    )
    line = DonationItem(
        id=uuid.UUID("0190a6f2-0000-7000-8000-0000000000b1"),
        donation_id=GIFT_ID,
        line_no=1,
        item_code="RICE-10",
        name="大米",
        quantity=5,
        unit="袋",
        expiry_date=date(2027, 1, 1),
        value_fen=10000,
    )

    out = donation_out(gift, donor, [line], receipt_no="2026-000042")

    assert out.remaining_fen == 6500
    assert out.receipt_no == "2026-000042"
    assert (out.donor.id, out.donor.name, out.donor.version) == (DONOR_ID, "王小明", 3)
    assert [(i.line_no, i.item_code, i.quantity) for i in out.items] == [(1, "RICE-10", 5)]
    assert (out.display_name, out.version, out.used_fen) == ("王*明", 2, 2500)
    assert donation_out(gift, donor, []).receipt_no is None


def test_gifts_are_listed_newest_first_one_more_than_the_page() -> None:
    query = donations_query(GiftFilters(), limit=20, cursor=None)

    text = sql(query)
    assert "ORDER BY donations.received_at DESC, donations.id DESC" in text
    assert where(query) == ""
    assert 21 in params(query).values()


@pytest.mark.parametrize(
    ("unrestricted", "clause"),
    [(True, "donations.project_code IS NULL"), (False, "donations.project_code IS NOT NULL")],
)
def test_unrestricted_or_designated_gifts(unrestricted: bool, clause: str) -> None:
    assert clause in sql(
        donations_query(GiftFilters(unrestricted=unrestricted), limit=5, cursor=None)
    )


def test_gift_filters_each_narrow_the_list() -> None:
    filters = GiftFilters(
        status="received",
        kind="money",
        channel="alipay",
        project_code="SWJ-2026",
        donor_id=DONOR_ID,
        received_from=AT,
        received_to=AT,
        receipt_no="2026-000042",
        donor_name="王",
    )
    query = donations_query(filters, limit=5, cursor=encode_cursor(AT.isoformat(), str(GIFT_ID)))

    text = sql(query)
    for clause in (
        "donations.status =",
        "donations.kind =",
        "donations.channel =",
        "donations.project_code =",
        "donations.donor_id =",
        "donations.received_at >=",
        "donations.received_at <",
        "receipts.receipt_no =",
        "donors.name LIKE",
        "donations.id <",
    ):
        assert clause in text, clause
    values = params(query).values()
    assert {"received", "money", "alipay", "SWJ-2026", DONOR_ID, "2026-000042", GIFT_ID} <= set(
        values
    )


@pytest.mark.parametrize(
    "filters_and_cursor",
    [
        (GiftFilters(tracking_code="not a code!"), None),
        (GiftFilters(), encode_cursor("yesterday", "x")),
        (GiftFilters(), encode_cursor(AT.isoformat(), "not-a-uuid")),
    ],
    ids=["malformed-tracking-code", "cursor-time", "cursor-id"],
)
def test_a_made_up_code_or_cursor_is_a_422(
    filters_and_cursor: tuple[GiftFilters, str | None],
) -> None:
    filters, cursor = filters_and_cursor
    with pytest.raises(ValidationFailed):
        donations_query(filters, limit=5, cursor=cursor)


def test_donors_by_email_ignore_case_newest_first() -> None:
    query = donors_query(
        DonorFilters(email="Li.Si@Example.CN", donor_type="organization"),
        limit=10,
        cursor=encode_cursor(str(DONOR_ID)),
    )

    text = sql(query)
    assert "lower(donors.email) =" in text
    assert "donors.id <" in text
    assert "ORDER BY donors.id DESC" in text
    assert {"li.si@example.cn", "organization", DONOR_ID, 11} <= set(params(query).values())
    assert where(donors_query(DonorFilters(q=""), limit=10, cursor=None)) == ""


def test_list_cursors_of_the_wrong_shape_are_a_422() -> None:
    with pytest.raises(ValidationFailed):
        donors_query(DonorFilters(), limit=10, cursor=encode_cursor("not-a-uuid"))
    with pytest.raises(ValidationFailed):
        register_query(Receipt, 2026, limit=10, cursor=encode_cursor("2026", 5))
    with pytest.raises(ValidationFailed):
        audit_query(AuditFilters(), limit=10, cursor=encode_cursor("7"))


def test_the_receipt_register_pages_by_year_then_number() -> None:
    query = register_query(Receipt, 2026, limit=50, cursor=encode_cursor(2026, 42))

    text = sql(query)
    assert "ORDER BY receipts.year DESC, receipts.seq DESC" in text
    assert "receipts.seq <" in text
    assert {2026, 42, 51} <= set(params(query).values())


def test_the_audit_log_filters_by_exact_values() -> None:
    query = audit_query(AuditFilters(entity="donor", actor="finance"), limit=50, cursor=None)

    text = sql(query)
    assert "audit_log.entity =" in text
    assert "audit_log.actor =" in text
    assert "audit_log.entity_id" not in where(query)
    assert {"donor", "finance", 51} <= set(params(query).values())
