"""Benchmark 7 — payment notifications: how many verified notifications a second the donation
service turns into gifts (each: verify, lock the order, gift + receipt + outbox + payment
event, commit), against the signature checks alone in the same run.

    .local/venv/bin/python -m bench.payment_notifications [--orders 600] [--concurrency 16]

The gateway sandbox (deploy/payment_sandbox) runs as its own process and issues the keys;
this script plays the gateway's side: it signs WeChat Pay v3 notifications (RSA-SHA256 with
WeChat Pay's key, the resource sealed with AEAD_AES_256_GCM and the APIv3 key) and Alipay
notifications (RSA2 with Alipay's key) for orders it wrote into the bench database, and posts
them to the service. Afterwards every order must be paid exactly once (exit 1 if not), and a
second round of the same notifications must create nothing (the gateways retry).
Needs PostgreSQL and Kafka running (`scripts/infra.sh up`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.common import (
    KAFKA,
    LOGS,
    PG_PORT,
    cpu_seconds,
    env_for,
    fresh_database,
    keys,
    start_service,
    stop,
    summary,
    wait_ready,
)
from donation.adapters.alipay import AlipayConfig, AlipayGateway
from donation.adapters.wechatpay import WechatPayConfig, WechatPayGateway
from donation.config import DonationSettings
from donation.main import MIGRATIONS
from shared.config import LOCAL_STATE
from shared.messaging.topics import all_topics, ensure_topics

PORT = 19001
SANDBOX_PORT = 19090
STATE = LOCAL_STATE / "bench-payment-sandbox"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Notification:
    channel: str
    out_trade_no: str
    headers: dict[str, str]
    body: bytes


def private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def wechat_notification(out_trade_no: str, amount_fen: int) -> Notification:
    wechat = STATE / "wechat"
    merchant = json.loads((wechat / "merchant.json").read_text())
    apiv3 = (wechat / "apiv3_key.txt").read_text().strip().encode()
    key = private_key(STATE / "private" / "wechatpay_pub_key_private.pem")
    paid = datetime.now(SHANGHAI).isoformat(timespec="seconds")
    transaction = {
        "mchid": merchant["mchid"],
        "appid": merchant["appid"],
        "out_trade_no": out_trade_no,
        "transaction_id": f"4200{secrets.randbelow(10**24):024d}",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": paid,
        "payer": {"openid": "o-bench"},
        "amount": {
            "total": amount_fen,
            "payer_total": amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    nonce = secrets.token_hex(6)
    sealed = AESGCM(apiv3).encrypt(nonce.encode(), json.dumps(transaction).encode(), b"transaction")
    body = json.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": paid,
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        }
    ).encode()
    timestamp, header_nonce = str(int(time.time())), secrets.token_hex(16)
    signature = rsa_sign(key, f"{timestamp}\n{header_nonce}\n".encode() + body + b"\n")
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Serial": (wechat / "pub_key_id.txt").read_text().strip(),
        "Wechatpay-Signature": signature,
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": header_nonce,
    }
    return Notification("wechat_pay", out_trade_no, headers, body)


def alipay_notification(out_trade_no: str, amount_fen: int) -> Notification:
    app = json.loads((STATE / "alipay" / "app.json").read_text())
    key = private_key(STATE / "private" / "alipay_private_key.pem")
    now = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    amount = f"{amount_fen // 100}.{amount_fen % 100:02d}"
    fields = {
        "notify_time": now,
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "charset": "utf-8",
        "version": "1.0",
        "app_id": app["app_id"],
        "seller_id": app["seller_id"],
        "trade_no": f"2026{secrets.randbelow(10**24):024d}",
        "out_trade_no": out_trade_no,
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "gmt_payment": now,
    }
    text = "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
    body = urlencode({**fields, "sign": rsa_sign(key, text.encode()), "sign_type": "RSA2"})
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    return Notification("alipay", out_trade_no, headers, body.encode())


async def write_orders(dsn: str, count: int) -> list[tuple[str, str, int]]:
    """``count`` pending orders, half WeChat, half Alipay: (channel, out_trade_no, fen)."""
    now = datetime.now(UTC)
    orders = []
    for n in range(count):
        channel = "wechat_pay" if n % 2 == 0 else "alipay"
        orders.append((channel, f"SGBENCH{secrets.token_hex(10)}", 1000 + n))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO online_orders (id, out_trade_no, channel, scene, amount_fen, display,"
            " donor_type, donor_name, phone, status, client_ip, want_receipt, expires_at,"
            " created_at) VALUES ($1, $2, $3, $4, $5, 'surname', 'individual', '陈晓梅',"
            " '13900001234', 'pending', '127.0.0.1', TRUE, $6, $7)",
            [
                (
                    uuid.uuid4(),
                    no,
                    channel,
                    "native" if channel == "wechat_pay" else "wap",
                    fen,
                    now + timedelta(minutes=30),
                    now,
                )
                for channel, no, fen in orders
            ],
        )
    finally:
        await conn.close()
    return orders


async def verify_only(notifications: list[Notification]) -> float:
    """The adapters' checks alone (signature, and WeChat's decryption), one after another."""
    async with httpx.AsyncClient() as client:
        wechat = WechatPayGateway(
            WechatPayConfig.from_sandbox_state(STATE, f"http://127.0.0.1:{SANDBOX_PORT}"),
            client=client,
        )
        alipay = AlipayGateway(
            AlipayConfig.from_sandbox_state(STATE, f"http://127.0.0.1:{SANDBOX_PORT}/gateway.do"),
            client=client,
        )
        started = time.perf_counter()
        for n in notifications:
            gateway = wechat if n.channel == "wechat_pay" else alipay
            await gateway.verify_notification(n.headers, n.body)
        return len(notifications) / (time.perf_counter() - started)


async def post_all(
    url: str, notifications: list[Notification], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(notifications)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for n in queue:
                started = time.perf_counter()
                reply = await client.post(
                    f"/api/v1/payments/{n.channel}/notify", content=n.body, headers=n.headers
                )
                latencies.append(time.perf_counter() - started)
                statuses[reply.status_code] = statuses.get(reply.status_code, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(notifications) / (time.perf_counter() - started), latencies, statuses


def start_sandbox() -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / "payment-sandbox.log").open("ab")
    args = ["--port", str(SANDBOX_PORT), "--state-dir", str(STATE)]
    process = subprocess.Popen(
        [sys.executable, "-m", "payment_sandbox", *args], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{SANDBOX_PORT}/healthz", timeout=1).is_success:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"the sandbox did not start; see {LOGS}/payment-sandbox.log")


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    key_dir = keys()
    settings = DonationSettings(db_name="donation_bench_pay", db_port=PG_PORT, port=PORT)
    await fresh_database(settings, MIGRATIONS)
    await ensure_topics(KAFKA, all_topics("bench."))
    sandbox = start_sandbox()
    env = env_for(
        "DONATION_",
        db_name=settings.db_name,
        db_port=PG_PORT,
        port=PORT,
        topic_prefix="bench.",
        jwt_public_key_file=key_dir / "jwt_public.pem",
        jwt_private_key_file=key_dir / "jwt_private.pem",
        log_level="WARNING",
        public_url=f"http://127.0.0.1:{PORT}",
        payment_sandbox_state=STATE,
        payment_sandbox_url=f"http://127.0.0.1:{SANDBOX_PORT}",
        run_payment_sweeper="false",
    )
    process = start_service("donation", env)
    url = f"http://127.0.0.1:{PORT}"
    try:
        wait_ready(url, process)
        warm = await write_orders(settings.asyncpg_dsn, 40)
        warm_notes = [make(channel, no, fen) for channel, no, fen in warm]
        await post_all(url, warm_notes, args.concurrency)
        orders = await write_orders(settings.asyncpg_dsn, args.orders)
        notes = [make(channel, no, fen) for channel, no, fen in orders]
        checks = await verify_only(notes)
        cpu_before = cpu_seconds(process.pid)
        rate, latencies, statuses = await post_all(url, notes, args.concurrency)
        cpu_ms = (cpu_seconds(process.pid) - cpu_before) / len(notes) * 1000
        again, _, again_statuses = await post_all(url, notes, args.concurrency)
    finally:
        stop(process)
        stop(sandbox)
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    try:
        paid = await conn.fetchval(
            "SELECT count(*) FROM online_orders WHERE status = 'paid' AND out_trade_no = ANY($1)",
            [no for _, no, _ in orders],
        )
        gifts = await conn.fetchval("SELECT count(*) FROM donations")
        receipts = await conn.fetchval("SELECT count(*) FROM receipts")
    finally:
        await conn.close()
    total = len(orders) + len(warm)
    print(
        f"payment notifications  ({len(orders)} orders, half WeChat Pay, half Alipay; "
        f"concurrency {args.concurrency})"
    )
    print(f"  service         {rate:8.1f} notifications/s   {summary(latencies)}  {statuses}")
    print(f"  checks alone    {checks:8.1f} notifications/s   (signature + decryption, one core)")
    print(f"  ratio           {rate / checks:8.2f}")
    print(f"  donation CPU    {cpu_ms:8.2f} ms per notification (relay included)")
    print(f"  repeated round  {again:8.1f} notifications/s   {again_statuses} (all duplicates)")
    print(
        f"  orders paid {paid}/{len(orders)}; gifts {gifts}, receipts {receipts} (expected {total})"
    )
    ok = paid == len(orders) and gifts == total and receipts == total
    return 0 if ok else 1


def make(channel: str, out_trade_no: str, fen: int) -> Notification:
    if channel == "wechat_pay":
        return wechat_notification(out_trade_no, fen)
    return alipay_notification(out_trade_no, fen)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
