"""The login throttle: failed password logins per account and per client address.

Two sliding windows (``shared.rate_limit.SharedRateLimiter``, counted in this service's
database, so every instance sees the same counts): ``limit`` failures per account — the user
name as typed, Unicode-normalised, case and surrounding spaces ignored, known or not — and
per client address. Only failures count: each attempt takes a slot in both windows *before*
the password is checked (so parallel guesses cannot pass the limit) and a successful one
gives its slots back. Once a window is full, every login of that account, or from that
address, is refused with ``429`` — the right password too — until its oldest failure leaves
the window (``Retry-After``).

An admin can lift an account's lockout (``lift``, ``POST /api/v1/staff/{username}/unlock``):
its failures are forgotten at once.

Neither user names nor addresses are stored: the windows key on keyed hashes.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass

from shared.errors import TooManyRequests
from shared.metrics import LOGIN_FAILURES
from shared.rate_limit import SharedRateLimiter, Taken

log = logging.getLogger("sunshine.donation.login")


def account_key(username: str) -> str:
    """The account a login is for, as the throttle counts it (``" Finance"`` is ``finance``)."""
    return unicodedata.normalize("NFKC", username[:256]).strip().casefold()


def throttled(retry_after_s: int) -> TooManyRequests:
    return TooManyRequests(
        f"登录失败次数过多，请 {retry_after_s} 秒后再试 "
        f"(too many failed logins; retry in {retry_after_s}s)",
        details={"retry_after_s": retry_after_s},
    )


@dataclass(frozen=True)
class Attempt:
    """The slots one login attempt holds in the two windows."""

    account: Taken
    client: Taken


class LoginThrottle:
    def __init__(
        self, account: SharedRateLimiter, client: SharedRateLimiter, *, service: str
    ) -> None:
        self.account = account
        self.client = client
        self.service = service

    async def begin(self, username: str, client: str) -> Attempt:
        """Take this attempt's slots, or refuse it (``429``) when either window is full."""
        account = await self.account.acquire(account_key(username))
        if isinstance(account, int):
            raise self._refused("account", account, client)
        address = await self.client.acquire(client)
        if isinstance(address, int):
            await self.account.release(account)
            raise self._refused("client", address, client)
        return Attempt(account, address)

    async def release(self, attempt: Attempt) -> None:
        """The attempt succeeded (or never reached the password check): it does not count."""
        await self.account.release(attempt.account)
        await self.client.release(attempt.client)

    async def lift(self, username: str) -> None:
        """An admin lifts the account's lockout: its failed logins are forgotten (on every
        instance). The per-address window is not the account's and stays."""
        await self.account.forget(account_key(username))

    def _refused(self, limit: str, retry_after_s: int, client: str) -> TooManyRequests:
        LOGIN_FAILURES.labels(self.service, "throttled").inc()
        log.warning(
            "login throttled",
            extra={"limit": limit, "client": client, "retry_after_s": retry_after_s},
        )
        return throttled(retry_after_s)
