"""Feed titles of money that moved after the fact (notification.domain.text): a remainder moved
with the donor's consent, a disbursement reversed or corrected."""

from __future__ import annotations

import pytest

from notification.domain.text import disbursement_reversed_title, remainder_transferred_title


@pytest.mark.parametrize(
    ("consent", "said"),
    [("phone", "电话"), ("written", "书面"), ("email", "电子邮件"), ("in_person", "当面")],
    ids=["phone", "written", "email", "in-person"],
)
def test_remainder_transferred_title_names_how_the_donor_agreed(consent: str, said: str) -> None:
    assert remainder_transferred_title(258_500, "台风救灾", "应急救灾", consent) == (
        f"项目结余 ¥2,585.00 经捐赠人同意（{said}）由 台风救灾 转入 应急救灾"
    )


def test_reversal_and_correction_titles() -> None:
    assert disbursement_reversed_title("reversal", "博爱送万家", 300_000, "FH-1", "重复申领") == (
        "更正：博爱送万家 拨付 ¥3,000.00（凭证 FH-1）已冲销（重复申领）"
    )
    assert disbursement_reversed_title("correction", "博爱送万家", 5, "FH-2", "金额错误") == (
        "更正：博爱送万家 拨付 ¥0.05（凭证 FH-2）已更正为新拨付（金额错误）"
    )


def test_a_reason_loses_contact_details() -> None:
    title = disbursement_reversed_title("reversal", "P", 100, "V", "联系 13800001111 a@b.cn")
    assert "13800001111" not in title
    assert "a@b.cn" not in title
