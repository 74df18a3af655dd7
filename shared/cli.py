"""Each service's command line: ``python -m <service> migrate|serve|seed``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from shared.config import ServiceSettings
from shared.migrations import upgrade


def run_cli(
    *,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], FastAPI],
    migrations: Path,
    seed: Callable[[Any], Coroutine[Any, Any, None]] | None = None,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["migrate", "serve", "seed"])
    args = parser.parse_args(argv)
    settings = settings_factory()
    if args.command == "migrate":
        upgrade(settings, migrations)
        print(f"{settings.service_name}: database {settings.db_name} at head")
    elif args.command == "seed":
        if seed is None:
            print(f"{settings.service_name}: no demo data to seed")
            return
        asyncio.run(seed(settings))
    else:
        uvicorn.run(
            app_factory(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            timeout_graceful_shutdown=10,
            timeout_keep_alive=settings.http_keep_alive_s,
        )
