"""The login throttle (issue 13, point 3): twelve wrong passwords in a row, then the right one,
used to be answered at once. Now failed logins are limited per account (the name as typed,
case and spaces ignored) and per client address, in sliding windows counted in the donation
database (shared by every instance); once a window is full even the right password gets a
``429`` with ``Retry-After`` until it passes. Successful logins never count. Each failure is
in the audit log and in ``sunshine_login_failures_total``; the password nowhere.

The donation service runs in process against the real PostgreSQL; the accounts are this
module's own (the demo accounts other suites log in with are never throttled here), and each
test's client is an address of its own (198.18.0.0/15, the benchmarking range).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from donation.adapters.orm import StaffUser
from donation.config import DonationSettings
from donation.main import create_app
from donation.service_layer.login_throttle import LoginThrottle
from shared.auth import StaffPrincipal, TokenIssuer, hash_password
from shared.config import ServiceSettings
from shared.errors import TooManyRequests
from shared.rate_limit import SharedRateLimiter

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
WRONG = "Tr0ub4dor&3"
ACCOUNT_LIMIT, CLIENT_LIMIT, WINDOW_S = 5, 20, 900.0  # the defaults


@dataclass
class Donation:
    app: FastAPI
    other: FastAPI  # a second instance on the same database
    settings: DonationSettings
    issuer: TokenIssuer

    async def new_account(self, *, active: bool = True) -> str:
        name = f"sec-{uuid.uuid4().hex[:10]}"
        runtime = self.app.state.runtime
        async with runtime.session_factory() as session, session.begin():
            session.add(
                StaffUser(
                    username=name,
                    display_name="安全测试",
                    password_hash=PASSWORD_HASH,
                    roles=["finance"],
                    active=active,
                    created_at=datetime.now(UTC),
                )
            )
        return name


PASSWORD_HASH = hash_password(PASSWORD)


def client(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://donation", timeout=30)


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/token", data={"username": username, "password": password})


@pytest.fixture(scope="module")
async def donation(
    databases: dict[str, ServiceSettings], keys_dir: Path
) -> AsyncIterator[Donation]:
    base = databases["donation"]
    assert isinstance(base, DonationSettings)
    settings = base.model_copy(
        update={"run_relay": False, "run_consumers": False, "seed_demo_staff": False}
    )
    first, second = create_app(settings), create_app(settings)
    issuer = TokenIssuer(
        keys_dir / "jwt_private.pem",
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl=timedelta(hours=1),
    )
    async with first.router.lifespan_context(first), second.router.lifespan_context(second):
        yield Donation(first, second, settings, issuer)


def assert_throttled(answer: httpx.Response, window_s: float = WINDOW_S) -> None:
    assert answer.status_code == 429, answer.text
    retry = int(answer.headers["Retry-After"])
    assert 0 < retry <= window_s + 1
    error = answer.json()["error"]
    assert error["code"] == "rate_limited"
    assert "登录失败次数过多" in error["message"]
    assert "too many failed logins" in error["message"]
    assert error["details"] == {"retry_after_s": retry}
    assert "access_token" not in answer.text


async def test_twelve_wrong_passwords_then_the_right_one(donation: Donation) -> None:
    account = await donation.new_account()
    async with client(donation.app, "198.18.1.1") as http:
        wrong = [(await login(http, account, WRONG)).status_code for _ in range(12)]
        right = await login(http, account, PASSWORD)
    assert wrong == [401] * ACCOUNT_LIMIT + [429] * (12 - ACCOUNT_LIMIT)
    assert_throttled(right)


async def test_successful_logins_do_not_count(donation: Donation) -> None:
    account = await donation.new_account()
    async with client(donation.app, "198.18.1.2") as http:
        for _ in range(CLIENT_LIMIT + 2):  # more than either limit
            assert (await login(http, account, PASSWORD)).status_code == 200
        for _ in range(ACCOUNT_LIMIT - 1):
            assert (await login(http, account, WRONG)).status_code == 401
        assert (await login(http, account, PASSWORD)).status_code == 200
        assert (await login(http, account, WRONG)).status_code == 401  # the fifth failure
        assert_throttled(await login(http, account, PASSWORD))


async def test_the_account_is_the_name_in_any_case_or_width(donation: Donation) -> None:
    account = await donation.new_account()
    typed = [account.upper(), f"  {account} ", account.title(), account.replace("s", "ｓ")]
    async with client(donation.app, "198.18.1.3") as http:
        for name in [*typed, account]:
            assert (await login(http, name, WRONG)).status_code == 401
        assert_throttled(await login(http, account, PASSWORD))


async def test_one_address_is_limited_across_accounts(donation: Donation) -> None:
    account = await donation.new_account()
    async with (
        client(donation.app, "198.18.1.4") as spraying,
        client(donation.app, "198.18.1.5") as elsewhere,
    ):
        for _ in range(CLIENT_LIMIT):  # one guess at each of many names
            guess = await login(spraying, f"nobody-{uuid.uuid4().hex[:8]}", WRONG)
            assert guess.status_code == 401
        assert_throttled(await login(spraying, account, PASSWORD))
        # the account itself is not throttled: from another address it logs in
        assert (await login(elsewhere, account, PASSWORD)).status_code == 200


async def test_two_instances_share_the_counts(donation: Donation) -> None:
    account = await donation.new_account()
    address = "198.18.1.6"
    async with client(donation.app, address) as first, client(donation.other, address) as second:
        for i in range(ACCOUNT_LIMIT):
            assert (await login(first if i % 2 else second, account, WRONG)).status_code == 401
        assert_throttled(await login(first, account, PASSWORD))
        assert_throttled(await login(second, account, PASSWORD))


async def test_parallel_guesses_never_pass_the_limit(donation: Donation) -> None:
    account = await donation.new_account()
    async with (
        client(donation.app, "198.18.1.7") as first,
        client(donation.other, "198.18.1.7") as second,
    ):
        answers = await asyncio.gather(
            *(login(first if i % 2 else second, account, WRONG) for i in range(15))
        )
    assert sorted(a.status_code for a in answers) == [401] * ACCOUNT_LIMIT + [429] * 10


async def test_the_right_password_works_again_once_the_window_passed(donation: Donation) -> None:
    settings = donation.settings.model_copy(
        update={"login_account_limit": 2, "login_account_window_s": 1.5}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        account = await donation.new_account()
        async with client(app, "198.18.1.8") as http:
            assert (await login(http, account, WRONG)).status_code == 401
            assert (await login(http, account, WRONG)).status_code == 401
            refused = await login(http, account, PASSWORD)
            assert_throttled(refused, window_s=1.5)
            await asyncio.sleep(int(refused.headers["Retry-After"]))
            assert (await login(http, account, PASSWORD)).status_code == 200


def failures(reason: str) -> float:
    labels = {"service": "donation", "reason": reason}
    return REGISTRY.get_sample_value("sunshine_login_failures_total", labels) or 0.0


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    logger = logging.getLogger("sunshine")
    handler = Records()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


async def audit_entries(donation: Donation, **filters: str) -> list[dict[str, Any]]:
    auditor = StaffPrincipal("sec-auditor", frozenset({"auditor"}), display_name="监事")
    headers = {"Authorization": f"Bearer {donation.issuer.issue(auditor)}"}
    async with client(donation.app, "198.18.1.99") as http:
        answer = await http.get("/api/v1/audit", params={"limit": 100, **filters}, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_failures_are_audited_counted_and_never_show_the_password(
    donation: Donation, logged: list[logging.LogRecord]
) -> None:
    account, retired = await donation.new_account(), await donation.new_account(active=False)
    stranger = f"nobody-{uuid.uuid4().hex[:8]}"
    secret = f"the-secret-{uuid.uuid4().hex}"
    before = {r: failures(r) for r in ("wrong_password", "unknown_user", "inactive", "throttled")}
    async with client(donation.app, "198.18.1.9") as http:
        assert (await login(http, account, secret)).status_code == 401
        assert (await login(http, stranger, secret)).status_code == 401
        assert (await login(http, retired, PASSWORD)).status_code == 401
        for _ in range(ACCOUNT_LIMIT - 1):
            await login(http, account, secret)
        assert_throttled(await login(http, account, PASSWORD))
        metrics = (await http.get("/metrics")).text
    assert failures("wrong_password") == before["wrong_password"] + ACCOUNT_LIMIT
    assert failures("unknown_user") == before["unknown_user"] + 1
    assert failures("inactive") == before["inactive"] + 1
    assert failures("throttled") == before["throttled"] + 1
    assert 'sunshine_login_failures_total{reason="wrong_password",service="donation"}' in metrics

    mine = await audit_entries(donation, entity="staff_user", entity_id=account)
    assert len(mine) == ACCOUNT_LIMIT
    entry = mine[0]
    assert (entry["action"], entry["actor"]) == ("login_failed", "anonymous")
    assert entry["after"] == {"reason": "wrong_password", "client": "198.18.1.9"}
    (gone,) = await audit_entries(donation, entity="staff_user", entity_id=retired)
    assert gone["after"]["reason"] == "inactive"
    unknown = await audit_entries(donation, action="login_failed", entity_id="(unknown)")
    assert any(e["after"] == {"reason": "unknown_user", "client": "198.18.1.9"} for e in unknown)
    # neither the password nor a name that is no account is written anywhere
    everything = json.dumps(await audit_entries(donation, action="login_failed"))
    assert secret not in everything
    assert stranger not in everything
    assert PASSWORD not in everything
    for record in logged:
        text = record.getMessage() + json.dumps(record.__dict__, default=str)
        assert secret not in text
        assert PASSWORD not in text


@pytest.fixture
async def dead_engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(
        "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none", connect_args={"timeout": 2}
    )
    yield engine
    await engine.dispose()


async def test_without_its_database_the_throttle_holds_per_instance(
    dead_engine: AsyncEngine,
) -> None:
    throttle = LoginThrottle(
        SharedRateLimiter(dead_engine, "login-account", 3, 60, secret="s"),
        SharedRateLimiter(dead_engine, "login-client", 10, 60, secret="s"),
        service="donation",
    )
    attempts = [await throttle.begin("finance", "198.18.1.10") for _ in range(3)]
    with pytest.raises(TooManyRequests):
        await throttle.begin("Finance", "198.18.1.10")
    await throttle.release(attempts[0])  # a success gives its slot back
    await throttle.begin("finance", "198.18.1.10")
    with pytest.raises(TooManyRequests):
        await throttle.begin("finance", "198.18.1.10")


def test_the_limits_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = DonationSettings()
    assert (defaults.login_account_limit, defaults.login_account_window_s) == (5, 900.0)
    assert (defaults.login_client_limit, defaults.login_client_window_s) == (20, 900.0)
    monkeypatch.setenv("DONATION_LOGIN_ACCOUNT_LIMIT", "3")
    monkeypatch.setenv("DONATION_LOGIN_CLIENT_WINDOW_S", "60")
    configured = DonationSettings()
    assert (configured.login_account_limit, configured.login_client_window_s) == (3, 60.0)
