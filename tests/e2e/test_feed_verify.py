"""End to end, the three services as processes: a gift posted to the donation service shows
up in the public feed, can be found by its tracking code, and its inclusion in the signed
log verifies with the standalone verifier (public HTTP only)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, token, wait_for

pytestmark = pytest.mark.e2e


def test_gift_is_in_the_verifiable_log(stack: Stack, tmp_path: Path) -> None:
    finance = token(stack, "finance")
    created = httpx.post(
        stack.url("donation") + "/api/v1/donations",
        json={
            "kind": "money",
            "amount_fen": 88800,
            "channel": "alipay",
            "display": "surname",
            "project_code": "BOAI-SWJ",
            "donor": {"name": "周明远", "phone": "13700001234"},
        },
        headers={"Authorization": f"Bearer {finance}", "Idempotency-Key": str(uuid.uuid4())},
    )
    assert created.status_code == 201, created.text
    gift = created.json()
    public = stack.url("notification") + "/api/v1/public"

    def tracked() -> dict[str, Any] | None:
        response = httpx.get(f"{public}/track/{gift['tracking_code']}")
        if response.status_code != 200:
            return None
        items = [i for i in response.json()["items"] if i["kind"] == "donation.received"]
        head = httpx.get(f"{public}/tree-head").json()
        leaf = items[0]["leaf_index"] if items else None
        if leaf is not None and head.get("tree_size", 0) > leaf:
            return dict(items[0])
        return None

    entry = wait_for(tracked, timeout=60, interval=2.5)  # the look-up allows 30 a minute
    assert isinstance(entry, dict)
    assert entry["title"] == "周某 捐款 ¥888.00"
    state = tmp_path / "head.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "notification.verify",
            "--url",
            stack.url("notification"),
            "--state",
            str(state),
            "--entry",
            entry["id"],
            "--tracking-code",
            gift["tracking_code"],
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: entry {entry['id']} is leaf {entry['leaf_index']}" in result.stdout
    assert "VERIFIED" in result.stdout
    assert state.exists()
