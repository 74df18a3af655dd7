"""Staff authentication: bearer JWTs verified locally in every service.

The built-in issuer (donation service) signs with an Ed25519 private key; every service
verifies with the public key. An external OIDC provider replaces it by configuration alone
(``<P>_OIDC_JWKS_URL``, ``<P>_JWT_ISSUER``, ``<P>_JWT_AUDIENCE``, ``<P>_JWT_ALGORITHMS``);
its claims are mapped to our roles and organisations by ``<P>_OIDC_ROLES_CLAIM``,
``<P>_OIDC_ORG_CLAIM``, ``<P>_OIDC_ROLE_MAP``, ``<P>_OIDC_ORG_MAP`` and ``<P>_OIDC_DEFAULT_ORG``.

Revocation: a token whose ``iat`` is before its account's ``not_before`` is refused, also
when it is served from the verified-token cache. The map comes from the ``AccessRevokedV1``
events every service follows (:mod:`shared.revocations`,
docs/decisions/010-token-revocation.md); the built-in issuer writes ``iat`` to the
microsecond, so a token issued right after a revocation is never taken for one before it.

Every principal belongs to one organisation (``org``, see :mod:`shared.organisations`): the
district branch's staff reach everything, a town branch's staff only their own organisation.

``python -m shared.auth keygen DIR`` writes a key pair (only if none exists there).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.config import ServiceSettings
from shared.errors import Forbidden, NotAuthenticated
from shared.organisations import DISTRICT, reaches

log = logging.getLogger("sunshine.auth")


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    WAREHOUSE = "warehouse"
    DISPATCHER = "dispatcher"
    APPROVER = "approver"
    AUDITOR = "auditor"


@dataclass(frozen=True)
class StaffPrincipal:
    username: str
    roles: frozenset[str]
    display_name: str | None = None
    org: str = DISTRICT  # the organisation the account belongs to (the token's ``org`` claim)

    def has_any(self, roles: set[Role] | frozenset[Role]) -> bool:
        return Role.ADMIN in self.roles or bool(self.roles & {str(r) for r in roles})

    @property
    def district_wide(self) -> bool:
        """Staff of the district branch: every organisation's warehouses, projects, staff."""
        return self.org == DISTRICT

    def reaches(self, org_code: str) -> bool:
        """Whether this principal may see and change what belongs to ``org_code``."""
        return reaches(self.org, org_code)


VERIFIED_CACHE_SIZE = 1024


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._algorithms = list(settings.jwt_algorithms)
        self._roles_claim = settings.oidc_roles_claim
        self._org_claim = settings.oidc_org_claim
        self._role_map = dict(settings.oidc_role_map)
        self._org_map = dict(settings.oidc_org_map)
        self._default_org = settings.oidc_default_org
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any = None
        # token → (principal, nbf, exp, iat); iat None when the token has none
        self._verified: OrderedDict[str, tuple[StaffPrincipal, float, float, float | None]] = (
            OrderedDict()
        )
        # user name (the token's ``sub``, exactly) → tokens issued before this are refused
        self._not_before: dict[str, float] = {}
        if settings.oidc_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=3600)
        else:
            path = settings.jwt_public_key_file
            if not path.exists():
                raise RuntimeError(
                    f"JWT public key not found at {path}; run `python -m shared.auth keygen "
                    f"{path.parent}` or configure an OIDC JWKS URL"
                )
            self._key = serialization.load_pem_public_key(path.read_bytes())

    def verify(self, token: str) -> StaffPrincipal:
        """The token's principal; a token verified before is served from a small cache until
        it expires (an Ed25519 verification per request showed in the intake profile). A
        revoked token is refused either way."""
        cached = self._verified.get(token)
        if cached is not None:
            principal, not_before, expires, issued = cached
            if not_before <= time.time() < expires:
                self._verified.move_to_end(token)
                self._refuse_if_revoked(principal, issued)
                return principal
            del self._verified[token]
        principal, claims = self._verify(token)
        issued = claims.get("iat")
        issued = float(issued) if issued is not None else None
        self._refuse_if_revoked(principal, issued)
        self._verified[token] = (
            principal,
            float(claims.get("nbf", 0)),
            float(claims["exp"]),
            issued,
        )
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return principal

    def revoke(self, username: str, not_before: datetime) -> None:
        """Refuse ``username``'s tokens issued before ``not_before`` from now on (a later
        revocation moves the instant forward; an older one, read again, changes nothing)."""
        instant = not_before.timestamp()
        if instant > self._not_before.get(username, float("-inf")):
            self._not_before[username] = instant

    def revoked_before(self, username: str) -> datetime | None:
        """The instant before which ``username``'s tokens are refused, if any."""
        instant = self._not_before.get(username)
        return None if instant is None else datetime.fromtimestamp(instant, UTC)

    def _refuse_if_revoked(self, principal: StaffPrincipal, issued: float | None) -> None:
        not_before = self._not_before.get(principal.username)
        if not_before is None:
            return
        if issued is None or issued < not_before:  # without iat a token proves no date
            log.info("token refused", extra={"reason": "revoked", "username": principal.username})
            raise NotAuthenticated("访问令牌已撤销，请重新登录 (token revoked)")

    def _verify(self, token: str) -> tuple[StaffPrincipal, dict[str, Any]]:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticated("登录已过期，请重新登录 (token expired)") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            # the library's reason stays in our log: echoed, it tells a prober which check
            # failed and prints its internals (decoder errors with the bytes it was sent)
            log.info("token refused", extra={"reason": f"{type(exc).__name__}: {exc}"[:300]})
            raise NotAuthenticated("无效的访问令牌 (invalid token)") from exc
        principal = StaffPrincipal(
            username=str(claims["sub"]),
            roles=self._roles_of(claims),
            display_name=claims.get("name"),
            org=self._org_of(claims),
        )
        return principal, claims

    def _roles_of(self, claims: dict[str, Any]) -> frozenset[str]:
        roles = claims.get(self._roles_claim, [])
        if not isinstance(roles, list):
            log.info("token refused", extra={"reason": "roles claim is not a list"})
            raise NotAuthenticated("无效的访问令牌 (invalid token)")
        names = [str(r) for r in roles]
        if self._role_map:
            names = [self._role_map[n] for n in names if n in self._role_map]
        return frozenset(names)

    def _org_of(self, claims: dict[str, Any]) -> str:
        value = claims.get(self._org_claim)
        org = None if value is None else str(value)
        if org is not None and self._org_map:
            org = self._org_map.get(org)
        org = org or self._default_org
        if not org:
            log.info("token refused", extra={"reason": "no organisation claim"})
            raise NotAuthenticated("令牌未注明所属组织 (the token names no organisation)")
        return org


class TokenIssuer:
    def __init__(
        self, private_key_file: Path, *, issuer: str, audience: str, ttl: timedelta
    ) -> None:
        key = serialization.load_pem_private_key(private_key_file.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise RuntimeError(f"{private_key_file} is not an Ed25519 private key")
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self.ttl = ttl

    def issue(self, principal: StaffPrincipal) -> str:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "sub": principal.username,
            "name": principal.display_name,
            "roles": sorted(principal.roles),
            "org": principal.org,
            "iss": self._issuer,
            "aud": self._audience,
            # to the microsecond (a NumericDate may be fractional): a revocation's not_before
            # and a login in the same second must not be confused
            "iat": now.timestamp(),
            "nbf": now,
            "exp": now + self.ttl,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA")


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_bearer = HTTPBearer(auto_error=False, description="Staff access token (JWT)")


async def current_staff(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffPrincipal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("需要登录 (missing bearer token)")
    verifier: TokenVerifier = request.app.state.runtime.verifier
    return verifier.verify(credentials.credentials)


CurrentStaff = Annotated[StaffPrincipal, Depends(current_staff)]


def require_roles(*roles: Role) -> Any:
    """A dependency that admits staff holding any of ``roles`` (admins always)."""
    wanted = frozenset(roles)

    async def _check(staff: CurrentStaff) -> StaffPrincipal:
        if not staff.has_any(wanted):
            names = ", ".join(sorted(str(r) for r in wanted))
            raise Forbidden(f"权限不足：需要角色 {names} (requires role: {names})")
        return staff

    return Depends(_check)


def generate_keypair(directory: Path) -> tuple[Path, Path]:
    """Write ``jwt_private.pem`` and ``jwt_public.pem`` into ``directory`` unless present."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / "jwt_private.pem", directory / "jwt_public.pem"
    if private_path.exists() and public_path.exists():
        return private_path, public_path
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_path, public_path


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "keygen":
        print("usage: python -m shared.auth keygen DIR", file=sys.stderr)
        return 2
    private_path, public_path = generate_keypair(Path(argv[1]))
    print(f"keys ready: {private_path} {public_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
