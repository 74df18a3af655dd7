"""Donor notices in Chinese, one template per milestone. No I/O."""

from __future__ import annotations

from notification.domain.text import shanghai, yuan_with_symbol
from shared.contracts.donation import NoticeRequestedV1

SIGNATURE = "宁波市奉化区红十字会"
SUBJECTS: dict[str, str] = {
    "received": "【奉化区红十字会】感谢您的捐赠",
    "first_use": "【奉化区红十字会】您的捐赠已开始使用",
    "goods_distributed": "【奉化区红十字会】您捐赠的物资已发放",
    "project_completed": "【奉化区红十字会】您支持的项目已完成",
    "lookup_code": "【奉化区红十字会】捐赠查询验证码",
}


def _gift(notice: NoticeRequestedV1) -> str:
    facts = notice.facts
    if facts.items:
        return "物资（" + "、".join(facts.items) + "）"
    if facts.amount_fen is not None:
        return f"善款 {yuan_with_symbol(facts.amount_fen)}"
    return "捐赠"


def _tracking(notice: NoticeRequestedV1) -> str:
    if not notice.tracking_code:
        return ""
    return f"捐赠追踪码：{notice.tracking_code}，可在“阳光红会”公示平台查询去向。\n"


def render(notice: NoticeRequestedV1) -> tuple[str, str]:
    """Subject and body of a donor notice."""
    facts = notice.facts
    project = (
        f"「{facts.project_name or facts.project_code}」"
        if (facts.project_name or facts.project_code)
        else ""
    )
    greeting = f"尊敬的{notice.recipient.name}：\n\n"
    milestone = notice.milestone
    if milestone == "received":
        line = f"我会已收到您的{_gift(notice)}"
        line += f"，将按您的意愿用于{project}项目" if project else ""
        line += "。\n"
        if facts.receipt_no:
            line += f"公益事业捐赠票据号：{facts.receipt_no}。\n"
    elif milestone == "first_use":
        line = "您的捐赠"
        line += f"中 {yuan_with_symbol(facts.used_fen)} " if facts.used_fen is not None else ""
        line += f"已于 {facts.disbursed_on.isoformat()} " if facts.disbursed_on else "已"
        line += f"拨付用于{project or '救助'}项目"
        line += f"：{facts.purpose}。\n" if facts.purpose else "。\n"
    elif milestone == "goods_distributed":
        where = f"已发放至{facts.destination}" if facts.destination else "已发放"
        line = f"您捐赠的{_gift(notice)}{where}，感谢您的爱心。\n"
    elif milestone == "project_completed":
        line = f"您支持的{project or ''}项目已完成，项目收支情况将在“阳光红会”平台公示。\n"
    else:  # lookup_code
        expires = f"，{shanghai(facts.code_expires_at)} 前有效" if facts.code_expires_at else ""
        line = (
            f"您的捐赠查询验证码为 {facts.one_time_code}{expires}。如非本人操作，请忽略本消息。\n"
        )
        return SUBJECTS[milestone], greeting + line + f"\n{SIGNATURE}"
    body = greeting + line + _tracking(notice) + f"\n感谢您对红十字事业的支持！\n{SIGNATURE}"
    return SUBJECTS[milestone], body
