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
from shared.http_server import server_protocol
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
        uvicorn.run(app_factory(settings), **server_options(settings))


def server_options(settings: ServiceSettings) -> dict[str, Any]:
    """How uvicorn serves a service: its address, limits and which proxies it believes."""
    proxies = settings.forwarded_allow_ips.strip()
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        # X-Forwarded-For and -Proto only from the configured proxies (by default none)
        "proxy_headers": bool(proxies),
        "forwarded_allow_ips": proxies or None,
        "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": settings.http_keep_alive_s,
        **server_protocol(),
    }
