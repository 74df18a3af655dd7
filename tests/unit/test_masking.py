"""A donor appears in public exactly as they chose, and a private person's full name never."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from donation.domain.model import ANONYMOUS_ORGANIZATION, ANONYMOUS_PERSON, display_name


@pytest.mark.parametrize(
    ("name", "display", "donor_type", "shown"),
    [
        ("张三丰", "named", "individual", "张*丰"),
        ("王五", "named", "individual", "王*"),
        ("欧阳明月", "named", "individual", "欧阳*月"),
        ("张三丰", "surname", "individual", "张某"),
        ("欧阳明月", "surname", "individual", "欧阳某"),
        ("张三丰", "anonymous", "individual", ANONYMOUS_PERSON),
        ("溪口镇商会", "named", "organization", "溪口镇商会"),
        ("溪口镇商会", "anonymous", "organization", ANONYMOUS_ORGANIZATION),
        ("John Smith", "named", "individual", "J. S."),
        ("一某", "surname", "individual", "一*"),  # found by hypothesis: a real name of 某
    ],
)
def test_display_name(name: str, display: str, donor_type: str, shown: str) -> None:
    assert display_name(name, display=display, donor_type=donor_type) == shown


@given(
    name=st.text(
        alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=2, max_size=6
    ),
    display=st.sampled_from(["named", "surname", "anonymous"]),
)
def test_private_persons_full_name_never_shown(name: str, display: str) -> None:
    shown = display_name(name, display=display, donor_type="individual")
    if display == "anonymous":
        assert shown == ANONYMOUS_PERSON  # a fixed placeholder, whatever the name
    else:
        assert name not in shown
        assert shown.startswith(name[0])
