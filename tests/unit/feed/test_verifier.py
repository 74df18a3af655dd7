"""The verifier's decisions against an in-memory log served over a mock HTTP transport."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from notification.log.entry import document_leaf_hash
from notification.log.merkle import (
    Frontier,
    consistency_ranges,
    inclusion_ranges,
    range_hash,
)
from notification.log.signing import LogSigner, b64
from notification.verify import run


class FakeLog:
    def __init__(self, signer: LogSigner, n: int) -> None:
        self.signer = signer
        self.docs: list[dict[str, Any]] = []
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.frontier = Frontier()
        self.head: dict[str, Any] = {}
        self.add(n)

    def add(self, n: int) -> None:
        for _ in range(n):
            i = len(self.docs)
            doc = {"v": 1, "id": f"e{i}", "title": f"捐款 {i}", "data": {"amount_fen": i}}
            self.docs.append(doc)
            for level, index, h in self.frontier.append(document_leaf_hash(doc)):
                self.nodes[(level, index)] = h
        self.head = self.signer.sign(
            len(self.docs), 1_700_000_000_000, self.frontier.root()
        ).to_json()

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = urlparse(str(request.url))
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.removeprefix("/api/v1/public")
        size = len(self.docs)
        if path == "/log-key":
            return httpx.Response(200, json=self.signer.public_json())
        if path == "/tree-head":
            return httpx.Response(200, json=self.head)
        if path == "/log/entries":
            start, end = int(q["start"]), min(int(q["end"]), size)
            items = [{"leaf_index": i, "entry": self.docs[i]} for i in range(start, end)]
            return httpx.Response(200, json={"entries": items})
        if path == "/proofs/inclusion":
            index = int(q["entry"]) if q["entry"].isdigit() else int(q["entry"][1:])
            tree = int(q["tree_size"])
            path_ = [
                b64(range_hash(lo, hi, self.nodes)) for lo, hi in inclusion_ranges(index, tree)
            ]
            return httpx.Response(
                200, json={"leaf_index": index, "entry": self.docs[index], "audit_path": path_}
            )
        if path.startswith("/entries/"):
            return httpx.Response(200, json={"entry": self.docs[int(path.rsplit("/e", 1)[1])]})
        if path == "/proofs/consistency":
            ranges = consistency_ranges(int(q["first"]), int(q["second"]))
            proof = [b64(range_hash(lo, hi, self.nodes)) for lo, hi in ranges]
            return httpx.Response(200, json={"consistency_path": proof})
        return httpx.Response(404, json={})


def verify(log: FakeLog, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    client = httpx.Client(transport=httpx.MockTransport(log.handle))
    rc = run(["--url", "http://log", *args], client=client, out=out, err=err)
    return rc, out.getvalue() + err.getvalue()


def test_verifier_decisions(tmp_path: Path) -> None:
    signer = LogSigner.from_file(tmp_path / "k.pem", create=True)
    log = FakeLog(signer, 13)
    state = tmp_path / "head.json"
    rc, text = verify(log, "--state", str(state), "--entry", "e5", "--entry", "12")
    assert rc == 0, text
    assert "ok: entry e5 is leaf 5 of the signed tree of 13" in text

    log.add(6)
    rc, text = verify(log, "--state", str(state))
    assert rc == 0, text
    assert "extends the saved head of 13" in text

    original = log.docs[3]
    log.docs[3] = {**original, "title": "改过"}
    rc, text = verify(log)
    assert rc == 1
    assert "first bad entry: leaf 3" in text
    log.docs[3] = original

    log.docs[4], log.docs[5] = log.docs[5], log.docs[4]
    rc, text = verify(log)
    assert rc == 1
    assert "do not hash to the signed root" in text
    log.docs[4], log.docs[5] = log.docs[5], log.docs[4]

    removed = log.docs.pop()
    rc, text = verify(log)
    assert rc == 1
    assert "removed" in text
    log.docs.append(removed)

    good_signature = log.head["signature"]
    log.head["signature"] = b64(bytes(64))
    rc, text = verify(log)
    assert rc == 1
    assert "invalid signature" in text
    log.head["signature"] = good_signature

    # a different key (the pinned one from the state file no longer matches)
    other = LogSigner.from_file(tmp_path / "other.pem", create=True)
    impostor = FakeLog(other, 19)
    rc, text = verify(impostor, "--state", str(state))
    assert rc == 1
    assert "key changed" in text

    # the same key, a rewritten history of the same size: a fork
    forked = FakeLog(signer, 0)
    forked.docs = []
    forked.add(0)
    for i in range(19):
        doc = {
            "v": 1,
            "id": f"e{i}",
            "title": "x" if i == 0 else f"捐款 {i}",
            "data": {"amount_fen": i},
        }
        forked.docs.append(doc)
        for level, index, h in forked.frontier.append(document_leaf_hash(doc)):
            forked.nodes[(level, index)] = h
    forked.head = signer.sign(19, 1, forked.frontier.root()).to_json()
    rc, text = verify(forked, "--state", str(state))
    assert rc == 1
    assert "forked" in text
    assert json.loads(state.read_text())["tree_size"] == 19  # the state kept the good head
