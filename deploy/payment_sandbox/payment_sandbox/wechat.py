"""WeChat Pay API v3: signed JSON requests, signed responses, amounts in fen."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from datetime import date
from typing import TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import bills, clock
from .core import REFUND_DELAY_S, Sandbox, wechat_order_state
from .crypto import aes_gcm_encrypt, random_text, verify
from .store import Doc

AUTH_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')
MAX_SKEW_S = 300
M = TypeVar("M", bound=BaseModel)


class Amount(BaseModel):
    model_config = ConfigDict(extra="ignore")
    total: int = Field(ge=1)
    currency: str = "CNY"


class H5Info(BaseModel):
    type: str


class SceneInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    payer_client_ip: str = Field(min_length=1)
    h5_info: H5Info | None = None


class Prepay(BaseModel):
    model_config = ConfigDict(extra="ignore")
    appid: str = Field(min_length=1, max_length=32)
    mchid: str = Field(min_length=1, max_length=32)
    description: str = Field(min_length=1, max_length=127)
    out_trade_no: str = Field(min_length=6, max_length=32, pattern=r"^[0-9A-Za-z_\-|*]+$")
    time_expire: str | None = None
    attach: str | None = Field(default=None, max_length=128)
    notify_url: str = Field(min_length=1, max_length=256, pattern=r"^https?://")
    amount: Amount
    scene_info: SceneInfo | None = None


class RefundAmount(BaseModel):
    model_config = ConfigDict(extra="ignore")
    refund: int = Field(ge=1)
    total: int = Field(ge=1)
    currency: str = "CNY"


class RefundRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    out_trade_no: str | None = None
    transaction_id: str | None = None
    out_refund_no: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(default=None, max_length=80)
    notify_url: str | None = Field(default=None, pattern=r"^https?://")
    amount: RefundAmount


class Close(BaseModel):
    mchid: str


class WechatError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def router(sandbox: Sandbox) -> APIRouter:
    api = APIRouter()
    keys = sandbox.keys

    def signed(status: int, payload: Doc | None) -> Response:
        body = "" if payload is None else json.dumps(payload, ensure_ascii=False)
        headers = sandbox.wechat_headers(body) | {"Request-ID": str(uuid.uuid4())}
        headers.pop("Wechatpay-Signature-Type")
        return Response(
            content=body.encode("utf-8"),
            status_code=status,
            headers=headers,
            media_type=None if payload is None else "application/json",
        )

    def error(exc: WechatError) -> Response:
        return signed(exc.status, {"code": exc.code, "message": exc.message})

    async def authenticate(request: Request) -> str:
        """Verify the merchant's Authorization header; returns the body text."""
        body = (await request.body()).decode("utf-8", errors="replace")
        header = request.headers.get("Authorization", "")
        schema, _, rest = header.partition(" ")
        if schema != AUTH_SCHEMA:
            raise WechatError(401, "SIGN_ERROR", f"Authorization 认证类型不是 {AUTH_SCHEMA}")
        fields = dict(AUTH_FIELD.findall(rest))
        missing = [
            k for k in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
            if not fields.get(k)
        ]  # fmt: skip
        if missing:
            raise WechatError(401, "SIGN_ERROR", f"Authorization 缺少字段 {','.join(missing)}")
        if fields["mchid"] != keys.mchid:
            raise WechatError(401, "SIGN_ERROR", "商户号与认证信息不匹配")
        if fields["serial_no"].upper() != keys.merchant_serial:
            raise WechatError(401, "SIGN_ERROR", "商户证书序列号有误，请确认证书序列号")
        try:
            timestamp = int(fields["timestamp"])
        except ValueError as exc:
            raise WechatError(401, "SIGN_ERROR", "timestamp 格式错误") from exc
        if abs(clock.now() - timestamp) > MAX_SKEW_S:
            raise WechatError(401, "SIGN_ERROR", "请求时间戳已过期（超过 5 分钟）")
        path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = path.decode("latin-1") + (("?" + query.decode("latin-1")) if query else "")
        message = f"{request.method}\n{url}\n{timestamp}\n{fields['nonce_str']}\n{body}\n"
        if not verify(keys.merchant_public, message, fields["signature"]):
            raise WechatError(401, "SIGN_ERROR", "签名错误，请检查后再试")
        return body

    def parse(model: type[M], body: str) -> M:
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise WechatError(400, "PARAM_ERROR", f"输入源“/body/{where}”映射到值字段“{where}”"
                              f"字符串规则校验失败，{first['msg']}") from exc  # fmt: skip

    async def prepay(request: Request, trade_type: str) -> Response:
        try:
            body = await authenticate(request)
            req = parse(Prepay, body)
            if req.mchid != keys.mchid or req.appid != keys.appid:
                raise WechatError(400, "PARAM_ERROR", "appid和mch_id不匹配")
            if req.amount.currency != "CNY":
                raise WechatError(400, "PARAM_ERROR", "货币类型错误，仅支持 CNY")
            if trade_type == "MWEB" and (req.scene_info is None or req.scene_info.h5_info is None):
                raise WechatError(400, "PARAM_ERROR", "H5 支付需要 scene_info.h5_info")
            now = clock.now()
            if req.time_expire is None:
                expire = now + 2 * 3600
            else:
                try:
                    expire = clock.parse_rfc3339(req.time_expire)
                except ValueError as exc:
                    raise WechatError(400, "PARAM_ERROR", "time_expire 格式错误") from exc
            params = req.model_dump(exclude_none=True)
            existing = sandbox.store.order("wechat", req.out_trade_no)
            if existing is not None:
                state = wechat_order_state(existing, now)
                if state in ("SUCCESS", "REFUND"):
                    raise WechatError(400, "ORDERPAID", "该订单已支付")
                if state == "CLOSED":
                    raise WechatError(400, "ORDER_CLOSED", "订单已关闭")
                if existing["params"] != params or existing["trade_type"] != trade_type:
                    raise WechatError(400, "INVALID_REQUEST", "201 商户订单号重复")
                return signed(200, answer(existing))
            if expire <= now:
                raise WechatError(400, "PARAM_ERROR", "time_expire 已过期")
            token, prepay_id = random_text(11), "wx" + f"{int(now)}" + secrets.token_hex(12)
            order: Doc = {
                "out_trade_no": req.out_trade_no,
                "trade_type": trade_type,
                "appid": req.appid,
                "mchid": req.mchid,
                "description": req.description,
                "attach": req.attach,
                "notify_url": req.notify_url,
                "total": req.amount.total,
                "currency": req.amount.currency,
                "time_expire_ts": expire,
                "created_ts": now,
                "params": params,
                "pr": token,
                "prepay_id": prepay_id,
                "trade_state": "NOTPAY",
                "transaction_id": None,
            }
            sandbox.store.put_order("wechat", order)
            sandbox.store.put_token(token, "wechat", req.out_trade_no)
            sandbox.store.put_token(prepay_id, "wechat", req.out_trade_no)
            return signed(200, answer(order))
        except WechatError as exc:
            return error(exc)

    def answer(order: Doc) -> Doc:
        if order["trade_type"] == "NATIVE":
            return {"code_url": f"weixin://wxpay/bizpayurl?pr={order['pr']}"}
        return {"h5_url": f"{sandbox.public_url}/pay/wechat/h5?prepay_id={order['prepay_id']}"}

    @api.post("/v3/pay/transactions/native")
    async def native(request: Request) -> Response:
        return await prepay(request, "NATIVE")

    @api.post("/v3/pay/transactions/h5")
    async def h5(request: Request) -> Response:
        return await prepay(request, "MWEB")

    def query_order(request: Request, order: Doc | None) -> Response:
        if request.query_params.get("mchid") != keys.mchid:
            raise WechatError(400, "PARAM_ERROR", "mchid 参数缺失或与认证信息不匹配")
        if order is None:
            raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
        return signed(200, sandbox.wechat_transaction(order))

    @api.get("/v3/pay/transactions/out-trade-no/{out_trade_no}")
    async def by_out_trade_no(out_trade_no: str, request: Request) -> Response:
        try:
            await authenticate(request)
            return query_order(request, sandbox.store.order("wechat", out_trade_no))
        except WechatError as exc:
            return error(exc)

    @api.get("/v3/pay/transactions/id/{transaction_id}")
    async def by_transaction_id(transaction_id: str, request: Request) -> Response:
        try:
            await authenticate(request)
            found = [
                o for o in sandbox.store.orders("wechat") if o["transaction_id"] == transaction_id
            ]
            return query_order(request, found[0] if found else None)
        except WechatError as exc:
            return error(exc)

    @api.post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")
    async def close(out_trade_no: str, request: Request) -> Response:
        try:
            req = parse(Close, await authenticate(request))
            if req.mchid != keys.mchid:
                raise WechatError(400, "PARAM_ERROR", "mchid 与认证信息不匹配")
            order = sandbox.store.order("wechat", out_trade_no)
            if order is None:
                raise WechatError(404, "ORDER_NOT_EXIST", "订单不存在")
            if wechat_order_state(order, clock.now()) in ("SUCCESS", "REFUND"):
                raise WechatError(400, "ORDERPAID", "订单已支付，不能关闭")
            order.update(trade_state="CLOSED")
            sandbox.store.put_order("wechat", order)
            return signed(204, None)
        except WechatError as exc:
            return error(exc)

    @api.post("/v3/refund/domestic/refunds")
    async def refund(request: Request) -> Response:
        try:
            req = parse(RefundRequest, await authenticate(request))
            order: Doc | None = None
            if req.out_trade_no:
                order = sandbox.store.order("wechat", req.out_trade_no)
            elif req.transaction_id:
                found = [
                    o for o in sandbox.store.orders("wechat")
                    if o["transaction_id"] == req.transaction_id
                ]  # fmt: skip
                order = found[0] if found else None
            else:
                raise WechatError(400, "PARAM_ERROR", "out_trade_no 与 transaction_id 必填其一")
            if order is None:
                raise WechatError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
            params = req.model_dump(exclude_none=True)
            existing = sandbox.store.refund("wechat", req.out_refund_no)
            if existing is not None:
                if existing["out_trade_no"] != order["out_trade_no"] or (
                    existing["refund"] != req.amount.refund
                ):
                    raise WechatError(400, "INVALID_REQUEST", "商户退款单号重复，且参数不一致")
                return signed(200, sandbox.wechat_refund_view(existing))
            if order["transaction_id"] is None:
                raise WechatError(400, "INVALID_REQUEST", "订单未支付，不能退款")
            if req.amount.total != order["total"]:
                raise WechatError(400, "PARAM_ERROR", "订单金额与原订单金额不一致")
            refunded = sum(
                r["refund"] for r in sandbox.store.refunds("wechat", order["out_trade_no"])
            )
            if req.amount.refund > order["total"] - refunded:
                raise WechatError(400, "NOT_ENOUGH", "退款金额超过订单可退金额")
            now = clock.now()
            doc: Doc = {
                "refund_id": f"50{clock.shanghai_date(now):%Y%m%d}{secrets.randbelow(10**20):020d}",
                "out_refund_no": req.out_refund_no,
                "out_trade_no": order["out_trade_no"],
                "transaction_id": order["transaction_id"],
                "reason": req.reason,
                "notify_url": req.notify_url,
                "refund": req.amount.refund,
                "total": order["total"],
                "currency": order["currency"],
                "status": "PROCESSING",
                "create_ts": now,
                "succeed_at": now + REFUND_DELAY_S * sandbox.config.retry_scale,
                "success_ts": None,
                "params": params,
            }
            sandbox.store.put_refund("wechat", req.out_refund_no, doc)
            order["trade_state"] = "REFUND"
            sandbox.store.put_order("wechat", order)
            sandbox.wake()
            return signed(200, sandbox.wechat_refund_view(doc))
        except WechatError as exc:
            return error(exc)

    @api.get("/v3/refund/domestic/refunds/{out_refund_no}")
    async def refund_query(out_refund_no: str, request: Request) -> Response:
        try:
            await authenticate(request)
            found = sandbox.store.refund("wechat", out_refund_no)
            if found is None:
                raise WechatError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
            return signed(200, sandbox.wechat_refund_view(found))
        except WechatError as exc:
            return error(exc)

    @api.get("/v3/bill/tradebill")
    async def tradebill(request: Request) -> Response:
        try:
            await authenticate(request)
            try:
                day = date.fromisoformat(request.query_params.get("bill_date", ""))
            except ValueError as exc:
                raise WechatError(400, "PARAM_ERROR", "bill_date 格式应为 YYYY-MM-DD") from exc
            bill_type = request.query_params.get("bill_type", "ALL")
            if bill_type not in ("ALL", "SUCCESS", "REFUND"):
                raise WechatError(400, "PARAM_ERROR", "bill_type 取值 ALL|SUCCESS|REFUND")
            if day > clock.today():
                raise WechatError(400, "NO_STATEMENT_EXIST", "账单文件不存在")
            content = bills.wechat_tradebill(sandbox, day, bill_type)
            token = secrets.token_urlsafe(24)
            sandbox.store.put_file(token, content)
            return signed(
                200,
                {
                    "hash_type": "SHA1",
                    "hash_value": hashlib.sha1(content).hexdigest(),  # noqa: S324 (the protocol's)
                    "download_url": f"{sandbox.public_url}/v3/billdownload/file?token={token}",
                },
            )
        except WechatError as exc:
            return error(exc)

    @api.get("/v3/billdownload/file")
    async def billdownload(request: Request) -> Response:
        # Like the real one: the request is signed, the answer (a file) is not.
        try:
            await authenticate(request)
            content = sandbox.store.file(request.query_params.get("token", ""))
            if content is None:
                raise WechatError(404, "RESOURCE_NOT_EXISTS", "账单文件不存在或下载地址已失效")
            return Response(content, media_type="text/plain; charset=utf-8")
        except WechatError as exc:
            return error(exc)

    @api.get("/v3/certificates")
    async def certificates(request: Request) -> Response:
        try:
            await authenticate(request)
            cert = keys.platform_cert
            nonce = random_text(12)
            return signed(
                200,
                {
                    "data": [
                        {
                            "serial_no": keys.platform_serial,
                            "effective_time": clock.rfc3339(cert.not_valid_before_utc.timestamp()),
                            "expire_time": clock.rfc3339(cert.not_valid_after_utc.timestamp()),
                            "encrypt_certificate": {
                                "algorithm": "AEAD_AES_256_GCM",
                                "nonce": nonce,
                                "associated_data": "certificate",
                                "ciphertext": aes_gcm_encrypt(
                                    keys.apiv3_key, nonce, "certificate", keys.platform_cert_pem
                                ),
                            },
                        }
                    ]
                },
            )
        except WechatError as exc:
            return error(exc)

    return api
