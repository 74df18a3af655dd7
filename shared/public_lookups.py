"""What the public look-ups of every service share: one reading of a typed tracking code, one
limit per client, counted in the service's own database (``shared.rate_limit``).

A donor's code is looked up on the donation service (the gift's timeline) and on the
notification service (its public feed entries); both accept it the same way — any case,
dashes and spaces optional, O/I/L read as 0/1/1 (``shared.ids.normalize_tracking_code``) —
and both answer ``422`` for a code that cannot be one (wrong length, a character outside
Crockford's alphabet, a wrong check symbol), ``404`` for a well-formed code they do not know.
"""

from __future__ import annotations

import hashlib

from fastapi import Request

from shared.errors import ValidationFailed
from shared.ids import normalize_tracking_code
from shared.rate_limit import SharedRateLimiter
from shared.runtime import ServiceRuntime

# Look-ups by tracking code, per client, on each service.
TRACKING_LOOKUP_LIMIT = (30, 60.0)  # 30 look-ups a minute

MALFORMED_CODE = (
    "查询码格式无效，请核对（共 21 位，如 1MFB-V2RH-TWEX-7RZY-152D-7，不区分大小写，连字符可省略）"
    " (malformed tracking code: 21 characters such as 1MFB-V2RH-TWEX-7RZY-152D-7;"
    " any case, dashes optional)"
)


def tracking_code(raw: str) -> str:
    """The canonical form of a typed tracking code; ``ValidationFailed`` (422) if it is none."""
    code = normalize_tracking_code(raw)
    if code is None:
        raise ValidationFailed(MALFORMED_CODE)
    return code


def client_of(request: Request) -> str:
    """The client's address as the server resolved it (X-Forwarded-For from trusted proxies
    only, ``FORWARDED_ALLOW_IPS``)."""
    return request.client.host if request.client else "unknown"


def derived_secret(material: bytes, purpose: str) -> str:
    """A key for ``purpose`` from secret material every instance of the service shares."""
    return hashlib.sha256(purpose.encode() + b"\n" + material).hexdigest()


def shared_limiter(
    runtime: ServiceRuntime, name: str, limit: tuple[int, float], *, secret: str
) -> SharedRateLimiter:
    """The runtime's limiter ``name`` (made on first use, then kept in ``runtime.extras``)."""
    found = runtime.extras.get(f"limiter:{name}")
    if found is None:
        found = SharedRateLimiter(runtime.engine, name, *limit, secret=secret)
        runtime.extras[f"limiter:{name}"] = found
    assert isinstance(found, SharedRateLimiter)
    return found
