"""The parts of follow-ups as a plan that need no database: the rules setting and its errors,
the visits a fact plans, the summary for the evaluation (hand-computed), a photo's magic bytes,
the content-addressed attachment store, and the request guard letting a binary upload through
(NUL bytes and up to 5 MiB) while text bodies keep their limits."""

from __future__ import annotations

import json
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import ValidationError

from donation.adapters.attachments import AttachmentDamaged, AttachmentStore, sha256_of
from donation.config import DonationSettings
from donation.domain.follow_up_plan import (
    DEFAULT_RULES,
    FollowUpRule,
    PlannedVisit,
    plan,
    public_summary,
    rule_table,
    summarise,
)
from donation.service_layer.follow_up_visits import check_photo
from shared.errors import ValidationFailed
from shared.request_guard import MAX_BODY_BYTES, MAX_UPLOAD_BYTES, RequestGuardMiddleware

# --- the rules setting ---------------------------------------------------------------------


def test_without_the_setting_the_defaults_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DONATION_FOLLOW_UP_RULES", raising=False)
    assert DonationSettings().follow_up_plan == DEFAULT_RULES


def test_the_setting_replaces_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [
        {"category": "song_wan_jia", "trigger": "delivery", "first_after_days": 10},
        {
            "category": "emergency",
            "trigger": "delivery",
            "first_after_days": 3,
            "visits": 3,
            "every_days": 10,
            "grace_days": 2,
        },
    ]
    monkeypatch.setenv("DONATION_FOLLOW_UP_RULES", json.dumps(rules))
    assert DonationSettings().follow_up_plan == (
        FollowUpRule("song_wan_jia", "delivery", 10),
        FollowUpRule("emergency", "delivery", 3, visits=3, every_days=10, grace_days=2),
    )
    monkeypatch.setenv("DONATION_FOLLOW_UP_RULES", "[]")
    assert DonationSettings().follow_up_plan == ()


@pytest.mark.parametrize(
    ("rules", "says"),
    [
        (
            [{"category": "flood", "trigger": "delivery", "first_after_days": 1}],
            "follow_up_rules.0.category",
        ),
        (
            [{"category": "other", "trigger": "signed", "first_after_days": 1}],
            "follow_up_rules.0.trigger",
        ),
        (
            [{"category": "other", "trigger": "delivery", "first_after_days": -1}],
            "greater than or equal to 0",
        ),
        (
            [{"category": "other", "trigger": "delivery", "first_after_days": 1, "every": 3}],
            "Extra inputs are not permitted",
        ),
        (
            [{"category": "other", "trigger": "delivery", "first_after_days": 1, "visits": 2}],
            "DONATION_FOLLOW_UP_RULES: other/delivery: several visits need every_days",
        ),
        (
            [
                {"category": "other", "trigger": "delivery", "first_after_days": 1},
                {"category": "other", "trigger": "delivery", "first_after_days": 5},
            ],
            "DONATION_FOLLOW_UP_RULES: other/delivery: two rules",
        ),
    ],
)
def test_a_rules_setting_that_makes_no_sense_is_refused_saying_why(
    monkeypatch: pytest.MonkeyPatch, rules: list[dict[str, Any]], says: str
) -> None:
    monkeypatch.setenv("DONATION_FOLLOW_UP_RULES", json.dumps(rules))
    with pytest.raises(ValidationError, match=says):
        DonationSettings()


def test_the_rule_table_refuses_an_unknown_category() -> None:
    with pytest.raises(ValueError, match="unknown project category"):
        rule_table([FollowUpRule("typhoon", "delivery", 1)])


# --- planning and the summary --------------------------------------------------------------


def test_a_fact_plans_the_visits_of_its_rule() -> None:
    # 博爱家园 after a disbursement on 2027-03-01: 90 days, then every 91 days, 14 grace days
    assert plan(DEFAULT_RULES, "boai_jiayuan", "disbursement", date(2027, 3, 1)) == [
        PlannedVisit(1, 4, date(2027, 5, 30), 14),
        PlannedVisit(2, 4, date(2027, 8, 29), 14),
        PlannedVisit(3, 4, date(2027, 11, 28), 14),
        PlannedVisit(4, 4, date(2028, 2, 27), 14),
    ]
    assert plan(DEFAULT_RULES, "boai_jiayuan", "delivery", date(2027, 3, 1)) == []


def test_the_summary_counts_states_the_share_of_those_owed_and_the_scores() -> None:
    summary = summarise(
        [("on_time", 5), ("late", 2), ("on_time", None), ("overdue", None), ("due", None)]
    )
    assert (summary.planned, summary.due, summary.on_time, summary.late, summary.overdue) == (
        5,
        1,
        2,
        1,
        1,
    )
    assert summary.on_time_share == Fraction(2, 4)
    assert (summary.satisfaction_count, summary.average_satisfaction) == (2, Fraction(7, 2))
    nothing_owed = summarise([("due", None)])
    assert nothing_owed.on_time_share is None
    assert nothing_owed.average_satisfaction is None


def test_the_public_summary_says_the_outcome_and_score_only() -> None:
    assert public_summary(2, 4, "reached", 4) == "计划回访（第 2/4 次）：已回访受助对象，满意度 4/5"
    assert public_summary(1, 1, "not_reached", None) == "计划回访（第 1/1 次）：未能联系上受助对象"


# --- photos --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "data", "says"),
    [
        ("image/png", b"", "empty"),
        ("image/png", b"\xff\xd8\xff\xe0rest", "not a image/png image (it is image/jpeg)"),
        ("image/jpeg", b"GIF89a", "not a image/jpeg image; send"),
    ],
)
def test_a_photo_is_what_its_content_type_says(content_type: str, data: bytes, says: str) -> None:
    with pytest.raises(ValidationFailed, match=says.replace("(", r"\(").replace(")", r"\)")):
        check_photo(content_type, data)


def test_a_real_jpeg_and_png_pass() -> None:
    check_photo("image/jpeg", b"\xff\xd8\xff\xdb" + b"\x00" * 10)
    check_photo("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)


async def test_the_store_names_files_by_their_hash_writes_once_and_checks_reads(
    tmp_path: Path,
) -> None:
    store = AttachmentStore(tmp_path)
    data = b"\x89PNG\r\n\x1a\n" + b"\x00photo"
    digest, written = await store.put(data)
    assert (digest, written) == (sha256_of(data), True)
    path = tmp_path / digest[:2] / digest
    assert path.read_bytes() == data
    assert await store.put(data) == (digest, False)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]  # no temporary left
    assert await store.get(digest) == data

    path.write_bytes(data + b"!")
    with pytest.raises(AttachmentDamaged) as damaged:
        await store.get(digest)
    assert damaged.value.reason == "mismatch"
    assert await store.put(data) == (digest, True)  # the good bytes replace the damaged copy
    assert await store.get(digest) == data
    path.unlink()
    with pytest.raises(AttachmentDamaged) as lost:
        await store.get(digest)
    assert lost.value.reason == "missing"
    with pytest.raises(ValueError, match="SHA-256"):
        store.path_of("../../etc/passwd")


# --- the request guard ---------------------------------------------------------------------


def _echo_app() -> httpx.AsyncClient:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    guarded = RequestGuardMiddleware(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://t")


@pytest.mark.parametrize(
    ("content_type", "size", "status"),
    [
        ("image/png", MAX_UPLOAD_BYTES, 200),
        ("image/jpeg", MAX_UPLOAD_BYTES + 1, 413),
        ("image/gif", 100, 200),  # binary: NUL bytes pass; the route answers 415
        ("image/gif", MAX_BODY_BYTES + 1, 413),  # only the uploads' types get 5 MiB
        ("application/octet-stream", 100, 200),
        ("text/plain", 100, 422),  # text with NUL: refused as before
        ("application/json", MAX_BODY_BYTES + 1, 413),
    ],
)
async def test_binary_uploads_pass_the_guard_within_their_limit(
    content_type: str, size: int, status: int
) -> None:
    async with _echo_app() as client:
        answer = await client.post(
            "/echo", content=b"\x00" * size, headers={"Content-Type": content_type}
        )
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.json() == {"bytes": size}
    if status == 413:
        limit = MAX_UPLOAD_BYTES if content_type in ("image/png", "image/jpeg") else MAX_BODY_BYTES
        assert f"at most {limit} bytes" in answer.json()["error"]["message"]
