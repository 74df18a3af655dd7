"""Standalone verifier of the 阳光红会 public feed, using only its public HTTP endpoints.

    python -m notification.verify --url http://127.0.0.1:8003 [--state head.json]
        [--entry ENTRY_ID]... [--tracking-code CODE]... [--no-full] [--key-id HEX]

Checks, in order, and fails loudly (exit status 1, ``VERIFICATION FAILED: …`` on stderr):

1. the log's public key matches its published key id (and ``--key-id`` or the key id saved
   in the state file, if any);
2. the latest signed tree head's Ed25519 signature;
3. (unless ``--no-full``) the whole log: every entry in order, re-canonicalized (RFC 8785)
   and re-hashed, gives the signed root (RFC 9162) — so an edited, removed, added or
   reordered entry is detected;
4. each ``--entry`` / ``--tracking-code`` entry's inclusion proof against the signed head;
5. with ``--state FILE``: the consistency proof from the head saved there to the new head
   (the log only grew; history was not rewritten); then the new head is saved.

Depends on nothing of the service but the two pure modules ``notification.log.jcs`` and
``notification.log.merkle`` (standard library only), plus ``httpx`` and ``cryptography``.
Exit status 2 means the verifier could not run (network, usage).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from notification.log.jcs import CanonicalizationError, canonicalize
from notification.log.merkle import (
    ProofError,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LOG_ID = "sunshine-feed/v1"
PAGE = 1000


class VerificationFailed(Exception):
    pass


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


class Verifier:
    def __init__(self, url: str, *, client: httpx.Client | None = None, out: Any = None) -> None:
        self.base = url.rstrip("/") + "/api/v1/public"
        self.client = client or httpx.Client(timeout=30)
        self.out = out or sys.stdout

    def say(self, message: str) -> None:
        print(message, file=self.out)

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(self.base + path, params=params)
        if response.status_code != 200:
            raise VerificationFailed(
                f"GET {path} {params or ''} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    # -- key and head ----------------------------------------------------------------------

    def public_key(self, pinned: str | None) -> tuple[Ed25519PublicKey, str]:
        info = self.get("/log-key")
        raw = _b64(info["public_key"])
        key_id = hashlib.sha256(raw).hexdigest()
        if key_id != info["key_id"]:
            raise VerificationFailed("the published key id does not match the public key")
        if pinned and pinned != key_id:
            raise VerificationFailed(
                f"the log's key changed: expected key id {pinned}, the log now uses {key_id}"
            )
        return Ed25519PublicKey.from_public_bytes(raw), key_id

    @staticmethod
    def check_head(head: dict[str, Any], key: Ed25519PublicKey, key_id: str) -> None:
        if head.get("log") != LOG_ID or head.get("key_id") != key_id:
            raise VerificationFailed("tree head is for another log or another key")
        message = canonicalize(
            {
                "log": LOG_ID,
                "tree_size": head["tree_size"],
                "timestamp": head["timestamp"],
                "root_hash": head["root_hash"],
                "key_id": head["key_id"],
            }
        )
        try:
            key.verify(_b64(head["signature"]), message)
        except InvalidSignature as exc:
            raise VerificationFailed(
                f"tree head of size {head['tree_size']} has an invalid signature"
            ) from exc

    # -- checks ----------------------------------------------------------------------------

    def full_log(self, head: dict[str, Any]) -> None:
        size = int(head["tree_size"])
        hashes: list[bytes] = []
        seen: set[str] = set()
        start = 0
        while start < size:
            page = self.get("/log/entries", start=start, end=min(size, start + PAGE))
            entries = page["entries"]
            if not entries:
                raise VerificationFailed(
                    f"the log serves only {start} of the {size} entries the signed head covers: "
                    "entries were removed"
                )
            for item in entries:
                if item["leaf_index"] != len(hashes):
                    raise VerificationFailed(
                        f"entry at position {len(hashes)} is missing (got leaf "
                        f"{item['leaf_index']}): entries were removed or reordered"
                    )
                entry_id = str(item["entry"].get("id"))
                if entry_id in seen:
                    raise VerificationFailed(f"entry {entry_id} appears twice in the log")
                seen.add(entry_id)
                try:
                    hashes.append(leaf_hash(canonicalize(item["entry"])))
                except CanonicalizationError as exc:
                    raise VerificationFailed(
                        f"entry at position {len(hashes)} is not canonical JSON ({exc}): "
                        "it was edited"
                    ) from exc
            start = len(hashes)
        if root_of(hashes[:size]) != _b64(head["root_hash"]):
            culprit = self._locate(head, hashes)
            raise VerificationFailed(
                "the log's entries do not hash to the signed root: an entry was edited, "
                f"removed, inserted or reordered{culprit}"
            )
        self.say(f"ok: all {size} entries hash to the signed root")

    def _locate(self, head: dict[str, Any], hashes: list[bytes]) -> str:
        """Best effort: the first entry whose own inclusion proof fails."""
        root = _b64(head["root_hash"])
        size = int(head["tree_size"])
        for index, h in enumerate(hashes[: min(size, 2000)]):
            proof = self.get("/proofs/inclusion", entry=str(index), tree_size=size)
            try:
                verify_inclusion(index, size, h, [_b64(p) for p in proof["audit_path"]], root)
            except ProofError:
                return f" (first bad entry: leaf {index})"
        return ""

    def inclusion(self, entry: str, head: dict[str, Any]) -> None:
        size = int(head["tree_size"])
        proof = self.get("/proofs/inclusion", entry=entry, tree_size=size)
        document = proof["entry"]
        shown = self.get(f"/entries/{entry}")["entry"] if not entry.isdigit() else document
        if canonicalize(shown) != canonicalize(document):
            raise VerificationFailed(f"entry {entry} as shown in the feed differs from the log")
        try:
            verify_inclusion(
                int(proof["leaf_index"]),
                size,
                leaf_hash(canonicalize(document)),
                [_b64(p) for p in proof["audit_path"]],
                _b64(head["root_hash"]),
            )
        except ProofError as exc:
            raise VerificationFailed(f"entry {entry} is not in the signed log: {exc}") from exc
        self.say(f"ok: entry {entry} is leaf {proof['leaf_index']} of the signed tree of {size}")

    def tracking_code(self, code: str, head: dict[str, Any]) -> None:
        items = self.get(f"/track/{code}")["items"]
        in_log = [
            i
            for i in items
            if i["leaf_index"] is not None and i["leaf_index"] < int(head["tree_size"])
        ]
        if not in_log:
            raise VerificationFailed(f"no entry of tracking code {code} is in the signed log yet")
        for item in in_log:
            self.inclusion(str(item["id"]), head)

    def consistency(self, old: dict[str, Any], head: dict[str, Any]) -> None:
        first, second = int(old["tree_size"]), int(head["tree_size"])
        if second < first:
            raise VerificationFailed(
                f"the log shrank from {first} to {second} entries since the saved head"
            )
        path: list[bytes] = []
        if 0 < first < second:
            proof = self.get("/proofs/consistency", first=first, second=second)
            path = [_b64(p) for p in proof["consistency_path"]]
        try:
            verify_consistency(first, second, _b64(old["root_hash"]), _b64(head["root_hash"]), path)
        except ProofError as exc:
            raise VerificationFailed(
                f"the log is not an extension of the saved head of size {first}: {exc}"
            ) from exc
        self.say(f"ok: the log of {second} entries extends the saved head of {first}")


def run(
    argv: list[str] | None = None,
    *,
    client: httpx.Client | None = None,
    out: Any = None,
    err: Any = None,
) -> int:
    err = err or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m notification.verify", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8003", help="notification service")
    parser.add_argument("--state", type=Path, help="file with the last verified head (updated)")
    parser.add_argument("--entry", action="append", default=[], help="entry id or leaf index")
    parser.add_argument("--tracking-code", action="append", default=[], help="a gift's code")
    parser.add_argument("--no-full", action="store_true", help="skip the whole-log audit")
    parser.add_argument("--key-id", help="expected key id (hex SHA-256 of the public key)")
    args = parser.parse_args(argv)
    verifier = Verifier(args.url, client=client, out=out)
    try:
        old = json.loads(args.state.read_text()) if args.state and args.state.exists() else None
        key, key_id = verifier.public_key(args.key_id or (old or {}).get("key_id"))
        head = verifier.get("/tree-head")
        verifier.check_head(head, key, key_id)
        verifier.say(
            f"ok: signed tree head: size {head['tree_size']}, root {head['root_hash']}, "
            f"key {key_id[:16]}…"
        )
        if old is not None:
            verifier.check_head(old, key, key_id)
        if not args.no_full:
            verifier.full_log(head)
        for entry in args.entry:
            verifier.inclusion(entry, head)
        for code in args.tracking_code:
            verifier.tracking_code(code, head)
        if old is not None:
            verifier.consistency(old, head)
        if args.state:
            args.state.write_text(json.dumps(head, indent=2))
            verifier.say(f"saved head of size {head['tree_size']} to {args.state}")
    except VerificationFailed as exc:
        print(f"VERIFICATION FAILED: {exc}", file=err)
        return 1
    except (httpx.HTTPError, json.JSONDecodeError, KeyError, ValueError) as exc:
        print(f"verifier could not run: {type(exc).__name__}: {exc}", file=err)
        return 2
    verifier.say("VERIFIED")
    return 0


if __name__ == "__main__":
    sys.exit(run())
