"""The key of the recipients register's identity fingerprints (``DONATION_RECIPIENT_ID_KEY_FILE``).

The file holds at least 32 bytes of key, written as hex (what :func:`generate_recipient_key`
writes: 64 hex digits of ``secrets.token_bytes(32)``) or as raw bytes. It lives outside the
database, so a copy of the database alone links no fingerprint to a number. Outside production
a missing key is generated on first start; production refuses a missing or short key and the
demo key under ``.local/keys`` (see ``DonationSettings``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from donation.domain.identity_numbers import MIN_KEY_BYTES
from shared.config import LOCAL_STATE


def read_recipient_key(path: Path) -> bytes:
    """The key in ``path`` (hex text, else the raw bytes); ``ValueError`` if it is short."""
    raw = path.read_bytes()
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        key = raw
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(
            f"the recipient ID key in {path} has {len(key)} bytes; at least {MIN_KEY_BYTES} needed"
        )
    return key


def generate_recipient_key(path: Path) -> None:
    """Write a new random key to ``path`` unless a file is there (never overwrites one: a new
    key would unlink every fingerprint already stored)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_bytes(MIN_KEY_BYTES).hex() + "\n")


def load_recipient_key(path: Path, *, create: bool) -> bytes:
    """The register's key; generated first when missing and ``create`` (outside production)."""
    if create and not path.exists():
        generate_recipient_key(path)
    return read_recipient_key(path)


def recipient_key_refusal(path: Path) -> str | None:
    """Why production must not start with the key file ``path``, or None if it may."""
    variable = "DONATION_RECIPIENT_ID_KEY_FILE"
    if path.resolve().is_relative_to(LOCAL_STATE.resolve()):
        return (
            f"refusing the demo recipient ID key in production ({path}); set {variable} to "
            "a key kept outside the checkout"
        )
    if not path.exists():
        return (
            f"refusing to start in production without the recipient ID key; set {variable} "
            f"(missing: {path})"
        )
    try:
        read_recipient_key(path)
    except (OSError, ValueError) as exc:
        return f"refusing the recipient ID key in production: {exc}; set {variable}"
    return None
