"""Donation domain rules: no I/O."""

from __future__ import annotations

from enum import StrEnum

ANONYMOUS_PERSON = "爱心人士"
ANONYMOUS_ORGANIZATION = "爱心单位"

# Two-character surnames common enough to matter when masking.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "轩辕",
        "令狐",
        "端木",
        "独孤",
        "南宫",
        "西门",
        "百里",
    ]
)


class DonationStatus(StrEnum):
    PLEDGED = "pledged"
    RECEIVED = "received"
    RECEIPTED = "receipted"
    ALLOCATED = "allocated"
    IN_STOCK = "in_stock"
    USED = "used"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def surname_of(name: str) -> str:
    name = name.strip()
    if _is_cjk(name):
        return name[:2] if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else name[:1]
    parts = name.split()
    return parts[-1] if parts else name


def display_name(name: str, *, display: str, donor_type: str) -> str:
    """How a donor appears in public, as they chose.

    Organisations chose publicity deliberately and appear by name unless anonymous. A private
    person's full name never appears: ``named`` shows the surname and the last character
    (张*丰), ``surname`` shows the surname only (张某), ``anonymous`` shows 爱心人士.
    """
    name = " ".join(name.split())
    if display == "anonymous" or not name:
        return ANONYMOUS_ORGANIZATION if donor_type == "organization" else ANONYMOUS_PERSON
    if donor_type == "organization":
        return name
    surname = surname_of(name)
    if display == "surname":
        if not _is_cjk(name):
            return f"{surname[:1]}. (surname)"
        # 张某 — unless that is the person's real name (given name 某): then 张*.
        return f"{surname}某" if name != f"{surname}某" else f"{surname}*"
    if _is_cjk(name):
        given = name[len(surname) :]
        if len(given) <= 1:
            return f"{surname}*"
        return f"{surname}{'*' * (len(given) - 1)}{given[-1]}"
    parts = name.split()
    if len(parts) == 1:
        return parts[0][:1] + "*" * max(len(parts[0]) - 1, 1)
    return f"{parts[0][:1]}. {parts[-1][:1]}."
