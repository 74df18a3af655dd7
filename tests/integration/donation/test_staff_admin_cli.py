"""``python -m donation.staff_admin create-admin``: the first admin of a fresh install, its
password read from standard input and held to the policy; an existing name is refused and
nothing changes; the admin then logs in (no password change: the operator chose it)."""

from __future__ import annotations

import asyncio
import io
import time

import asyncpg
import pytest

from donation.config import DonationSettings
from donation.staff_admin import main
from tests.integration.donation.conftest import Api

pytestmark = pytest.mark.integration

USER = f"first-admin-{int(time.time() * 1000) % 10_000_000}"
PASSWORD = "Hongshizi-Fenghua-01"


def run(api: Api, monkeypatch: pytest.MonkeyPatch, password: str, *args: str) -> int:
    settings = api.settings
    assert isinstance(settings, DonationSettings)
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["create-admin", *args], settings=settings)


def test_the_first_admin_is_created_once(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(api, monkeypatch, "1234567890", "--username", USER) == 1
    refused = capsys.readouterr().err
    assert "不能全是数字" in refused
    assert "过于常见" in refused

    assert run(api, monkeypatch, PASSWORD, "--username", USER, "--org", "FH") == 0
    assert f"已创建管理员 {USER}" in capsys.readouterr().out

    assert run(api, monkeypatch, "Another-Password-9", "--username", USER) == 1
    assert "用户名已存在" in capsys.readouterr().err
    assert run(api, monkeypatch, PASSWORD, "--username", "Not Valid") == 2

    async def row() -> asyncpg.Record | None:
        settings = api.settings
        assert isinstance(settings, DonationSettings)
        conn = await asyncpg.connect(settings.asyncpg_dsn)
        try:
            return await conn.fetchrow(
                "SELECT roles, org_code, must_change_password, created_by FROM staff_users "
                "WHERE username = $1",
                USER,
            )
        finally:
            await conn.close()

    account = asyncio.run(row())
    assert account is not None
    assert account["roles"] == ["admin"]
    assert account["org_code"] == "FH"
    assert account["must_change_password"] is False
    assert account["created_by"].startswith("cli:")


async def test_the_first_admin_logs_in_and_manages_accounts(api: Api) -> None:
    async with api.public_client("198.19.200.1") as http:
        answer = await http.post(
            "/api/v1/auth/token", data={"username": USER, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        listed = await http.get("/api/v1/staff", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert USER in {a["username"] for a in listed.json()["items"]}
