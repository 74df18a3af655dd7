"""Alembic per service: ``upgrade(settings, script_location)`` and the shared async env."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shared.config import ServiceSettings


def alembic_config(settings: ServiceSettings, script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    return cfg


def upgrade(settings: ServiceSettings, script_location: Path, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings, script_location), revision)


def downgrade(settings: ServiceSettings, script_location: Path, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings, script_location), revision)


def run_env() -> None:
    """Body of every service's ``env.py``: run migrations online over asyncpg."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url not set"

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
