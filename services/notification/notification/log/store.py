"""The transparency log in PostgreSQL: sequencing entries, storing nodes, heads and proofs.

One writer at a time (a transaction-scoped advisory lock), so several processes may run the
checkpoint task. Leaves and every complete aligned subtree are stored once, so a proof reads
O(log n) rows and never rehashes the log; a checkpoint reads only the entries still pending.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

from notification.log.entry import document_leaf_hash, entry_document
from notification.log.merkle import (
    EMPTY_ROOT,
    Frontier,
    NodeKey,
    consistency_ranges,
    decompose,
    inclusion_ranges,
    needed_nodes,
    range_hash,
)
from notification.log.signing import LogSigner, TreeHead

LOCK_KEY = 0x5EED_F00D
SEQUENCE_BATCH = 5000

ENTRY_COLUMNS = """
    e.seq, e.id, e.source_event_id, e.kind, e.subject_id, e.title, e.data, e.occurred_at,
    e.published_at, e.tracking_code_hash, e.project_code, e.town, e.incident_ref,
    e.event_time, c.id AS corrects_id, e.corrects_seq
"""

# ``feed_log_pending`` holds the entries not yet in the log (a trigger adds every new entry;
# truncating the leaves makes every entry pending again), so a checkpoint reads those, not an
# anti-join of the whole feed with the whole log.
_PENDING = text(
    "SELECT"
    + ENTRY_COLUMNS
    + """
    FROM feed_log_pending p
    JOIN feed_entries e ON e.seq = p.entry_seq
    LEFT JOIN feed_entries c ON c.seq = e.corrects_seq
    LEFT JOIN feed_log_leaves l ON l.entry_seq = e.seq
    WHERE l.entry_seq IS NULL
      AND coalesce(e.event_time, e.occurred_at) <= now() - make_interval(secs => :settle)
    ORDER BY coalesce(e.event_time, e.occurred_at), e.source_event_id
    LIMIT :limit
    """
)
_SEQUENCED = text(
    "DELETE FROM feed_log_pending p USING feed_log_leaves l WHERE l.entry_seq = p.entry_seq"
)


class Reader(Protocol):
    """Runs a read-only query (``:name`` parameters); rows give their columns as attributes.

    The read functions below take a SQLAlchemy session (the checkpoint, in its transaction)
    or a reader (the public endpoints: ``notification.adapters.feed_reads``, a plain asyncpg
    pool, about a third of the CPU per query)."""

    async def rows(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]: ...


Db = AsyncSession | Reader


@functools.cache
def _text(sql: str) -> TextClause:
    return text(sql)


class _SessionReader:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def rows(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]:
        return list(await self._session.execute(_text(sql), dict(params)))


def reader(db: Db) -> Reader:
    return _SessionReader(db) if isinstance(db, AsyncSession) else db


TREE_SIZE = "SELECT coalesce(max(leaf_index) + 1, 0) AS n FROM feed_log_leaves"
NODES = (
    "SELECT n.level, n.idx, n.hash FROM feed_log_nodes n "
    "JOIN unnest(CAST(:levels AS smallint[]), CAST(:idxs AS bigint[])) AS k(level, idx) "
    "ON n.level = k.level AND n.idx = k.idx"
)
LATEST_HEAD = "SELECT * FROM feed_tree_heads ORDER BY tree_size DESC LIMIT 1"
HEAD_AT = "SELECT * FROM feed_tree_heads WHERE tree_size = :n"
LEAF_INDEX = (
    "SELECT l.leaf_index FROM feed_log_leaves l JOIN feed_entries e ON e.seq = l.entry_seq "
    "WHERE e.id = :id"
)
LOG_ENTRIES = (
    f"SELECT l.leaf_index, {ENTRY_COLUMNS} FROM feed_log_leaves l "  # noqa: S608
    "JOIN feed_entries e ON e.seq = l.entry_seq "
    "LEFT JOIN feed_entries c ON c.seq = e.corrects_seq "
    "WHERE l.leaf_index >= :start AND l.leaf_index < :end ORDER BY l.leaf_index"
)


def document_of(row: Any) -> dict[str, Any]:
    return entry_document(
        id=row.id,
        source_event_id=row.source_event_id,
        kind=row.kind,
        subject_id=row.subject_id,
        title=row.title,
        data=row.data,
        occurred_at=row.occurred_at,
        corrects=row.corrects_id,
        tracking_code_hash=row.tracking_code_hash,
        project_code=row.project_code,
        town=row.town,
        incident_ref=row.incident_ref,
    )


async def tree_size(db: Db) -> int:
    rows = await reader(db).rows(TREE_SIZE, {})
    return int(rows[0].n or 0)


async def fetch_nodes(db: Db, keys: set[NodeKey]) -> dict[NodeKey, bytes]:
    if not keys:
        return {}
    levels = [k[0] for k in keys]
    indexes = [k[1] for k in keys]
    rows = await reader(db).rows(NODES, {"levels": levels, "idxs": indexes})
    found = {(int(r.level), int(r.idx)): bytes(r.hash) for r in rows}
    missing = keys - set(found)
    if missing:
        raise LookupError(f"log nodes missing: {sorted(missing)[:5]}")
    return found


async def root_hash(db: Db, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    nodes = await fetch_nodes(db, set(decompose(0, size)))
    return range_hash(0, size, nodes)


async def sequence_pending(session: AsyncSession, *, settle_s: float, limit: int = 5000) -> int:
    """Append settled, unsequenced entries to the log, in (event time, event id) order."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    await session.execute(_SEQUENCED)  # those the previous call appended
    rows = list(await session.execute(_PENDING, {"settle": settle_s, "limit": limit}))
    if not rows:
        return 0
    size = await tree_size(session)
    frontier = Frontier.load(
        size, await fetch_nodes(session, set(decompose(0, size)) if size else set())
    )
    leaves: list[dict[str, Any]] = []
    nodes: list[dict[str, Any]] = []
    for row in rows:
        leaves.append({"i": frontier.size, "seq": row.seq})
        for level, index, h in frontier.append(document_leaf_hash(document_of(row))):
            nodes.append({"level": level, "idx": index, "hash": h})
    await session.execute(
        text("INSERT INTO feed_log_leaves (leaf_index, entry_seq) VALUES (:i, :seq)"), leaves
    )
    await session.execute(
        text("INSERT INTO feed_log_nodes (level, idx, hash) VALUES (:level, :idx, :hash)"), nodes
    )
    return len(rows)


def _head(row: Any) -> TreeHead:
    return TreeHead(
        tree_size=int(row.tree_size),
        timestamp_ms=int(row.timestamp_ms),
        root_hash=bytes(row.root_hash),
        key_id=row.key_id,
        signature=bytes(row.signature),
    )


async def latest_head(db: Db) -> TreeHead | None:
    rows = await reader(db).rows(LATEST_HEAD, {})
    return _head(rows[0]) if rows else None


async def head_at(db: Db, size: int) -> TreeHead | None:
    rows = await reader(db).rows(HEAD_AT, {"n": size})
    return _head(rows[0]) if rows else None


async def checkpoint(session: AsyncSession, signer: LogSigner, *, settle_s: float) -> TreeHead:
    """Sequence what has settled and sign a head if the tree grew (or none exists yet)."""
    while (
        await sequence_pending(session, settle_s=settle_s, limit=SEQUENCE_BATCH) == SEQUENCE_BATCH
    ):
        pass  # a backlog: keep appending in batches before signing one head
    size = await tree_size(session)
    last = await latest_head(session)
    if last is not None and last.tree_size >= size:
        return last
    head = signer.sign(size, int(time.time() * 1000), await root_hash(session, size))
    await session.execute(
        text(
            "INSERT INTO feed_tree_heads (tree_size, root_hash, timestamp_ms, key_id, signature) "
            "VALUES (:n, :root, :ts, :kid, :sig)"
        ),
        {
            "n": head.tree_size,
            "root": head.root_hash,
            "ts": head.timestamp_ms,
            "kid": head.key_id,
            "sig": head.signature,
        },
    )
    # live stream: delivered to every listening process when this transaction commits
    await session.execute(text("SELECT pg_notify('feed_heads', :n)"), {"n": str(head.tree_size)})
    return head


async def inclusion_proof(db: Db, index: int, size: int) -> list[bytes]:
    ranges = inclusion_ranges(index, size)
    nodes = await fetch_nodes(db, needed_nodes(ranges))
    return [range_hash(lo, hi, nodes) for lo, hi in ranges]


async def consistency_proof(db: Db, first: int, second: int) -> list[bytes]:
    ranges = consistency_ranges(first, second)
    nodes = await fetch_nodes(db, needed_nodes(ranges))
    return [range_hash(lo, hi, nodes) for lo, hi in ranges]


async def leaf_index_of(db: Db, entry: uuid.UUID) -> int | None:
    rows = await reader(db).rows(LEAF_INDEX, {"id": entry})
    return int(rows[0].leaf_index) if rows else None


async def log_entries(db: Db, start: int, end: int) -> list[tuple[int, dict[str, Any], datetime]]:
    rows = await reader(db).rows(LOG_ENTRIES, {"start": start, "end": end})
    return [(int(r.leaf_index), document_of(r), r.published_at) for r in rows]
