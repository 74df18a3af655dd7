"""shared.subjects: one account, however the identity provider spells its subject."""

from __future__ import annotations

import pytest

from shared.subjects import normalise_subject, same_subject
from warehouse.domain.errors import SelfApproval
from warehouse.domain.model import check_approver


@pytest.mark.parametrize(
    "variant",
    [
        "approver",
        "Approver",
        "APPROVER",
        " approver",
        "approver\t",
        "ＡＰＰＲＯＶＥＲ",
        "\u3000Approver",
    ],
)
def test_spellings_of_one_subject_are_the_same_account(variant: str) -> None:
    assert same_subject("approver", variant)
    assert normalise_subject(variant) == "approver"


def test_case_folding_goes_beyond_lower_case() -> None:
    assert same_subject("Straße", "STRASSE")
    assert same_subject("ΣΊΣΥΦΟΣ", "σίσυφος")


@pytest.mark.parametrize("other", ["approver2", "app rover", "approvers", "finance", ""])
def test_other_subjects_are_other_accounts(other: str) -> None:
    assert not same_subject("approver", other)


def test_a_dispatch_is_never_approved_by_its_requester_in_another_case() -> None:
    with pytest.raises(SelfApproval):
        check_approver("dispatcher", "DISPATCHER")
    with pytest.raises(SelfApproval):
        check_approver("Li.Wei@example.org", "li.wei@EXAMPLE.org ")
    check_approver("dispatcher", "approver")  # someone else: allowed
