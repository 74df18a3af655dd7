"""Revoked tokens: the verifier's rule (``iat`` before the account's ``not_before`` is refused,
also from its cache) and the listener that fills its map from ``staff.events`` (reconnecting
after a broker failure, ready once caught up). The listener on the real broker:
tests/integration/test_revocation_listener.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from shared.auth import StaffPrincipal, TokenIssuer, TokenVerifier, generate_keypair
from shared.config import ServiceSettings
from shared.contracts.staff import ACCESS_REVOKED, ORGANISATION_REGISTERED
from shared.errors import NotAuthenticated
from shared.messaging.envelope import CloudEvent
from shared.revocations import RevocationListener

REVOKED = "访问令牌已撤销，请重新登录 (token revoked)"


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_keypair(tmp_path)
    return tmp_path


@pytest.fixture
def issuer(keys: Path) -> TokenIssuer:
    return TokenIssuer(
        keys / "jwt_private.pem",
        issuer="sunshine",
        audience="sunshine-staff",
        ttl=timedelta(minutes=5),
    )


@pytest.fixture
def verifier(keys: Path) -> TokenVerifier:
    return TokenVerifier(ServiceSettings(jwt_public_key_file=keys / "jwt_public.pem"))


def keeper(name: str = "keeper-xk") -> StaffPrincipal:
    return StaffPrincipal(name, frozenset({"warehouse"}), org="XK")


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(NotAuthenticated) as caught:
        verifier.verify(token)
    return caught.value.message


def test_a_token_issued_before_the_revocation_is_refused_after_it(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    before = issuer.issue(keeper())
    assert verifier.verify(before).username == "keeper-xk"  # now in the cache
    verifier.revoke("keeper-xk", datetime.now(UTC))
    assert REVOKED in refused(verifier, before)  # from the cache, too
    assert REVOKED in refused(verifier, before)  # and again: not forgotten after a refusal


def test_a_token_issued_before_the_revocation_is_refused_when_first_seen(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    before = issuer.issue(keeper())
    verifier.revoke("keeper-xk", datetime.now(UTC))
    assert REVOKED in refused(verifier, before)


def test_a_token_issued_after_the_revocation_is_accepted_even_in_the_same_second(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    """The issuer writes iat to the microsecond: a login right after a password reset is not
    taken for a token from before it (whole seconds would refuse it for up to a second)."""
    revoked_at = datetime.now(UTC)
    verifier.revoke("keeper-xk", revoked_at)
    after = issuer.issue(keeper())
    claims = jwt.decode(after, options={"verify_signature": False})
    assert isinstance(claims["iat"], float)  # not truncated to the second
    assert 0 <= claims["iat"] - revoked_at.timestamp() < 0.5
    assert verifier.verify(after).username == "keeper-xk"
    assert verifier.verify(after).username == "keeper-xk"  # cached


def test_other_accounts_and_the_exact_user_name_only(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    others = [issuer.issue(keeper(name)) for name in ("keeper-dy", "Keeper-XK", "keeper-xk ")]
    verifier.revoke("keeper-xk", datetime.now(UTC))
    for token in others:
        verifier.verify(token)  # user names as issued (the exact sub), nothing normalised


def test_a_later_revocation_moves_the_instant_and_an_older_one_read_again_does_not(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    first = datetime.now(UTC)
    verifier.revoke("keeper-xk", first)
    between = issuer.issue(keeper())
    assert verifier.verify(between)
    second = datetime.now(UTC) + timedelta(microseconds=1)
    verifier.revoke("keeper-xk", second)
    assert REVOKED in refused(verifier, between)
    verifier.revoke("keeper-xk", first)  # the topic re-read from the beginning
    assert verifier.revoked_before("keeper-xk") == second
    assert REVOKED in refused(verifier, between)


def test_a_token_without_iat_is_refused_once_its_account_was_revoked(
    keys: Path, verifier: TokenVerifier
) -> None:
    private = (keys / "jwt_private.pem").read_bytes()
    now = datetime.now(UTC)
    claims = {
        "sub": "keeper-xk",
        "roles": ["warehouse"],
        "org": "XK",
        "iss": "sunshine",
        "aud": "sunshine-staff",
        "exp": now + timedelta(minutes=5),
    }
    token = jwt.encode(claims, private, algorithm="EdDSA")
    assert verifier.verify(token).username == "keeper-xk"  # no revocation: nothing to prove
    verifier.revoke("keeper-xk", now - timedelta(days=1))
    assert REVOKED in refused(verifier, token)


def test_an_expired_revoked_token_says_expired_not_revoked(
    keys: Path, verifier: TokenVerifier
) -> None:
    old = TokenIssuer(
        keys / "jwt_private.pem",
        issuer="sunshine",
        audience="sunshine-staff",
        ttl=timedelta(seconds=-1),
    ).issue(keeper())
    verifier.revoke("keeper-xk", datetime.now(UTC))
    assert "token expired" in refused(verifier, old)


# --- the listener, on a fake Kafka client ---------------------------------------------------


def record(offset: int, type_: str, data: dict[str, Any] | None, partition: int = 0) -> Any:
    event = CloudEvent(
        id=f"e{offset}", type=type_, source="/sunshine/donation", time=datetime.now(UTC), data={}
    )
    value = None if data is None else json.dumps(data).encode()
    return _Record("t.staff.events", partition, offset, event.headers(), value)


class _Record:
    def __init__(
        self, topic: str, partition: int, offset: int, headers: Any, value: bytes | None
    ) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
        self.headers, self.value = headers, value


def revocation(user: str, at: datetime) -> dict[str, Any]:
    return {"username": user, "not_before": at.isoformat(), "reason": "disabled"}


class FakeBroker:
    """The topic's records per partition; clients made from it fail while it is 'down'."""

    def __init__(self, partitions: int = 2) -> None:
        self.log: dict[int, list[Any]] = {p: [] for p in range(partitions)}
        self.down = False
        self.starts = 0
        self.clients: list[FakeConsumer] = []

    def append(self, partition: int, type_: str, data: dict[str, Any] | None) -> None:
        self.log[partition].append(record(len(self.log[partition]), type_, data, partition))

    def factory(self, bootstrap: str, topic: str) -> FakeConsumer:
        client = FakeConsumer(self, topic)
        self.clients.append(client)
        return client


class FakeConsumer:
    def __init__(self, broker: FakeBroker, topic: str) -> None:
        self.broker, self.topic = broker, topic
        self.positions: dict[TopicPartition, int] = {}
        self.seeks: list[tuple[int, int | str]] = []

    async def start(self) -> None:
        self.broker.starts += 1
        if self.broker.down:
            raise KafkaConnectionError("broker down")

    async def stop(self) -> None:
        return None

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(self.topic, p) for p in self.broker.log}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.positions[tp] = offset
        self.seeks.append((tp.partition, offset))

    async def seek_to_beginning(self, *tps: TopicPartition) -> None:
        for tp in tps:
            self.positions[tp] = 0
            self.seeks.append((tp.partition, "beginning"))

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.broker.log[tp.partition]) for tp in tps}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    async def getmany(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Any]]:
        await asyncio.sleep(0.01)
        if self.broker.down:
            raise KafkaTimeoutError("broker down")
        found: dict[TopicPartition, list[Any]] = {}
        for tp, at in self.positions.items():
            records = self.broker.log[tp.partition][at : at + 2]  # two per fetch at most
            if records:
                found[tp] = records
                self.positions[tp] = at + len(records)
        return found


async def until(check: Any, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.01)


async def test_listener_reads_the_topic_to_its_end_before_it_is_ready(
    verifier: TokenVerifier,
) -> None:
    broker = FakeBroker()
    at = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    broker.append(0, ORGANISATION_REGISTERED, {"code": "XK"})
    for n in range(5):
        broker.append(0, ACCESS_REVOKED, revocation(f"u{n}", at))
    broker.append(1, ACCESS_REVOKED, {"username": "bad"})  # invalid: skipped
    broker.log[1].append(_Record("t.staff.events", 1, 1, [], b"{}"))  # malformed: skipped
    broker.append(1, ACCESS_REVOKED, None)  # a tombstone
    broker.append(1, ACCESS_REVOKED, revocation("u9", at))
    listener = RevocationListener(
        bootstrap="x", topic="t.staff.events", verifier=verifier, service="test",
        consumer_factory=broker.factory,
    )  # fmt: skip
    assert not await listener.ready()
    task = asyncio.create_task(listener.run())
    try:
        await until(lambda: listener.caught_up)
        assert await listener.ready()
        assert listener.applied == 6
        assert {verifier.revoked_before(f"u{n}") for n in (0, 4, 9)} == {at}
        assert verifier.revoked_before("bad") is None
        assert broker.clients[0].seeks == [(0, "beginning"), (1, "beginning")]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_listener_on_an_empty_topic_is_ready_at_once(verifier: TokenVerifier) -> None:
    broker = FakeBroker()
    listener = RevocationListener(
        bootstrap="x", topic="t.staff.events", verifier=verifier, service="test",
        consumer_factory=broker.factory,
    )  # fmt: skip
    task = asyncio.create_task(listener.run())
    try:
        await until(lambda: listener.caught_up)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_listener_survives_a_broker_outage_and_goes_on_where_it_was(
    issuer: TokenIssuer, verifier: TokenVerifier
) -> None:
    broker = FakeBroker()
    broker.down = True  # down at start: retried, not ready, not crashed
    listener = RevocationListener(
        bootstrap="x", topic="t.staff.events", verifier=verifier, service="test",
        consumer_factory=broker.factory, pause_s=0.01,
    )  # fmt: skip
    task = asyncio.create_task(listener.run())
    try:
        await until(lambda: broker.starts >= 3)
        assert not await listener.ready()
        assert not task.done()
        broker.append(0, ACCESS_REVOKED, revocation("u1", datetime.now(UTC)))
        broker.down = False
        await until(lambda: listener.caught_up)
        token = issuer.issue(keeper("u2"))
        verifier.verify(token)

        broker.down = True  # an outage while following: the map stays, the client is renewed
        starts = broker.starts
        await until(lambda: broker.starts >= starts + 2)
        assert await listener.ready()
        assert verifier.revoked_before("u1") is not None
        broker.append(0, ACCESS_REVOKED, revocation("u2", datetime.now(UTC)))
        broker.down = False
        await until(lambda: verifier.revoked_before("u2") is not None)
        assert broker.clients[-1].seeks == [(0, 1), (1, "beginning")]  # where it was
        with pytest.raises(NotAuthenticated):
            verifier.verify(token)
        assert listener.applied == 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
