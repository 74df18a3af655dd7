"""Pure rules of the feed: tracking-code hashes, disclosure deadlines, periods, IATI types,
the log settings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from notification.config import NotificationSettings
from notification.log.entry import entry_document, entry_id
from notification.service_layer.feed_metrics import SHANGHAI, add_working_days, deadline_for
from notification.service_layer.open_data import iati
from notification.service_layer.projections import tracking_hash
from notification.service_layer.queries.feed import parse_period
from shared.errors import ValidationFailed


def test_tracking_hash_reads_the_code_as_typed_canonically() -> None:
    assert tracking_hash(" abcd-1 ") == tracking_hash("ABCD-1")


def test_working_days_and_deadlines() -> None:
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
    assert add_working_days(friday, 1).date() == date(2026, 11, 30)
    assert add_working_days(friday, 7).date() == date(2026, 12, 8)
    assert add_working_days(friday, 1, [date(2026, 11, 30)]).date() == date(2026, 12, 1)
    due, rule = deadline_for("donation.received", friday, refs=[None], major_disaster_refs=[])
    assert rule == "7_working_days"
    assert due is not None
    assert due.date() == date(2026, 12, 8)
    due, rule = deadline_for(
        "donation.received", friday, refs=["TY-1", "P"], major_disaster_refs=["TY-1"]
    )
    assert rule == "24h_disaster"
    assert due == datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    _, rule = deadline_for("goods.delivered", friday, refs=["TY-1"], major_disaster_refs=["TY-1"])
    assert rule == "24h_disaster"
    _, rule = deadline_for("funds.disbursed", friday, refs=[None], major_disaster_refs=[])
    assert rule == "30_days_use_of_funds"
    assert deadline_for("project.opened", friday, refs=[], major_disaster_refs=[]) == (None, None)


def test_a_declared_incident_only_tightens_deadlines() -> None:
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
    declared = {"TY-9": datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)}  # the Monday after

    def due(kind: str, at: datetime, refs: list[str | None]) -> tuple[datetime | None, str | None]:
        return deadline_for(kind, at, refs=refs, major_disaster_refs=[], declared_major=declared)

    # a gift before the declaration: 24 h after the declaration (sooner than 7 working days)
    assert due("donation.received", friday, ["TY-9"]) == (
        datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI),
        "24h_disaster",
    )
    # a gift after it: 24 h after the gift
    tuesday = datetime(2026, 12, 1, 15, 0, tzinfo=SHANGHAI)
    assert due("donation.received", tuesday, ["TY-9"])[0] == datetime(
        2026, 12, 2, 15, 0, tzinfo=SHANGHAI
    )
    # a use a month before the declaration keeps its earlier 30-day deadline
    october = datetime(2026, 10, 20, 10, 0, tzinfo=SHANGHAI)
    assert due("funds.disbursed", october, ["TY-9"]) == (
        datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI),
        "30_days_use_of_funds",
    )
    # not the incident's, or no deadline at all: unchanged
    assert due("donation.received", friday, ["TY-8"])[1] == "7_working_days"
    assert due("project.opened", friday, ["TY-9"]) == (None, None)


def test_periods() -> None:
    lo, hi = parse_period("2026-12")
    assert (lo.date(), hi.date()) == (date(2026, 12, 1), date(2027, 1, 1))
    lo, hi = parse_period("2026")
    assert (lo.date(), hi.date()) == (date(2026, 1, 1), date(2027, 1, 1))
    lo, hi = parse_period("2026-11-03..2026-11-04")
    assert (lo.date(), hi.date()) == (date(2026, 11, 3), date(2026, 11, 5))
    assert lo.utcoffset() is not None
    for bad in ("2026-13", "9999-12-31", "x", "2026-1-1-1", "..2026"):
        with pytest.raises(ValidationFailed):
            parse_period(bad)


def test_iati_mapping() -> None:
    def row(kind: str, **data: object) -> SimpleNamespace:
        return SimpleNamespace(kind=kind, data=data)

    assert iati(row("donation.received", donation_kind="money", amount_fen=100)) == (1, 100)
    assert iati(row("donation.received", donation_kind="goods", amount_fen=100)) == (None, None)
    assert iati(row("correction", correction="cancelled", amount_fen=-100)) == (1, -100)
    assert iati(row("donation.refunded", amount_fen=100)) == (1, -100)
    assert iati(row("funds.disbursed", recipient_type="organization", amount_fen=5)) == (3, 5)
    assert iati(row("funds.disbursed", recipient_type="person", amount_fen=5)) == (4, 5)
    assert iati(row("project.opened")) == (None, None)


def test_entry_document_is_deterministic() -> None:
    assert entry_id("evt-1") == entry_id("evt-1") != entry_id("evt-2")
    doc = entry_document(
        id=entry_id("evt-1"),
        source_event_id="evt-1",
        kind="donation.received",
        subject_id="s",
        title="t",
        data={"amount_fen": 1},
        occurred_at=datetime(2026, 11, 28, 9, 30, tzinfo=UTC),
        corrects=None,
        tracking_code_hash=None,
        project_code=None,
        town=None,
        incident_ref=None,
    )
    assert doc["occurred_at"] == "2026-11-28T09:30:00.000000Z"
    assert "published_at" not in doc


def test_log_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="feed log signing key"):
        NotificationSettings(
            environment="production",
            db_password="x",
            webhook_secret="y",
            log_signing_key_file=tmp_path / "missing.pem",
        )
    with pytest.raises(ValueError, match="less than or equal to 60"):
        NotificationSettings(log_checkpoint_interval_s=120)
    key = tmp_path / "k.pem"
    key.write_text("present")
    settings = NotificationSettings(
        environment="production", db_password="x", webhook_secret="y", log_signing_key_file=key
    )
    assert settings.log_signing_key_file == key
