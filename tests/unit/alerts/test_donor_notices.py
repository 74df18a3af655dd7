"""Donor notices: Chinese text per milestone, and which channels a notice goes to."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from notification.domain.notices import render
from notification.service_layer.notices import Routing, donor_addresses
from shared.contracts.donation import NoticeRequestedV1


def notice(milestone: str, channels: list[str] | None = None, **facts: Any) -> NoticeRequestedV1:
    return NoticeRequestedV1.model_validate(
        {
            "notice_id": str(uuid.uuid4()),
            "milestone": milestone,
            "donation_id": str(uuid.uuid4()),
            "tracking_code": "1MFB-V2RH-TWEX-7RZY-152D-7",
            "recipient": {
                "name": "张建丰",
                "email": "zhang.jf@example.com",
                "phone": "13800001111",
            },
            "channels": ["email", "sms"] if channels is None else channels,
            "facts": facts,
            "requested_at": datetime(2026, 11, 28, tzinfo=UTC).isoformat(),
        }
    )


def test_gift_received_names_the_receipt_number() -> None:
    subject, body = render(
        notice(
            "received",
            kind="money",
            amount_fen=240000,
            receipt_no="2026-000123",
            project_name="博爱送万家",
        )
    )
    assert subject == "【奉化区红十字会】感谢您的捐赠"
    assert body.startswith("尊敬的张建丰：")
    assert "善款 ¥2,400.00" in body
    assert "公益事业捐赠票据号：2026-000123" in body
    assert "「博爱送万家」" in body
    assert "1MFB-V2RH-TWEX-7RZY-152D-7" in body


def test_first_use_goods_and_project_completed() -> None:
    _, body = render(
        notice(
            "first_use",
            used_fen=200000,
            project_name="博爱送万家",
            purpose="春节慰问困难家庭 30 户",
            disbursed_on=date(2026, 11, 27),
        )
    )
    assert "¥2,000.00 已于 2026-11-27 拨付用于「博爱送万家」项目：春节慰问困难家庭 30 户" in body
    _, body = render(notice("goods_distributed", items=["棉被 20床"], destination="溪口镇"))
    assert "物资（棉被 20床）已发放至溪口镇" in body
    subject, body = render(notice("project_completed", project_name="博爱家园（溪口镇）"))
    assert "项目已完成" in subject
    assert "「博爱家园（溪口镇）」项目已完成" in body


def test_lookup_code() -> None:
    subject, body = render(
        notice(
            "lookup_code",
            one_time_code="482913",
            code_expires_at=datetime(2026, 11, 28, 2, 10, tzinfo=UTC).isoformat(),
        )
    )
    assert "验证码" in subject
    assert "482913" in body
    assert "2026-11-28 10:10 前有效" in body


@pytest.mark.parametrize(
    ("channels", "enabled", "expected"),
    [
        (["email", "sms"], {"email", "webhook"}, [("email", "zhang.jf@example.com")]),
        (
            ["email", "sms"],
            {"email", "sms"},
            [("email", "zhang.jf@example.com"), ("sms", "13800001111")],
        ),
        (["sms"], {"email"}, []),
        ([], {"email", "sms"}, []),  # opted out: nothing
    ],
)
def test_donor_channels(
    channels: list[str], enabled: set[str], expected: list[tuple[str, str]]
) -> None:
    assert donor_addresses(notice("received", channels), Routing(frozenset(enabled))) == expected


def test_staff_routing() -> None:
    routing = Routing(
        frozenset({"email", "webhook"}),
        alert_emails=("wh@example.org", "wh@example.org"),
        alert_webhooks=("http://127.0.0.1:1/hook",),
        escalation_emails=("boss@example.org",),
    )
    assert routing.staff_addresses(escalation=False) == [
        ("email", "wh@example.org"),
        ("webhook", "http://127.0.0.1:1/hook"),
    ]
    assert ("email", "boss@example.org") in routing.staff_addresses(escalation=True)


def test_alerts_reach_the_staff_of_their_warehouse() -> None:
    from notification.service_layer.notices import parse_routes

    routing = Routing(
        frozenset({"email", "webhook", "wechat"}),
        alert_emails=("district@example.org",),
        routes=parse_routes(
            [
                "ST-XIKOU=email:xikou.keeper@example.org",
                "ST-XIKOU=wechat:xikou-group",
                "ST-DAYAN=email:dayan.keeper@example.org",
                "ST-DAYAN=sms:13500005555",  # sms not enabled here: skipped
            ]
        ),
    )
    assert routing.staff_addresses(escalation=False, warehouse_code="ST-XIKOU") == [
        ("email", "district@example.org"),
        ("email", "xikou.keeper@example.org"),
        ("wechat", "xikou-group"),
    ]
    assert routing.staff_addresses(escalation=False, warehouse_code="ST-DAYAN") == [
        ("email", "district@example.org"),
        ("email", "dayan.keeper@example.org"),
    ]
    with pytest.raises(ValueError, match="expected 'WAREHOUSE_CODE=channel:address'"):
        parse_routes(["ST-XIKOU=xikou.keeper@example.org"])
