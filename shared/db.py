"""Async engine and session factory (SQLAlchemy + asyncpg), built in the app lifespan."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.config import ServiceSettings


def create_engine(settings: ServiceSettings, *, application_name: str | None = None) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        # No ping per checkout (a round trip on every request): a connection found dead
        # invalidates the whole pool, the request gets a 503 and its retry a fresh connection.
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args={
            "server_settings": {"application_name": application_name or settings.service_name},
            "timeout": 5,
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - readiness reports, never raises
        return False
