"""The outside probe against the three services as they run (real processes, real PostgreSQL
and Kafka): bodies bounded while they stream, duplicate JSON keys refused, a bounded request
head, ``nosniff`` on every answer, and token errors that say nothing of the library.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.e2e.conftest import Stack, token
from tests.security.raw_http import chunked_flood, request

pytestmark = pytest.mark.e2e

# A record that does not exist: fixed, so every xdist worker collects the same test ids.
NO_SUCH = "00000000-0000-4000-8000-000000000013"
# One route with a JSON body per service; unauthenticated where the service has one.
BODY_ROUTES = [
    ("donation", "POST", "/api/v1/donor-lookup/code"),
    ("donation", "PATCH", f"/api/v1/donations/{NO_SUCH}"),
    ("warehouse", "POST", "/api/v1/items"),
    ("notification", "POST", f"/api/v1/alerts/{NO_SUCH}/acknowledge"),
]


def _port(stack: Stack, service: str) -> int:
    return stack.settings[service].port


@pytest.mark.parametrize(("service", "method", "path"), BODY_ROUTES)
def test_a_chunked_body_over_the_limit_is_413_before_it_is_read(
    stack: Stack, service: str, method: str, path: str
) -> None:
    answer = chunked_flood(_port(stack, service), path, total=20_000_000, method=method)
    assert answer.status == 413, answer.head
    assert json.loads(answer.body)["error"]["code"] == "payload_too_large"
    assert answer.sent < 10_000_000  # answered long before the 20 MB were out


def _gift(amount_fen: int) -> str:
    return (
        f'{{"amount_fen": {amount_fen}, "amount_fen": 999999, "channel": "cash",'
        ' "display": "anonymous", "donor": {"name": "重复键"}}'
    )


def test_a_repeated_key_is_refused_and_nothing_is_stored(stack: Stack) -> None:
    headers = {
        "Authorization": f"Bearer {token(stack, 'finance')}",
        "Content-Type": "application/json",
        "Idempotency-Key": f"dup-{uuid.uuid4()}",
    }
    url = stack.url("donation") + "/api/v1/donations"
    refused = httpx.post(url, content=_gift(100), headers=headers, timeout=10)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["details"] == [
        {"field": "amount_fen", "message": error["details"][0]["message"], "type": "duplicate_key"}
    ]
    # Nothing was kept under that key: the same key now records the one valid gift afresh.
    valid = json.dumps(
        {"amount_fen": 100, "channel": "cash", "display": "anonymous", "donor": {"name": "重复键"}}
    )
    created = httpx.post(url, content=valid, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    assert "idempotent-replayed" not in created.headers
    assert created.json()["amount_fen"] == 100


def test_a_repeated_key_in_a_nested_object_is_refused(stack: Stack) -> None:
    body = (
        '{"amount_fen": 100, "channel": "cash", "display": "named",'
        ' "donor": {"name": "王五", "name": "李四"}}'
    )
    response = httpx.post(
        stack.url("donation") + "/api/v1/donations",
        content=body,
        headers={
            "Authorization": f"Bearer {token(stack, 'finance')}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["field"] == "name"


def test_a_repeated_key_is_refused_by_the_warehouse(stack: Stack) -> None:
    code = f"DUP-{uuid.uuid4().hex[:6].upper()}"
    body = (
        f'{{"code": "{code}", "name": "帐篷", "category": "shelter", "unit": "顶", "code": "X-1"}}'
    )
    auth = {"Authorization": f"Bearer {token(stack, 'warehouse')}"}
    response = httpx.post(
        stack.url("warehouse") + "/api/v1/items",
        content=body,
        headers={**auth, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 422, response.text
    for stored in (code, "X-1"):
        missing = httpx.get(stack.url("warehouse") + f"/api/v1/items/{stored}", headers=auth)
        assert missing.status_code == 404


def test_a_repeated_key_is_refused_by_the_notification_service(stack: Stack) -> None:
    response = httpx.post(
        stack.url("notification") + f"/api/v1/alerts/{uuid.uuid4()}/acknowledge",
        content='{"note": "a", "note": "b"}',
        headers={
            "Authorization": f"Bearer {token(stack, 'warehouse')}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )
    assert response.status_code == 422, response.text  # not the 404 of an unknown alert


SERVICES = ["donation", "warehouse", "notification"]


@pytest.mark.parametrize("service", SERVICES)
def test_a_megabyte_of_headers_is_refused(stack: Stack, service: str) -> None:
    head = (
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"X-Big: {'a' * 1_000_000}\r\n\r\n"
    ).encode()
    assert request(_port(stack, service), head).status == 431


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "path", ["/healthz", "/api/v1/openapi.json", "/api/v1/no-such-route", "/metrics"]
)
def test_every_answer_says_nosniff(stack: Stack, service: str, path: str) -> None:
    response = httpx.get(stack.url(service) + path, timeout=10)
    assert response.headers.get("x-content-type-options") == "nosniff", response.headers


SECURED = {
    "donation": "/api/v1/donations",
    "warehouse": "/api/v1/items",
    "notification": "/api/v1/alerts",
}


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize(
    "credentials",
    [b"Bearer \xff\xfe\xfd", b"Bearer abc.def.ghi", b"Bearer eyJhbGciOiJub25lIn0.e30."],
    ids=["not-utf8", "not-base64", "alg-none"],
)
def test_a_bad_token_gets_a_plain_message(stack: Stack, service: str, credentials: bytes) -> None:
    response = httpx.get(
        stack.url(service) + SECURED[service], headers={b"Authorization": credentials}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "not_authenticated",
        "message": "无效的访问令牌 (invalid token)",
    }
    assert response.headers.get("x-content-type-options") == "nosniff"
