"""Public API (no login): the 阳光红会 disclosure feed."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlmodel import col, select

from notification.adapters.orm import FeedEntry
from shared.pagination import Cursor, Limit, decode_cursor, encode_cursor
from shared.runtime import ServiceRuntime

router = APIRouter(prefix="/api/v1/public", tags=["public"])


class FeedEntryOut(BaseModel):
    id: uuid.UUID
    seq: int
    kind: str
    title: str
    data: dict[str, Any]
    occurred_at: datetime
    published_at: datetime
    corrects_seq: int | None


class FeedPage(BaseModel):
    items: list[FeedEntryOut]
    next_cursor: str | None


@router.get("/feed", response_model=FeedPage, summary="公示信息 The public feed, newest first")
async def feed(request: Request, limit: Limit = 20, cursor: Cursor = None) -> FeedPage:
    runtime: ServiceRuntime = request.app.state.runtime
    query = select(FeedEntry).order_by(col(FeedEntry.seq).desc()).limit(limit + 1)
    if cursor is not None:
        (before,) = decode_cursor(cursor, 1)
        query = query.where(col(FeedEntry.seq) < int(before))
    async with runtime.session_factory() as session:
        rows = list((await session.scalars(query)).all())
    page = rows[:limit]
    return FeedPage(
        items=[
            FeedEntryOut(
                id=e.id,
                seq=e.seq or 0,
                kind=e.kind,
                title=e.title,
                data=e.data,
                occurred_at=e.occurred_at,
                published_at=e.published_at,
                corrects_seq=e.corrects_seq,
            )
            for e in page
        ],
        next_cursor=encode_cursor(page[-1].seq) if len(rows) > limit else None,
    )
