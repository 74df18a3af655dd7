"""Tokens: the built-in Ed25519 issuer, and an external OIDC provider's JWKS by configuration."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, generate_private_key

from shared.auth import (
    Role,
    StaffPrincipal,
    TokenIssuer,
    TokenVerifier,
    generate_keypair,
    hash_password,
    verify_password,
)
from shared.config import ServiceSettings
from shared.errors import NotAuthenticated


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    generate_keypair(tmp_path)
    return tmp_path


def issuer(keys: Path, ttl: timedelta = timedelta(minutes=5)) -> TokenIssuer:
    return TokenIssuer(
        keys / "jwt_private.pem", issuer="sunshine", audience="sunshine-staff", ttl=ttl
    )


def test_built_in_issuer_round_trip(keys: Path) -> None:
    token = issuer(keys).issue(StaffPrincipal("finance", frozenset({"finance"}), "财务"))
    staff = TokenVerifier(ServiceSettings(jwt_public_key_file=keys / "jwt_public.pem")).verify(
        token
    )
    assert staff.username == "finance"
    assert staff.has_any({Role.FINANCE})
    assert not staff.has_any({Role.APPROVER})


def test_admin_holds_every_role() -> None:
    assert StaffPrincipal("admin", frozenset({"admin"})).has_any({Role.APPROVER})


@pytest.mark.parametrize("problem", ["expired", "other key", "audience", "tampered"])
def test_bad_tokens_are_refused(keys: Path, tmp_path: Path, problem: str) -> None:
    settings = ServiceSettings(jwt_public_key_file=keys / "jwt_public.pem")
    principal = StaffPrincipal("finance", frozenset({"finance"}))
    if problem == "expired":
        token = issuer(keys, ttl=timedelta(seconds=-1)).issue(principal)
    elif problem == "other key":
        other = tmp_path / "other"
        generate_keypair(other)
        token = issuer(other).issue(principal)
    elif problem == "audience":
        token = TokenIssuer(
            keys / "jwt_private.pem",
            issuer="sunshine",
            audience="elsewhere",
            ttl=timedelta(minutes=5),
        ).issue(principal)
    else:
        header, payload, signature = issuer(keys).issue(principal).split(".")
        token = f"{header}.{payload[:-2]}xx.{signature}"
    with pytest.raises(NotAuthenticated):
        TokenVerifier(settings).verify(token)


def test_passwords_are_hashed_with_argon2() -> None:
    hashed = hash_password("sunshine-demo")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "sunshine-demo")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("garbage", "sunshine-demo")


@pytest.fixture
def oidc_provider() -> Iterator[tuple[str, RSAPrivateKey]]:
    """A real HTTP server publishing a JWKS, as an external OIDC provider would."""
    key = generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", key
    finally:
        server.shutdown()


def test_external_oidc_provider_by_configuration(oidc_provider: tuple[str, RSAPrivateKey]) -> None:
    url, key = oidc_provider
    settings = ServiceSettings(
        oidc_jwks_url=url,
        jwt_issuer="https://id.example.org/realms/redcross",
        jwt_audience="sunshine",
        jwt_algorithms=["RS256"],
        jwt_public_key_file=Path("/nonexistent"),
    )
    now = datetime.now(UTC)
    claims = {
        "sub": "approver-zhou",
        "roles": ["approver"],
        "org": "XK",
        "iss": "https://id.example.org/realms/redcross",
        "aud": "sunshine",
        "exp": now + timedelta(minutes=5),
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    staff = TokenVerifier(settings).verify(token)
    assert staff.username == "approver-zhou"
    assert staff.roles == frozenset({"approver"})
    assert staff.org == "XK"
    assert not staff.district_wide
    forged = jwt.encode(
        claims | {"iss": "https://evil.example"}, key, algorithm="RS256", headers={"kid": "k1"}
    )
    with pytest.raises(NotAuthenticated):
        TokenVerifier(settings).verify(forged)


def test_a_verified_token_is_cached_until_it_expires(
    keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = TokenVerifier(ServiceSettings(jwt_public_key_file=keys / "jwt_public.pem"))
    token = issuer(keys, ttl=timedelta(seconds=60)).issue(
        StaffPrincipal("finance", frozenset({"finance"}))
    )
    decoded: list[str] = []
    original = jwt.decode

    def counting_decode(*args: object, **kwargs: object) -> object:
        decoded.append("x")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    assert verifier.verify(token).username == "finance"
    assert verifier.verify(token).username == "finance"
    assert len(decoded) == 1  # the second call was served from the cache

    later = datetime.now(UTC) + timedelta(seconds=61)
    monkeypatch.setattr("shared.auth.time.time", lambda: later.timestamp())
    verifier.verify(token)  # past exp by the cache's clock: verified afresh, not from cache
    assert len(decoded) == 2


def test_a_tampered_copy_of_a_cached_token_is_still_refused(keys: Path) -> None:
    verifier = TokenVerifier(ServiceSettings(jwt_public_key_file=keys / "jwt_public.pem"))
    token = issuer(keys).issue(StaffPrincipal("finance", frozenset({"finance"})))
    verifier.verify(token)
    header, payload, signature = token.split(".")
    with pytest.raises(NotAuthenticated):
        verifier.verify(f"{header}.{payload[:-2]}xx.{signature}")


def test_oidc_claims_are_mapped_to_our_roles_and_organisations(
    oidc_provider: tuple[str, RSAPrivateKey],
) -> None:
    url, key = oidc_provider
    base: dict[str, Any] = {
        "oidc_jwks_url": url,
        "jwt_issuer": "https://id.example.org/realms/redcross",
        "jwt_audience": "sunshine",
        "jwt_algorithms": ["RS256"],
        "jwt_public_key_file": Path("/nonexistent"),
        "oidc_roles_claim": "groups",
        "oidc_role_map": {"rc-approvers": "approver", "rc-keepers": "warehouse"},
        "oidc_org_claim": "branch",
        "oidc_org_map": {"xikou": "XK", "fenghua": "FH"},
    }
    now = datetime.now(UTC)
    claims = {
        "sub": "keeper-wang",
        "groups": ["rc-keepers", "everyone"],  # "everyone" is not ours: dropped
        "branch": "xikou",
        "iss": "https://id.example.org/realms/redcross",
        "aud": "sunshine",
        "exp": now + timedelta(minutes=5),
    }

    def sign(c: dict[str, object]) -> str:
        return jwt.encode(c, key, algorithm="RS256", headers={"kid": "k1"})

    staff = TokenVerifier(ServiceSettings(**base)).verify(sign(claims))
    assert staff.roles == frozenset({"warehouse"})
    assert staff.org == "XK"
    assert staff.reaches("XK")
    assert not staff.reaches("DY")
    # a branch the map does not know, or none at all: refused, not silently district-wide
    for other in (
        {**claims, "branch": "elsewhere"},
        {k: v for k, v in claims.items() if k != "branch"},
    ):
        with pytest.raises(NotAuthenticated, match="organisation"):
            TokenVerifier(ServiceSettings(**base)).verify(sign(other))
    # ... unless the deployment names a default organisation
    lenient = ServiceSettings(**base, oidc_default_org="FH")
    staff = TokenVerifier(lenient).verify(sign({k: v for k, v in claims.items() if k != "branch"}))
    assert staff.org == "FH"
    assert staff.district_wide


def test_built_in_tokens_carry_the_organisation(keys: Path) -> None:
    verifier = TokenVerifier(ServiceSettings(jwt_public_key_file=keys / "jwt_public.pem"))
    token = issuer(keys).issue(StaffPrincipal("keeper-xk", frozenset({"warehouse"}), org="XK"))
    assert verifier.verify(token).org == "XK"
    unscoped = jwt.decode(token, options={"verify_signature": False})
    assert unscoped["org"] == "XK"
