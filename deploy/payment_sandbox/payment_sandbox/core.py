"""The sandbox itself: configuration, keys, state, payments and the notification worker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import httpx

from . import clock
from .crypto import Keys, aes_gcm_encrypt, load_or_create, random_text, sign
from .store import Doc, Store

log = logging.getLogger("payment_sandbox")

# WeChat Pay: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h after the first attempt.
WECHAT_RETRIES = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800,
                  21600, 21600)  # fmt: skip
# Alipay: 4m/10m/10m/1h/2h/6h/15h after the first attempt.
ALIPAY_RETRIES = (240, 600, 600, 3600, 7200, 21600, 54000)
NOTIFY_TIMEOUT_S = 5.0
# A WeChat refund stays PROCESSING this long (× retry scale) before it becomes SUCCESS.
REFUND_DELAY_S = 3.0

SignMode = Literal["public_key", "platform_cert"]


@dataclass(frozen=True)
class Config:
    state_dir: Path
    public_url: str
    retry_scale: float = 1.0
    wechat_sign_mode: SignMode = "public_key"


def fen_to_yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def yuan_to_fen(text: str) -> int:
    return int((Decimal(text) * 100).to_integral_value())


def wechat_order_state(order: Doc, now: float) -> str:
    if order["trade_state"] == "NOTPAY" and now >= order["time_expire_ts"]:
        return "CLOSED"
    return str(order["trade_state"])


class Sandbox:
    def __init__(self, config: Config, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.keys: Keys = load_or_create(config.state_dir)
        self.store = Store(config.state_dir / "sandbox.db")
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[int] = set()
        self._sends: set[asyncio.Task[None]] = set()

    @property
    def public_url(self) -> str:
        return self.config.public_url.rstrip("/")

    # lifecycle
    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            transport=self._transport, timeout=NOTIFY_TIMEOUT_S, follow_redirects=False
        )
        self._task = asyncio.create_task(self._run(), name="payment-sandbox-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._sends):
            task.cancel()
        if self._sends:
            await asyncio.gather(*self._sends, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
        self.store.close()

    def wake(self) -> None:
        self._wake.set()

    # WeChat Pay response / notification signing
    def wechat_signer(self) -> tuple[str, Any]:
        if self.config.wechat_sign_mode == "platform_cert":
            return self.keys.platform_serial, self.keys.platform_key
        return self.keys.pub_key_id, self.keys.wechatpay_key

    def wechat_headers(self, body: str) -> dict[str, str]:
        serial, key = self.wechat_signer()
        timestamp, nonce = str(int(clock.now())), random_text(32)
        return {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
            "Wechatpay-Serial": serial,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }

    def alipay_sign(self, params: dict[str, str], *, exclude: tuple[str, ...]) -> str:
        content = "&".join(
            f"{k}={v}" for k, v in sorted(params.items()) if k not in exclude and v != ""
        )
        return sign(self.keys.alipay_key, content)

    def alipay_sign_text(self, text: str) -> str:
        return sign(self.keys.alipay_key, text)

    # WeChat Pay transactions
    def wechat_transaction(self, order: Doc) -> Doc:
        state = wechat_order_state(order, clock.now())
        paid = order.get("transaction_id") is not None
        amount: Doc = {"total": order["total"], "currency": order["currency"]}
        if paid:
            amount["payer_total"] = order["total"]
        amount["payer_currency"] = order["currency"]
        result: Doc = {
            "appid": order["appid"],
            "mchid": order["mchid"],
            "out_trade_no": order["out_trade_no"],
            "trade_type": order["trade_type"],
            "trade_state": state,
            "trade_state_desc": {
                "NOTPAY": "订单未支付",
                "SUCCESS": "支付成功",
                "CLOSED": "订单已关闭",
                "REFUND": "订单发生过退款",
            }[state],
            "attach": order.get("attach") or "",
            "amount": amount,
        }
        if paid:
            result.update(
                transaction_id=order["transaction_id"],
                bank_type="OTHERS",
                success_time=clock.rfc3339(order["success_ts"]),
                payer={"openid": order["openid"]},
            )
        return result

    def wechat_resource(self, original_type: str, plaintext: Doc) -> Doc:
        nonce = random_text(12)
        data = json.dumps(plaintext, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": aes_gcm_encrypt(self.keys.apiv3_key, nonce, original_type, data),
            "associated_data": original_type,
            "nonce": nonce,
        }

    def pay_wechat(self, out_trade_no: str, *, notify: bool) -> Doc:
        """Pay as the payer would. Raises LookupError (unknown) or ValueError (not payable)."""
        order = self.store.order("wechat", out_trade_no)
        if order is None:
            raise LookupError("订单不存在")
        state = wechat_order_state(order, clock.now())
        if state == "CLOSED":
            if order["trade_state"] != "CLOSED":
                order["trade_state"] = "CLOSED"
                self.store.put_order("wechat", order)
            raise ValueError("订单已关闭")
        if state != "NOTPAY":
            return order
        now = clock.now()
        order.update(
            trade_state="SUCCESS",
            success_ts=now,
            transaction_id=f"42000{clock.shanghai_date(now):%Y%m%d}{secrets.randbelow(10**15):015d}",
            openid="oSbx" + random_text(24),
        )
        self.store.put_order("wechat", order)
        body = {
            "id": str(uuid.uuid4()),
            "create_time": clock.rfc3339(now),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": self.wechat_resource("transaction", self.wechat_transaction(order)),
        }
        self.store.add_notification(
            "wechat", "payment", out_trade_no, out_trade_no, order["notify_url"], body,
            held=not notify,
        )  # fmt: skip
        self.wake()
        return order

    def wechat_refund_view(self, refund: Doc) -> Doc:
        view: Doc = {
            "refund_id": refund["refund_id"],
            "out_refund_no": refund["out_refund_no"],
            "transaction_id": refund["transaction_id"],
            "out_trade_no": refund["out_trade_no"],
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "create_time": clock.rfc3339(refund["create_ts"]),
            "status": refund["status"],
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund["total"],
                "refund": refund["refund"],
                "payer_total": refund["total"],
                "payer_refund": refund["refund"],
                "settlement_total": refund["total"],
                "settlement_refund": refund["refund"],
                "discount_refund": 0,
                "currency": refund["currency"],
            },
        }
        if refund.get("success_ts") is not None:
            view["success_time"] = clock.rfc3339(refund["success_ts"])
        return view

    def complete_wechat_refunds(self, now: float) -> None:
        for row in self.store.db.execute(
            "SELECT doc FROM refunds WHERE gateway='wechat'"
        ).fetchall():
            refund = json.loads(row["doc"])
            if refund["status"] != "PROCESSING" or refund["succeed_at"] > now:
                continue
            refund.update(status="SUCCESS", success_ts=now)
            self.store.put_refund("wechat", refund["out_refund_no"], refund)
            if refund.get("notify_url"):
                plaintext = {
                    "mchid": self.keys.mchid,
                    "out_trade_no": refund["out_trade_no"],
                    "transaction_id": refund["transaction_id"],
                    "out_refund_no": refund["out_refund_no"],
                    "refund_id": refund["refund_id"],
                    "refund_status": "SUCCESS",
                    "success_time": clock.rfc3339(now),
                    "user_received_account": "支付用户零钱",
                    "amount": {
                        "total": refund["total"],
                        "refund": refund["refund"],
                        "payer_total": refund["total"],
                        "payer_refund": refund["refund"],
                    },
                }
                body = {
                    "id": str(uuid.uuid4()),
                    "create_time": clock.rfc3339(now),
                    "resource_type": "encrypt-resource",
                    "event_type": "REFUND.SUCCESS",
                    "summary": "退款成功",
                    "resource": self.wechat_resource("refund", plaintext),
                }
                self.store.add_notification(
                    "wechat", "refund", refund["out_trade_no"], refund["out_refund_no"],
                    refund["notify_url"], body,
                )  # fmt: skip

    def next_refund_due(self) -> float | None:
        due = [
            json.loads(row["doc"])["succeed_at"]
            for row in self.store.db.execute(
                "SELECT doc FROM refunds WHERE gateway='wechat'"
            ).fetchall()
            if json.loads(row["doc"])["status"] == "PROCESSING"
        ]
        return min(due) if due else None

    # Alipay trades
    def alipay_state(self, order: Doc, now: float) -> str:
        if order["trade_status"] == "WAIT_BUYER_PAY" and now >= order["time_expire_ts"]:
            return "TRADE_CLOSED"
        return str(order["trade_status"])

    def pay_alipay(self, out_trade_no: str, *, notify: bool) -> Doc:
        order = self.store.order("alipay", out_trade_no)
        if order is None:
            raise LookupError("交易不存在")
        state = self.alipay_state(order, clock.now())
        if state == "TRADE_CLOSED":
            raise ValueError("交易已关闭")
        if state != "WAIT_BUYER_PAY":
            return order
        now = clock.now()
        order.update(trade_status="TRADE_SUCCESS", gmt_payment_ts=now)
        self.store.put_order("alipay", order)
        if order.get("notify_url"):
            fields = self.alipay_notify_fields(order, now)
            self.store.add_notification(
                "alipay", "payment", out_trade_no, out_trade_no, order["notify_url"], fields,
                held=not notify,
            )  # fmt: skip
            self.wake()
        return order

    def alipay_notify_fields(self, order: Doc, now: float) -> dict[str, str]:
        amount = order["total_amount"]
        fields = {
            "notify_time": clock.alipay_time(now),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.keys.alipay_app_id,
            "auth_app_id": self.keys.alipay_app_id,
            "charset": "utf-8",
            "version": "1.0",
            "sign_type": "RSA2",
            "trade_no": order["trade_no"],
            "out_trade_no": order["out_trade_no"],
            "trade_status": "TRADE_SUCCESS",
            "total_amount": amount,
            "receipt_amount": amount,
            "buyer_pay_amount": amount,
            "invoice_amount": amount,
            "point_amount": "0.00",
            "seller_id": self.keys.alipay_seller_id,
            "buyer_id": order["buyer_id"],
            "buyer_logon_id": order["buyer_logon_id"],
            "gmt_create": clock.alipay_time(order["gmt_create_ts"]),
            "gmt_payment": clock.alipay_time(order["gmt_payment_ts"]),
            "subject": order["subject"],
            "fund_bill_list": json.dumps(
                [{"amount": amount, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
            ),
        }
        if order.get("passback_params"):
            fields["passback_params"] = order["passback_params"]
        fields["sign"] = self.alipay_sign(fields, exclude=("sign", "sign_type"))
        return fields

    # notifications
    def renotify(self, gateway: str, out_trade_no: str) -> bool:
        row = self.store.latest_notification(gateway, out_trade_no, "payment")
        if row is None:
            return False
        if row["state"] in ("held", "pending"):
            self.store.set_notification(row["id"], "pending", row["attempts"], clock.now())
        else:
            payload = json.loads(row["payload"])
            if gateway == "alipay":
                order = self.store.order("alipay", out_trade_no)
                assert order is not None
                payload = self.alipay_notify_fields(order, clock.now()) | {
                    "notify_id": payload["notify_id"]
                }
                payload["sign"] = self.alipay_sign(payload, exclude=("sign", "sign_type"))
            self.store.add_notification(
                gateway, "payment", out_trade_no, row["ref"], row["url"], payload
            )
        self.wake()
        return True

    async def _run(self) -> None:
        while True:
            now = clock.now()
            try:
                self.complete_wechat_refunds(now)
                for row in self.store.due_notifications(now):
                    if row["id"] not in self._inflight:
                        self._inflight.add(row["id"])
                        task = asyncio.create_task(self._deliver(row))
                        self._sends.add(task)
                        task.add_done_callback(self._sends.discard)
            except sqlite3.Error:
                log.exception("notification worker")
            waits = [t for t in (self.store.next_due(), self.next_refund_due()) if t is not None]
            timeout = max(0.0, min(1.0, *(t - clock.now() for t in waits))) if waits else 1.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout if timeout else 0.001)

    async def _deliver(self, row: sqlite3.Row) -> None:
        try:
            await self._attempt(row)
        finally:
            self._inflight.discard(row["id"])
            self.wake()

    async def _attempt(self, row: sqlite3.Row) -> None:
        attempt = row["attempts"] + 1
        status: int | None = None
        answer: str | None = None
        error: str | None = None
        payload = json.loads(row["payload"])
        assert self._client is not None
        try:
            if row["gateway"] == "wechat":
                body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                headers = self.wechat_headers(body) | {
                    "Content-Type": "application/json",
                    "Request-ID": str(uuid.uuid4()),
                }
                response = await self._client.post(
                    row["url"], content=body.encode("utf-8"), headers=headers
                )
                status, answer = response.status_code, response.text
                delivered = status in (200, 204)
            else:
                response = await self._client.post(
                    row["url"],
                    content=str(httpx.QueryParams(payload)).encode("ascii"),
                    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
                )
                status, answer = response.status_code, response.text
                delivered = answer == "success"
        except httpx.HTTPError as exc:
            delivered, error = False, f"{type(exc).__name__}: {exc}"
        self.store.log_delivery(row, attempt, status, answer, error)
        schedule = WECHAT_RETRIES if row["gateway"] == "wechat" else ALIPAY_RETRIES
        if delivered:
            self.store.set_notification(row["id"], "delivered", attempt, clock.now())
        elif attempt > len(schedule):
            self.store.set_notification(row["id"], "failed", attempt, clock.now())
        else:
            delay = schedule[attempt - 1] * self.config.retry_scale
            self.store.set_notification(row["id"], "pending", attempt, clock.now() + delay)
