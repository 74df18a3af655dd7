"""``python -m payment_sandbox --port 8090 --state-dir DIR --public-url URL``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import uvicorn

from .app import create_app
from .core import Config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="payment_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--public-url", default=None, help="how merchants and browsers reach us")
    parser.add_argument("--retry-scale", type=float, default=1.0, help="× notification intervals")
    parser.add_argument(
        "--wechat-sign-mode", choices=["public_key", "platform_cert"], default="public_key"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = Config(
        state_dir=args.state_dir,
        public_url=args.public_url or f"http://{args.host}:{args.port}",
        retry_scale=args.retry_scale,
        wechat_sign_mode=args.wechat_sign_mode,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
