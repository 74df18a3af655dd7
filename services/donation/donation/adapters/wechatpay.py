"""The WeChat Pay API v3 adapter of :class:`donation.domain.payments.PaymentGateway`.

Written on ``httpx.AsyncClient`` and ``cryptography`` rather than the ``wechatpayv3`` package
because that one is synchronous (``requests``) and would block the event loop.

Every request is signed (``WECHATPAY2-SHA256-RSA2048``); every answer is verified before any
of it is used, with the 微信支付公钥 named by ``Wechatpay-Serial`` or a platform certificate
(fetched from ``/v3/certificates``, decrypted with the APIv3 key, cached by serial, fetched
again once when an unknown serial shows up). Statement files are not signed by WeChat Pay:
their SHA1, given in the signed answer that names them, is checked instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from donation.adapters import wechatpay_signing as crypto
from donation.domain.payments import (
    CreatedOrder,
    GatewayAnswer,
    GatewayError,
    GatewayPayment,
    GatewayRefund,
    GatewayRefused,
    GatewayUnavailable,
    Notification,
    NotificationRejected,
    OrderRequest,
    PaymentChannel,
    PayScene,
    RefundRequest,
    RefundState,
    ResponseNotVerified,
    StatementLine,
    TradeState,
)
from shared.aio import within

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_SKEW = timedelta(minutes=5)
CERTIFICATE_REFETCH_S = 60.0  # an unknown serial fetches the certificates at most this often
USER_AGENT = (
    f"sunshine-donation/0.1 (WeChatPay-APIv3; {platform.system()}) "
    f"httpx/{httpx.__version__} Python/{platform.python_version()}"
)

TRADE_STATES: dict[str, TradeState] = {
    "NOTPAY": TradeState.UNPAID,
    "USERPAYING": TradeState.UNPAID,
    "SUCCESS": TradeState.PAID,
    "CLOSED": TradeState.CLOSED,
    "REVOKED": TradeState.CLOSED,
    "PAYERROR": TradeState.CLOSED,
    "REFUND": TradeState.REFUNDED,
}
REFUND_STATES: dict[str, RefundState] = {
    "PROCESSING": RefundState.PROCESSING,
    "SUCCESS": RefundState.SUCCESS,
    "CLOSED": RefundState.CLOSED,
    "ABNORMAL": RefundState.ABNORMAL,
}
# event_type -> the resource's original_type
EVENTS = {
    "TRANSACTION.SUCCESS": "transaction",
    "REFUND.SUCCESS": "refund",
    "REFUND.ABNORMAL": "refund",
    "REFUND.CLOSED": "refund",
}
NOTIFY_HEADERS = ("wechatpay-signature", "wechatpay-timestamp", "wechatpay-nonce",
                  "wechatpay-serial")  # fmt: skip


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WechatPayConfig:
    """One merchant's WeChat Pay settings.

    WeChat Pay signs with its public key (``public_key_id`` ``PUB_KEY_ID_...`` and
    ``public_key``), with platform certificates (``platform_certificates=True``: fetched from
    ``/v3/certificates``), or, while a merchant moves from one to the other, with either.
    ``platform_ca``, when given, must have issued every platform certificate we accept.
    """

    mchid: str
    appid: str
    merchant_serial: str
    merchant_key: rsa.RSAPrivateKey = field(repr=False)
    apiv3_key: bytes = field(repr=False)
    public_key_id: str | None = None
    public_key: rsa.RSAPublicKey | None = field(default=None, repr=False)
    platform_certificates: bool = False
    platform_ca: x509.Certificate | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if len(self.apiv3_key) != 32:
            raise ValueError("the APIv3 key is 32 bytes")
        if (self.public_key_id is None) != (self.public_key is None):
            raise ValueError("public_key_id and public_key go together")
        if self.public_key is None and not self.platform_certificates:
            raise ValueError("no key to verify WeChat Pay with: a public key or certificates")

    @classmethod
    def from_files(
        cls,
        *,
        mchid: str,
        appid: str,
        merchant_serial: str,
        merchant_key_path: Path,
        apiv3_key_path: Path,
        public_key_id: str | None = None,
        public_key_path: Path | None = None,
        platform_certificates: bool = False,
        platform_ca_path: Path | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 10.0,
    ) -> WechatPayConfig:
        return cls(
            mchid=mchid,
            appid=appid,
            merchant_serial=merchant_serial.strip().upper(),
            merchant_key=crypto.load_private_key(merchant_key_path),
            apiv3_key=apiv3_key_path.read_text("ascii").strip().encode("ascii"),
            public_key_id=public_key_id,
            public_key=None if public_key_path is None else crypto.load_public_key(public_key_path),
            platform_certificates=platform_certificates,
            platform_ca=(
                None
                if platform_ca_path is None
                else x509.load_pem_x509_certificate(platform_ca_path.read_bytes())
            ),
            base_url=base_url,
            timeout_s=timeout_s,
        )

    @classmethod
    def from_sandbox_state(cls, state_dir: Path, base_url: str) -> WechatPayConfig:
        """The keys the payment sandbox issued under ``state_dir/wechat`` (both sign modes)."""
        wechat = state_dir / "wechat"
        merchant = json.loads((wechat / "merchant.json").read_text("utf-8"))
        return cls.from_files(
            mchid=merchant["mchid"],
            appid=merchant["appid"],
            merchant_serial=(wechat / "merchant_serial.txt").read_text("ascii"),
            merchant_key_path=wechat / "apiclient_key.pem",
            apiv3_key_path=wechat / "apiv3_key.txt",
            public_key_id=(wechat / "pub_key_id.txt").read_text("ascii").strip(),
            public_key_path=wechat / "pub_key.pem",
            platform_certificates=True,
            platform_ca_path=wechat / "sandbox_ca.pem",
            base_url=base_url,
        )


def yuan_to_fen(text: str) -> int:
    """``"12.30"`` -> 1230, exactly (Decimal); a fraction of a fen is a ``ValueError``."""
    try:
        fen = Decimal(text.strip()) * 100
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not fen.is_finite() or fen != fen.to_integral_value():
        raise ValueError(f"not an amount in fen: {text!r}")
    return int(fen)


def _rfc3339(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"no time zone: {text!r}")
    return value


def parse_tradebill(content: bytes) -> list[StatementLine]:
    """WeChat Pay's trade bill (``bill_type=ALL``): a header, detail lines whose fields are
    prefixed with a backquote, then a summary header and line. ``ValueError`` when malformed
    (the summary's 总交易单数 must count the detail lines)."""
    lines = [line for line in content.decode("utf-8-sig").splitlines() if line.strip()]
    if len(lines) < 3:
        raise ValueError("a trade bill has a header, details and a summary")
    header = {name.strip(): i for i, name in enumerate(lines[0].split(","))}

    def fields(line: str) -> list[str]:
        if not line.startswith("`"):
            raise ValueError(f"not a bill line: {line[:40]!r}")
        return [f.strip() for f in line[1:].split(",`")]

    def column(*names: str) -> int:
        for name in names:
            if name in header:
                return header[name]
        raise ValueError(f"the bill has no column {names[0]}")

    at, state = column("交易时间"), column("交易状态")
    transaction, out_trade = column("微信订单号"), column("商户订单号")
    amount = column("订单金额", "应结订单金额")
    refund_id, out_refund = column("微信退款单号"), column("商户退款单号")
    refund_amount = column("申请退款金额", "退款金额")
    result: list[StatementLine] = []
    details = 0
    index = 1
    while index < len(lines) and lines[index].startswith("`"):
        row = fields(lines[index])
        if len(row) != len(header):
            raise ValueError(f"line {index + 1}: {len(row)} fields, the header has {len(header)}")
        details += 1
        when = datetime.strptime(row[at], "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
        if row[state] == "SUCCESS":
            result.append(StatementLine("payment", row[out_trade], row[transaction],
                                        yuan_to_fen(row[amount]), when))  # fmt: skip
        elif row[state] == "REFUND":
            result.append(StatementLine("refund", row[out_trade], row[transaction],
                                        yuan_to_fen(row[refund_amount]), when,
                                        out_refund_no=row[out_refund],
                                        refund_id=row[refund_id]))  # fmt: skip
        index += 1
    if index + 2 != len(lines) or not lines[index].startswith("总交易单数"):
        raise ValueError("the bill's summary is missing or not last")
    if int(fields(lines[index + 1])[0]) != details:
        raise ValueError("the bill's summary does not count its detail lines")
    return result


def _as_trade_state(text: object) -> TradeState:
    if not isinstance(text, str) or text not in TRADE_STATES:
        raise GatewayError(f"unknown trade_state {text!r}")
    return TRADE_STATES[text]


class WechatPayGateway:
    """:class:`~donation.domain.payments.PaymentGateway` for WeChat Pay (native and H5)."""

    channel: PaymentChannel = "wechat_pay"
    scenes: frozenset[PayScene] = frozenset({"native", "h5"})

    def __init__(
        self,
        config: WechatPayConfig,
        *,
        client: httpx.AsyncClient | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self._base = config.base_url.rstrip("/")
        self._client = client or httpx.AsyncClient(timeout=config.timeout_s)
        self._owns_client = client is None
        self._now = now
        self._certificates: dict[str, rsa.RSAPublicKey] = {}
        self._refreshed_at: float | None = None
        self._refresh_lock = asyncio.Lock()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> WechatPayGateway:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # keys
    def _known_key(self, serial: str) -> rsa.RSAPublicKey | None:
        if self.config.public_key_id is not None and serial == self.config.public_key_id:
            return self.config.public_key
        return self._certificates.get(serial.upper())

    async def _key(self, serial: str) -> rsa.RSAPublicKey | None:
        key = self._known_key(serial)
        if key is not None or not self.config.platform_certificates:
            return key
        async with self._refresh_lock:
            key = self._known_key(serial)
            recent = self._refreshed_at is not None and (
                time.monotonic() - self._refreshed_at < CERTIFICATE_REFETCH_S
            )
            if key is None and not recent:
                await self.refresh_certificates()
                key = self._known_key(serial)
        return key

    async def refresh_certificates(self) -> None:
        """GET /v3/certificates: decrypt each one, keep those valid now (and issued by the
        configured CA); the answer is verified with them, or with a key we knew."""
        response = await self._send("GET", "/v3/certificates", None)
        if response.status_code != 200:
            await self._verified(response, {})  # raises the refusal or unavailability
        try:
            found: dict[str, rsa.RSAPublicKey] = {}
            for item in json.loads(response.content)["data"]:
                sealed = item["encrypt_certificate"]
                pem = crypto.decrypt(
                    self.config.apiv3_key,
                    sealed["nonce"],
                    sealed.get("associated_data", ""),
                    sealed["ciphertext"],
                )
                cert = x509.load_pem_x509_certificate(pem)
                key = crypto.certificate_key(cert, at=self._now(), issuer=self.config.platform_ca)
                found[crypto.certificate_serial(cert)] = key
        except (ValueError, KeyError, TypeError) as exc:
            raise ResponseNotVerified(f"/v3/certificates: {exc}") from exc
        await self._verified(response, found)
        self._certificates.update(found)
        self._refreshed_at = time.monotonic()  # a failed fetch may be tried again at once

    # HTTP
    async def _send(
        self, method: str, url: str, payload: Mapping[str, Any] | None
    ) -> httpx.Response:
        """One signed request; ``url`` is a path on the base URL or an absolute URL."""
        target = url if url.startswith(("http://", "https://")) else self._base + url
        parts = urlsplit(target)
        signed_url = parts.path + (f"?{parts.query}" if parts.query else "")
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        headers = {
            "Authorization": crypto.authorization(
                mchid=self.config.mchid,
                serial_no=self.config.merchant_serial,
                key=self.config.merchant_key,
                method=method,
                url=signed_url,
                body=body,
                timestamp=str(int(self._now().timestamp())),
                nonce=crypto.new_nonce(),
            ),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            return await within(
                self._client.request(method, target, content=body.encode("utf-8"), headers=headers),
                self.config.timeout_s,
            )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise GatewayUnavailable(f"{method} {parts.path}: {type(exc).__name__}: {exc}") from exc

    def _signature_ok(
        self, headers: Mapping[str, str], body: bytes, key: rsa.RSAPublicKey | None
    ) -> str | None:
        """Why an answer's signature does not hold (None: it holds)."""
        if key is None:
            return f"unknown Wechatpay-Serial {headers.get('wechatpay-serial')!r}"
        try:
            stamp = datetime.fromtimestamp(int(headers["wechatpay-timestamp"]), UTC)
        except (KeyError, ValueError, OverflowError):
            return "Wechatpay-Timestamp missing or malformed"
        if abs(self._now() - stamp) > MAX_SKEW:
            return f"Wechatpay-Timestamp {stamp.isoformat()} is more than 5 minutes off"
        message = crypto.answer_message(
            headers["wechatpay-timestamp"], headers.get("wechatpay-nonce", ""), body
        )
        if not crypto.verify(key, message, headers.get("wechatpay-signature", "")):
            return "Wechatpay-Signature does not verify"
        return None

    async def _verified(
        self, response: httpx.Response, keys: Mapping[str, rsa.RSAPublicKey] | None = None
    ) -> Any:
        """The JSON of a verified 2xx answer (None when empty); raises otherwise."""
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status >= 500 or status == 429:
            raise GatewayUnavailable(f"{where}: HTTP {status}")
        headers = {k.lower(): v for k, v in response.headers.items()}
        signed = all(h in headers for h in NOTIFY_HEADERS)
        if signed or status < 400:
            serial = headers.get("wechatpay-serial", "")
            if keys is None:
                key = await self._key(serial)
            else:  # the certificates' own answer: no refetch from within the refetch
                key = keys.get(serial.upper()) or self._known_key(serial)
            problem = self._signature_ok(headers, response.content, key)
            if problem is not None:
                raise ResponseNotVerified(f"{where} (HTTP {status}): {problem}")
        try:
            data = json.loads(response.content) if response.content else None
        except ValueError as exc:
            raise GatewayError(f"{where}: HTTP {status}, not JSON") from exc
        if status >= 400:
            if not isinstance(data, dict):
                raise GatewayError(f"{where}: HTTP {status} without an error body")
            raise GatewayRefused(str(data.get("code", status)), str(data.get("message", "")))
        if status not in (200, 204):
            raise GatewayError(f"{where}: unexpected HTTP {status}")
        return data

    async def _call(self, method: str, url: str, payload: Mapping[str, Any] | None = None) -> Any:
        return await self._verified(await self._send(method, url, payload))

    # orders
    async def create_order(self, order: OrderRequest) -> CreatedOrder:
        if order.scene not in self.scenes:
            raise ValueError(f"WeChat Pay has no scene {order.scene!r}")
        if order.expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        body: dict[str, Any] = {
            "appid": self.config.appid,
            "mchid": self.config.mchid,
            "description": order.description,
            "out_trade_no": order.out_trade_no,
            "time_expire": order.expires_at.astimezone(SHANGHAI).isoformat(timespec="seconds"),
            "notify_url": order.notify_url,
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        }
        if order.scene == "native":
            data = await self._call("POST", "/v3/pay/transactions/native", body)
            return CreatedOrder(pay_url=self._text(data, "code_url"), show_as_qr=True)
        body["scene_info"] = {"payer_client_ip": order.client_ip, "h5_info": {"type": "Wap"}}
        data = await self._call("POST", "/v3/pay/transactions/h5", body)
        url = self._text(data, "h5_url")
        if order.return_url:
            url += ("&" if "?" in url else "?") + "redirect_url=" + quote(order.return_url, safe="")
        return CreatedOrder(pay_url=url, show_as_qr=False)

    @staticmethod
    def _text(data: Any, name: str) -> str:
        value = data.get(name) if isinstance(data, dict) else None
        if not isinstance(value, str) or not value:
            raise GatewayError(f"the answer has no {name}")
        return value

    async def query_order(self, out_trade_no: str) -> GatewayPayment:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}"
        try:
            data = await self._call("GET", f"{path}?mchid={quote(self.config.mchid, safe='')}")
        except GatewayRefused as exc:
            if exc.code == "ORDER_NOT_EXIST":
                return GatewayPayment(self.channel, out_trade_no, TradeState.NOT_FOUND)
            raise
        return self._payment(data, out_trade_no)

    def _payment(self, data: Any, out_trade_no: str | None) -> GatewayPayment:
        if not isinstance(data, dict):
            raise GatewayError("a transaction is a JSON object")
        if data.get("mchid") != self.config.mchid or data.get("appid") != self.config.appid:
            raise GatewayError("the transaction is of another merchant or app")
        if out_trade_no is not None and data.get("out_trade_no") != out_trade_no:
            raise GatewayError("the transaction is of another order")
        amount = data.get("amount") or {}
        try:
            paid_at = _rfc3339(data["success_time"]) if data.get("success_time") else None
        except ValueError as exc:
            raise GatewayError(f"success_time: {exc}") from exc
        total = amount.get("total")
        return GatewayPayment(
            channel=self.channel,
            out_trade_no=str(data["out_trade_no"]),
            state=_as_trade_state(data.get("trade_state")),
            transaction_id=data.get("transaction_id") or None,
            amount_fen=total if isinstance(total, int) else None,
            currency=str(amount.get("currency") or "CNY"),
            paid_at=paid_at,
        )

    async def close_order(self, out_trade_no: str) -> None:
        path = f"/v3/pay/transactions/out-trade-no/{quote(out_trade_no, safe='')}/close"
        await self._call("POST", path, {"mchid": self.config.mchid})

    # refunds
    async def refund(self, request: RefundRequest) -> GatewayRefund:
        body: dict[str, Any] = {
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "amount": {"refund": request.refund_fen, "total": request.total_fen, "currency": "CNY"},
        }
        if request.reason:
            body["reason"] = request.reason
        if request.notify_url:
            body["notify_url"] = request.notify_url
        data = await self._call("POST", "/v3/refund/domestic/refunds", body)
        return self._refund(data, request.out_trade_no, "status")

    async def query_refund(self, out_trade_no: str, out_refund_no: str) -> GatewayRefund:
        data = await self._call(
            "GET", f"/v3/refund/domestic/refunds/{quote(out_refund_no, safe='')}"
        )
        return self._refund(data, out_trade_no, "status")

    def _refund(self, data: Any, out_trade_no: str, status_field: str) -> GatewayRefund:
        if not isinstance(data, dict) or data.get("out_trade_no") != out_trade_no:
            raise GatewayError("the refund is not of this order")
        state = REFUND_STATES.get(str(data.get(status_field)))
        refund = (data.get("amount") or {}).get("refund")
        if state is None or not isinstance(refund, int):
            raise GatewayError(f"refund {data.get('out_refund_no')!r}: no status or amount")
        try:
            done = _rfc3339(data["success_time"]) if data.get("success_time") else None
        except ValueError as exc:
            raise GatewayError(f"success_time: {exc}") from exc
        return GatewayRefund(
            channel=self.channel,
            out_trade_no=out_trade_no,
            out_refund_no=str(data["out_refund_no"]),
            state=state,
            refund_fen=refund,
            refund_id=data.get("refund_id") or None,
            succeeded_at=done,
        )

    # statements
    async def statement(self, day: date) -> list[StatementLine]:
        data = await self._call("GET", f"/v3/bill/tradebill?bill_date={day:%Y-%m-%d}&bill_type=ALL")
        url, hash_type = self._text(data, "download_url"), self._text(data, "hash_type")
        expected = self._text(data, "hash_value").lower()
        if hash_type.upper() != "SHA1":
            raise GatewayError(f"unknown hash_type {hash_type!r}")
        base, link = urlsplit(self._base), urlsplit(url)
        if (link.scheme, link.netloc) != (base.scheme, base.netloc):
            raise GatewayError(f"the bill is offered on another host: {link.netloc}")
        response = await self._send("GET", url, None)
        if response.status_code != 200:
            await self._verified(response)
            raise GatewayError(f"bill download: HTTP {response.status_code}")
        digest = hashlib.sha1(response.content, usedforsecurity=False).hexdigest()
        if digest != expected:
            raise ResponseNotVerified(f"the bill's SHA1 is {digest}, the answer said {expected}")
        try:
            return parse_tradebill(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise GatewayError(f"the bill of {day}: {exc}") from exc

    # notifications
    async def verify_notification(self, headers: Mapping[str, str], body: bytes) -> Notification:
        h = {k.lower(): v for k, v in headers.items()}
        missing = [name for name in NOTIFY_HEADERS if not h.get(name)]
        if missing:
            raise NotificationRejected("malformed", f"headers missing: {', '.join(missing)}")
        if h["wechatpay-signature"].startswith(crypto.SIGNTEST_PREFIX):
            raise NotificationRejected("signature", "WeChat Pay's signature probe (SIGNTEST)")
        try:
            stamp = datetime.fromtimestamp(int(h["wechatpay-timestamp"]), UTC)
        except (ValueError, OverflowError) as exc:
            raise NotificationRejected("malformed", "Wechatpay-Timestamp is no number") from exc
        if abs(self._now() - stamp) > MAX_SKEW:
            raise NotificationRejected("timestamp", f"{stamp.isoformat()} is over 5 minutes off")
        try:
            key = await self._key(h["wechatpay-serial"])
        except GatewayError as exc:
            raise NotificationRejected("serial", f"certificates unavailable: {exc}") from exc
        if key is None:
            raise NotificationRejected("serial", f"unknown serial {h['wechatpay-serial']!r}")
        message = crypto.answer_message(h["wechatpay-timestamp"], h["wechatpay-nonce"], body)
        if not crypto.verify(key, message, h["wechatpay-signature"]):
            raise NotificationRejected("signature", "Wechatpay-Signature does not verify")
        try:
            envelope = json.loads(body)
            event_type = envelope["event_type"]
            resource = envelope["resource"]
        except (ValueError, KeyError, TypeError) as exc:
            raise NotificationRejected("malformed", f"not a notification: {exc}") from exc
        if event_type not in EVENTS:
            raise NotificationRejected("event_type", f"unexpected event_type {event_type!r}")
        try:
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise crypto.DecryptFailed(f"algorithm {resource.get('algorithm')!r}")
            plain = crypto.decrypt(
                self.config.apiv3_key,
                str(resource["nonce"]),
                str(resource.get("associated_data") or ""),
                str(resource["ciphertext"]),
            )
            data = json.loads(plain)
        except (crypto.DecryptFailed, KeyError, AttributeError, ValueError) as exc:
            raise NotificationRejected("decrypt", str(exc)) from exc
        if not isinstance(data, dict):
            raise NotificationRejected("malformed", "the resource is no JSON object")
        if data.get("mchid") != self.config.mchid:
            raise NotificationRejected("merchant", f"mchid {data.get('mchid')!r} is not ours")
        if EVENTS[event_type] == "transaction":
            if data.get("appid") != self.config.appid:
                raise NotificationRejected("merchant", f"appid {data.get('appid')!r} not ours")
            try:
                return self._payment(data, None)
            except (GatewayError, KeyError) as exc:
                raise NotificationRejected("malformed", str(exc)) from exc
        try:
            return self._refund(data, str(data.get("out_trade_no")), "refund_status")
        except (GatewayError, KeyError) as exc:
            raise NotificationRejected("malformed", str(exc)) from exc

    def acknowledgement(self) -> GatewayAnswer:
        return GatewayAnswer(status_code=204, body=b"", media_type="application/json")

    def rejection(self, message: str) -> GatewayAnswer:
        body = json.dumps({"code": "FAIL", "message": message}, ensure_ascii=False)
        return GatewayAnswer(
            status_code=500, body=body.encode("utf-8"), media_type="application/json"
        )
