"""Signed tree heads (Ed25519) and the log's signing key.

A tree head is signed over the RFC 8785 canonical JSON of
``{"log": LOG_ID, "tree_size": n, "timestamp": ms, "root_hash": b64, "key_id": hex}``;
``key_id`` is the hex SHA-256 of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from notification.log.jcs import canonicalize

LOG_ID = "sunshine-feed/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def signed_message(tree_size: int, timestamp_ms: int, root_hash: bytes, key_id: str) -> bytes:
    return canonicalize(
        {
            "log": LOG_ID,
            "tree_size": tree_size,
            "timestamp": timestamp_ms,
            "root_hash": b64(root_hash),
            "key_id": key_id,
        }
    )


@dataclass(frozen=True)
class TreeHead:
    tree_size: int
    timestamp_ms: int
    root_hash: bytes
    key_id: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "log": LOG_ID,
            "tree_size": self.tree_size,
            "timestamp": self.timestamp_ms,
            "root_hash": b64(self.root_hash),
            "key_id": self.key_id,
            "signature": b64(self.signature),
        }


class LogSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def from_file(cls, path: Path, *, create: bool) -> LogSigner:
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"feed log signing key missing: {path}")
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            path.chmod(0o600)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(loaded)

    def sign(self, tree_size: int, timestamp_ms: int, root_hash: bytes) -> TreeHead:
        message = signed_message(tree_size, timestamp_ms, root_hash, self.key_id)
        return TreeHead(tree_size, timestamp_ms, root_hash, self.key_id, self._key.sign(message))

    def public_json(self) -> dict[str, str]:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        pem = self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "log": LOG_ID,
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "public_key": b64(raw),
            "public_key_pem": pem.decode(),
        }


def main(argv: list[str]) -> int:
    """``python -m notification.log.signing keygen PATH``: write the log key unless present."""
    import sys

    if len(argv) != 2 or argv[0] != "keygen":
        print("usage: python -m notification.log.signing keygen PATH", file=sys.stderr)
        return 2
    signer = LogSigner.from_file(Path(argv[1]), create=True)
    print(f"feed log key ready: {argv[1]} (key id {signer.key_id})")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
