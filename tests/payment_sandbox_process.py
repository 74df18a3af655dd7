"""The gateway sandbox (``deploy/payment_sandbox``) as a real separate process, for tests.

``start_sandbox`` runs ``python -m payment_sandbox`` on a free port with its own state
directory (keys are issued there on first start) and waits for ``/healthz``.
``NotifySink`` is a small HTTP server standing in for our notify endpoint: it records each
request exactly as it arrived and answers what the test tells it to.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SandboxProcess:
    base_url: str
    state_dir: Path
    process: subprocess.Popen[bytes]

    def controls(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0)


@contextmanager
def start_sandbox(
    state_dir: Path, *, sign_mode: str = "public_key", retry_scale: float = 0.001
) -> Iterator[SandboxProcess]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = (state_dir.parent / f"{state_dir.name}.log").open("ab")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "payment_sandbox", "--port", str(port)),
            *("--state-dir", str(state_dir), "--public-url", base_url),
            *("--retry-scale", str(retry_scale), "--wechat-sign-mode", sign_mode),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                code = process.returncode
                raise RuntimeError(f"payment sandbox exited with {code}: see {log.name}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"payment sandbox did not answer /healthz: see {log.name}")
            time.sleep(0.1)
        yield SandboxProcess(base_url=base_url, state_dir=state_dir, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class NotifySink:
    """Records requests; answers ``status``/``body`` (set them to act as a failing merchant)."""

    url: str
    received: list[Received] = field(default_factory=list)
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} notifications, got {len(self.received)}")
            return list(self.received)

    def record(self, item: Received) -> None:
        with self._arrived:
            self.received.append(item)
            self._arrived.notify_all()


@contextmanager
def notify_sink() -> Iterator[NotifySink]:
    port = free_port()
    sink = NotifySink(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            sink.record(Received(self.path, dict(self.headers.items()), body))
            # read once: a test may change the answer while this request is being answered
            status, answer, content_type = sink.status, sink.body, sink.content_type
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
