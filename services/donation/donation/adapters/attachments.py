"""Attachments (photos of follow-up visits) stored outside the database, content-addressed.

A file is named by the SHA-256 of its bytes, under ``<root>/<first two hex digits>/<hash>``:
the same photo uploaded twice, to one visit or to two, is one file. A file is written to a
temporary name in its final directory, flushed to disk and renamed into place (``os.replace``
is atomic on POSIX), so a reader never sees half a photo and a crash leaves at most a
``.tmp-`` file behind. A file is never changed once written.

Every read checks the bytes against their name: a file that no longer matches (disk damage, a
hand edit) or that is gone is refused as :class:`AttachmentDamaged` (never served, never a 500),
logged and counted in ``sunshine_attachments_damaged_total``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Literal

from prometheus_client import Counter

log = logging.getLogger("sunshine.donation.attachments")

DAMAGED = Counter(
    "sunshine_attachments_damaged_total",
    "Stored attachments refused on read: their bytes no longer match their SHA-256, or gone",
    ["service", "reason"],
)

SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(SHA256_PATTERN)

Damage = Literal["mismatch", "missing"]


class AttachmentDamaged(Exception):
    """The stored file of ``sha256`` is gone, or its bytes hash to something else."""

    def __init__(self, sha256: str, reason: Damage) -> None:
        super().__init__(f"attachment {sha256}: {reason}")
        self.sha256 = sha256
        self.reason: Damage = reason


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AttachmentStore:
    def __init__(self, root: Path, *, service: str = "donation") -> None:
        self.root = root
        self.service = service

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def _put(self, data: bytes) -> tuple[str, bool]:
        digest = sha256_of(data)
        path = self.path_of(digest)
        if path.exists():
            try:
                self._get(digest)
                return digest, False
            except AttachmentDamaged:
                pass  # a damaged copy is replaced by the good bytes just received
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o640)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return digest, True

    def _get(self, sha256: str) -> bytes:
        try:
            data = self.path_of(sha256).read_bytes()
        except FileNotFoundError:
            raise AttachmentDamaged(sha256, "missing") from None
        if sha256_of(data) != sha256:
            raise AttachmentDamaged(sha256, "mismatch")
        return data

    async def put(self, data: bytes) -> tuple[str, bool]:
        """Store ``data``: its SHA-256, and whether a new file was written (``False``: the same
        bytes were stored already)."""
        return await asyncio.to_thread(self._put, data)

    async def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, checked against it; else :class:`AttachmentDamaged`
        (logged and counted)."""
        try:
            return await asyncio.to_thread(self._get, sha256)
        except AttachmentDamaged as exc:
            DAMAGED.labels(self.service, exc.reason).inc()
            log.error(
                "attachment refused",
                extra={"sha256": sha256, "reason": exc.reason, "path": str(self.path_of(sha256))},
            )
            raise
