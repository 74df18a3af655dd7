"""Public transparency-log API (no login): signed tree heads, entries, proofs, the key.

Everything a third party needs to verify the feed (see ``python -m notification.verify``):

- ``GET /api/v1/public/tree-head`` — the latest signed tree head (or ``?tree_size=`` a past one)
- ``GET /api/v1/public/log-key`` — the Ed25519 public key and its key id
- ``GET /api/v1/public/log/entries?start=&end=`` — the hashed documents, in log order
- ``GET /api/v1/public/proofs/inclusion?entry=…&tree_size=…`` — RFC 9162 audit path
- ``GET /api/v1/public/proofs/consistency?first=…&second=…`` — RFC 9162 consistency proof
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from notification.log import store
from notification.log.signing import LogSigner, TreeHead, b64
from notification.service_layer.feed_runtime import SIGNER, reads
from shared.errors import NotFound, ValidationFailed
from shared.openapi import raises
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/public", tags=["public: transparency log"])

MAX_ENTRIES = 1000
MAX_INDEX = 2**62  # within PostgreSQL bigint


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def _head(runtime: ServiceRuntime, tree_size: int | None = None) -> TreeHead:
    db = reads(runtime)
    head = await (store.latest_head(db) if tree_size is None else store.head_at(db, tree_size))
    if head is None:
        raise NotFound("尚无签名树头 (no signed tree head yet)")
    return head


@router.get(
    "/tree-head",
    summary="最新签名树头 The latest signed tree head",
    responses=raises((NotFound, "No head signed yet, or none of that size")),
)
async def tree_head(
    request: Request,
    tree_size: Annotated[
        int | None, Query(ge=0, le=MAX_INDEX, description="A past signed size")
    ] = None,
) -> dict[str, Any]:
    return (await _head(_runtime(request), tree_size)).to_json()


@router.get("/log-key", summary="日志签名公钥 The log's Ed25519 public key and key id")
async def log_key(request: Request) -> dict[str, str]:
    signer: LogSigner = _runtime(request).extras[SIGNER]
    return signer.public_json()


@router.get("/log/entries", summary="日志条目 Hashed entry documents in log order")
async def log_entries(
    request: Request,
    start: Annotated[int, Query(ge=0, le=MAX_INDEX)] = 0,
    end: Annotated[
        int | None, Query(ge=1, le=MAX_INDEX, description="Exclusive; at most 1000 per call")
    ] = None,
) -> dict[str, Any]:
    runtime = _runtime(request)
    db = reads(runtime)
    size = await store.tree_size(db)
    stop = min(size, end if end is not None else size, start + MAX_ENTRIES)
    rows = await store.log_entries(db, start, stop) if start < stop else []
    return {
        "tree_size": size,
        "start": start,
        "end": max(stop, start),
        "entries": [
            {"leaf_index": index, "entry": document, "published_at": published}
            for index, document, published in rows
        ],
    }


async def _resolve_entry(runtime: ServiceRuntime, entry: str) -> int:
    if entry.isdigit():
        return int(entry)
    try:
        entry_uuid = uuid.UUID(entry)
    except ValueError as exc:
        raise ValidationFailed("entry 应为条目 id 或叶子序号 (entry id or leaf index)") from exc
    index = await store.leaf_index_of(reads(runtime), entry_uuid)
    if index is None:
        raise NotFound("条目不存在或尚未写入日志 (unknown entry, or not yet in the log)")
    return index


@router.get(
    "/proofs/inclusion",
    summary="包含证明 Inclusion proof (RFC 9162 §2.1.3)",
    responses=raises((NotFound, "Unknown entry, not yet in the log, or not in that tree")),
)
async def inclusion(
    request: Request,
    entry: Annotated[str, Query(max_length=64, description="Entry id (UUID) or leaf index")],
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> dict[str, Any]:
    runtime = _runtime(request)
    index = await _resolve_entry(runtime, entry)
    async with reads(runtime).connection() as db:  # one connection for the answer
        if tree_size is None:
            head = await store.latest_head(db)
            if head is None:
                raise NotFound("尚无签名树头 (no signed tree head yet)")
            size = head.tree_size  # a signed head's leaves are in the log
        else:
            size = tree_size
            current = await store.tree_size(db)
            if size > current:
                raise ValidationFailed(f"tree_size {size} 超出日志大小 {current} (beyond the log)")
        if index >= size:
            raise NotFound(f"叶子 {index} 不在大小为 {size} 的树中 (leaf not in that tree)")
        path = await store.inclusion_proof(db, index, size)
        rows = await store.log_entries(db, index, index + 1)
    return {
        "leaf_index": index,
        "tree_size": size,
        "entry": rows[0][1] if rows else None,
        "audit_path": [b64(h) for h in path],
    }


@router.get("/proofs/consistency", summary="一致性证明 Consistency proof (RFC 9162 §2.1.4)")
async def consistency(
    request: Request,
    first: Annotated[int, Query(ge=1, le=MAX_INDEX)],
    second: Annotated[int, Query(ge=1, le=MAX_INDEX)],
) -> dict[str, Any]:
    if first > second:
        raise ValidationFailed("first 不得大于 second (first must not exceed second)")
    runtime = _runtime(request)
    db = reads(runtime)
    current = await store.tree_size(db)
    if second > current:
        raise ValidationFailed(f"second {second} 超出日志大小 {current} (beyond the log)")
    path = await store.consistency_proof(db, first, second)
    return {"first": first, "second": second, "consistency_path": [b64(h) for h in path]}
