"""Text rules for people and for the public: Asia/Shanghai times, yuan amounts, masked names,
scrubbed free text. No I/O.

Feed titles and data are built with these rules, canonicalised, hashed and signed: a change
to any output here changes the entries a rebuild produces (and so the tamper-evident log).

Two yuan formats, named for what they produce:

- :func:`yuan_plain` — the figure only, signed: ``"1,234.56"``, ``"-0.05"`` (feed titles put
  their own ``¥`` before it);
- :func:`yuan_with_symbol` — with the yuan sign: ``"¥1,234.56"`` (donor notices; amounts
  there are never negative).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "CST")  # Asia/Shanghai has no daylight saving time

_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")


def shanghai(moment: datetime) -> str:
    """``moment`` as a Shanghai wall-clock time to the minute: ``"2026-03-01 09:30"``."""
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def yuan_plain(fen: int) -> str:
    """An amount in fen as yuan without a currency sign, thousands separated and signed:
    ``123456`` → ``"1,234.56"``, ``-5`` → ``"-0.05"``."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


def yuan_with_symbol(fen: int) -> str:
    """A non-negative amount in fen as yuan with the yuan sign, thousands separated:
    ``123456`` → ``"¥1,234.56"``."""
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def scrub_text(value: str) -> str:
    """Remove contact details and ID numbers from producer free text (belt and braces)."""
    value = _ID.sub("[已隐去]", value)
    value = _PHONE.sub("[已隐去]", value)
    return _EMAIL.sub("[已隐去]", value)


def mask_person(name: str) -> str:
    """A private person's name as the public sees it: surname plus ``*``."""
    name = name.strip()
    if not name or "*" in name or "某" in name:
        return name
    return name[0] + "*"


def public_donor(display: str, display_name: str, donor_type: str) -> str:
    """The donor as the public sees it. The producer masks already; this is a second line of
    defence: a private person who chose "surname only" never appears with a full name."""
    name = display_name.strip()
    if display == "surname" and donor_type == "individual" and "某" not in name:
        return (name[:1] or "爱心人士") + "某"
    if display == "anonymous" and not name:
        return "匿名"
    return name


# --- feed titles of the money that moved after the fact (remainders, reversals) ------------

CONSENT_TEXT = {
    "phone": "电话",
    "written": "书面",
    "email": "电子邮件",
    "in_person": "当面",
    "online": "网上",
}


def remainder_transferred_title(amount_fen: int, from_name: str, to_name: str, consent: str) -> str:
    """``"项目结余 ¥200.00 经捐赠人同意（电话）由 台风救灾 转入 应急救灾"``."""
    how = CONSENT_TEXT.get(consent, consent)
    return f"项目结余 ¥{yuan_plain(amount_fen)} 经捐赠人同意（{how}）由 {from_name} 转入 {to_name}"


def disbursement_reversed_title(
    kind: str, project_name: str, amount_fen: int, voucher_no: str, reason: str
) -> str:
    """A correction entry: ``"更正：博爱送万家 拨付 ¥3,000.00（凭证 FH-1）已冲销（原因）"``;
    a correction (reversed and replaced) says so: ``"… 已更正为新拨付（原因）"``."""
    what = "已更正为新拨付" if kind == "correction" else "已冲销"
    return (
        f"更正：{project_name} 拨付 ¥{yuan_plain(amount_fen)}（凭证 {voucher_no}）"
        f"{what}（{scrub_text(reason)}）"
    )
