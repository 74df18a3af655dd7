"""Alipay's open API gateway (``/gateway.do``): RSA2-signed form parameters, amounts in yuan."""

from __future__ import annotations

import json
import re
import secrets
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from . import bills, clock, pages
from .core import Sandbox, fen_to_yuan, yuan_to_fen
from .crypto import random_text, verify
from .store import Doc

PAGE_METHODS = {
    "alipay.trade.wap.pay": "QUICK_WAP_WAY",
    "alipay.trade.page.pay": "FAST_INSTANT_TRADE_PAY",
}
AMOUNT = re.compile(r"^\d{1,8}(\.\d{1,2})?$")


class AlipayError(Exception):
    def __init__(self, code: str, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_msg)
        self.fields = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def invalid(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40002", "Invalid Arguments", sub_code, sub_msg)


def business(sub_code: str, sub_msg: str) -> AlipayError:
    return AlipayError("40004", "Business Failed", sub_code, sub_msg)


def parse_amount(text: Any) -> int:
    if not isinstance(text, str | int | float) or not AMOUNT.match(str(text)):
        raise invalid("isv.invalid-parameter", "金额格式错误")
    try:
        fen = yuan_to_fen(str(text))
    except InvalidOperation as exc:
        raise invalid("isv.invalid-parameter", "金额格式错误") from exc
    if fen < 1 or Decimal(str(text)) > Decimal("100000000"):
        raise invalid("isv.invalid-parameter", "金额超出范围 [0.01,100000000]")
    return fen


def router(sandbox: Sandbox) -> APIRouter:
    api = APIRouter()
    keys = sandbox.keys

    def respond(method: str, fields: Doc) -> Response:
        key = method.replace(".", "_") + "_response"
        inner = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        signature = sandbox.alipay_sign_text(inner)
        body = f'{{"{key}":{inner},"sign":"{signature}"}}'
        return Response(body.encode("utf-8"), media_type="application/json;charset=utf-8")

    def check(params: dict[str, str]) -> Doc:
        """Common parameters and the app's RSA2 signature; returns biz_content."""
        if params.get("app_id") != keys.alipay_app_id:
            raise invalid("isv.invalid-app-id", "无效的AppID参数")
        for name in ("method", "charset", "sign_type", "sign", "timestamp", "version"):
            if not params.get(name):
                raise invalid("isv.missing-" + name.replace("_", "-"), f"缺少{name}参数")
        if params["sign_type"] != "RSA2":
            raise invalid("isv.invalid-signature-type", "无效的签名类型")
        if params["charset"].lower() != "utf-8":
            raise invalid("isv.invalid-charset", "字符集错误")
        if params.get("format", "JSON").upper() != "JSON":
            raise invalid("isv.invalid-format", "参数format无效")
        try:
            clock.parse_alipay_time(params["timestamp"])
        except ValueError as exc:
            raise invalid("isv.invalid-timestamp", "非法的时间戳参数") from exc
        content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")
        if not verify(keys.alipay_app_public, content, params["sign"]):
            raise invalid(
                "isv.invalid-signature", "验签出错，建议检查签名字符串或签名私钥与应用公钥是否匹配"
            )
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except json.JSONDecodeError as exc:
            raise invalid("isv.invalid-parameter", "biz_content 不是合法的 JSON") from exc
        if not isinstance(biz, dict):
            raise invalid("isv.invalid-parameter", "biz_content 不是 JSON 对象")
        return biz

    def required(biz: Doc, *names: str) -> None:
        for name in names:
            if not biz.get(name):
                raise invalid("isv.missing-required-arguments", f"缺少必选参数{name}")

    def trade(biz: Doc) -> Doc:
        if not biz.get("out_trade_no") and not biz.get("trade_no"):
            raise invalid("isv.missing-required-arguments", "out_trade_no 与 trade_no 必填其一")
        order = None
        if biz.get("out_trade_no"):
            order = sandbox.store.order("alipay", str(biz["out_trade_no"]))
        else:
            found = [o for o in sandbox.store.orders("alipay") if o["trade_no"] == biz["trade_no"]]
            order = found[0] if found else None
        if order is None:
            raise business("ACQ.TRADE_NOT_EXIST", "交易不存在")
        return order

    async def params_of(request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    @api.api_route("/gateway.do", methods=["GET", "POST"])
    async def gateway(request: Request) -> Response:
        params = await params_of(request)
        method = params.get("method", "")
        if method in PAGE_METHODS:
            return cashier_entry(method, params)
        handler = HANDLERS.get(method)
        try:
            biz = check(params)
            if handler is None:
                raise invalid("isv.invalid-method", "不存在的方法名")
            return respond(method, {"code": "10000", "msg": "Success"} | handler(biz))
        except AlipayError as exc:
            return respond(method or "error", exc.fields)

    def cashier_entry(method: str, params: dict[str, str]) -> Response:
        try:
            biz = check(params)
            required(biz, "out_trade_no", "total_amount", "subject")
            out_trade_no = str(biz["out_trade_no"])
            total = parse_amount(biz["total_amount"])
            product_code = biz.get("product_code") or PAGE_METHODS[method]
            if product_code != PAGE_METHODS[method]:
                raise invalid("isv.invalid-parameter", "product_code 与接口不匹配")
            now = clock.now()
            expire = now + 15 * 24 * 3600
            if biz.get("time_expire"):
                try:
                    expire = clock.parse_alipay_time(str(biz["time_expire"]))
                except ValueError as exc:
                    raise invalid("isv.invalid-parameter", "time_expire 格式错误") from exc
            signature = {
                "total_amount": fen_to_yuan(total),
                "subject": str(biz["subject"]),
                "time_expire": biz.get("time_expire"),
            }
            order = sandbox.store.order("alipay", out_trade_no)
            if order is None:
                order = {
                    "out_trade_no": out_trade_no,
                    "trade_no": f"{clock.shanghai_date(now):%Y%m%d}22001"
                    + f"{secrets.randbelow(10**15):015d}",
                    "method": method,
                    "product_code": product_code,
                    "subject": str(biz["subject"]),
                    "body": biz.get("body"),
                    "total_amount": fen_to_yuan(total),
                    "passback_params": biz.get("passback_params"),
                    "notify_url": params.get("notify_url"),
                    "return_url": params.get("return_url"),
                    "quit_url": biz.get("quit_url"),
                    "time_expire_ts": expire,
                    "gmt_create_ts": now,
                    "gmt_payment_ts": None,
                    "trade_status": "WAIT_BUYER_PAY",
                    "buyer_id": "2088" + f"{secrets.randbelow(10**12):012d}",
                    "buyer_logon_id": "sbx***@sandbox.com",
                    "identity": signature,
                }
                sandbox.store.put_order("alipay", order)
            elif order["identity"] != signature:
                raise business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
            else:
                order.update(
                    notify_url=params.get("notify_url"), return_url=params.get("return_url")
                )
                sandbox.store.put_order("alipay", order)
            state = sandbox.alipay_state(order, now)
            if state in ("TRADE_SUCCESS", "TRADE_FINISHED"):
                raise business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
            if state == "TRADE_CLOSED":
                raise business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
            return HTMLResponse(pages.alipay_cashier(order))
        except AlipayError as exc:
            return HTMLResponse(pages.alipay_error(exc.fields), status_code=200)

    @api.post("/pay/alipay/confirm")
    async def confirm(request: Request) -> Response:
        form = await request.form()
        out_trade_no = str(form.get("out_trade_no", ""))
        try:
            order = sandbox.pay_alipay(out_trade_no, notify=True)
        except LookupError:
            return HTMLResponse(pages.message("交易不存在", "没有这笔交易。"), status_code=404)
        except ValueError:
            return HTMLResponse(
                pages.message("交易已关闭", "这笔交易已关闭，不能付款。"), status_code=409
            )
        if not order.get("return_url"):
            return HTMLResponse(pages.message("支付成功", f"已付款 ￥{order['total_amount']}"))
        back = {
            "charset": "utf-8",
            "out_trade_no": order["out_trade_no"],
            "method": order["method"] + ".return",
            "total_amount": order["total_amount"],
            "trade_no": order["trade_no"],
            "auth_app_id": keys.alipay_app_id,
            "version": "1.0",
            "app_id": keys.alipay_app_id,
            "sign_type": "RSA2",
            "seller_id": keys.alipay_seller_id,
            "timestamp": clock.alipay_time(clock.now()),
        }
        back["sign"] = sandbox.alipay_sign(back, exclude=("sign", "sign_type"))
        url = order["return_url"]
        return RedirectResponse(
            url + ("&" if "?" in url else "?") + urlencode(back), status_code=303
        )

    def query(biz: Doc) -> Doc:
        order = trade(biz)
        state = sandbox.alipay_state(order, clock.now())
        paid = order.get("gmt_payment_ts") is not None
        fields: Doc = {
            "trade_no": order["trade_no"],
            "out_trade_no": order["out_trade_no"],
            "buyer_logon_id": order["buyer_logon_id"],
            "trade_status": state,
            "total_amount": order["total_amount"],
            "buyer_pay_amount": order["total_amount"] if paid else "0.00",
            "point_amount": "0.00",
            "invoice_amount": order["total_amount"] if paid else "0.00",
            "receipt_amount": order["total_amount"] if paid else "0.00",
            "buyer_user_id": order["buyer_id"],
        }
        if paid:
            fields["send_pay_date"] = clock.alipay_time(order["gmt_payment_ts"])
            fields["fund_bill_list"] = [
                {"amount": order["total_amount"], "fund_channel": "ALIPAYACCOUNT"}
            ]
        return fields

    def close(biz: Doc) -> Doc:
        order = trade(biz)
        if sandbox.alipay_state(order, clock.now()) != "WAIT_BUYER_PAY":
            if order["trade_status"] == "WAIT_BUYER_PAY":  # expired: closes itself
                order["trade_status"] = "TRADE_CLOSED"
                sandbox.store.put_order("alipay", order)
            else:
                raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        order["trade_status"] = "TRADE_CLOSED"
        sandbox.store.put_order("alipay", order)
        return {"trade_no": order["trade_no"], "out_trade_no": order["out_trade_no"]}

    def refund(biz: Doc) -> Doc:
        order = trade(biz)
        required(biz, "refund_amount")
        amount = parse_amount(biz["refund_amount"])
        request_no = str(biz.get("out_request_no") or order["out_trade_no"])
        done = sandbox.store.refunds("alipay", order["out_trade_no"])
        refunded = sum(r["refund_fen"] for r in done)
        answer: Doc = {
            "trade_no": order["trade_no"],
            "out_trade_no": order["out_trade_no"],
            "buyer_logon_id": order["buyer_logon_id"],
            "buyer_user_id": order["buyer_id"],
        }
        previous = [r for r in done if r["out_request_no"] == request_no]
        if previous:  # the same request again: answered, but no money moves a second time
            if previous[0]["refund_fen"] != amount:
                raise business("ACQ.REQUEST_AMOUNT_EXCEED", "请求退款金额与原退款请求不一致")
            return answer | {
                "fund_change": "N",
                "refund_fee": fen_to_yuan(refunded),
                "gmt_refund_pay": clock.alipay_time(previous[0]["gmt_refund_ts"]),
                "send_back_fee": fen_to_yuan(previous[0]["refund_fen"]),
            }
        if order.get("gmt_payment_ts") is None:
            raise business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        total = yuan_to_fen(order["total_amount"])
        if refunded + amount > total:
            raise business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
        now = clock.now()
        sandbox.store.put_refund(
            "alipay",
            f"{order['out_trade_no']}|{request_no}",
            {
                "out_trade_no": order["out_trade_no"],
                "out_request_no": request_no,
                "refund_fen": amount,
                "refund_reason": biz.get("refund_reason"),
                "gmt_refund_ts": now,
            },
        )
        if refunded + amount == total:
            order["trade_status"] = "TRADE_CLOSED"
            sandbox.store.put_order("alipay", order)
        if order.get("notify_url"):  # a refund changes the trade: Alipay notifies it too
            fields = sandbox.alipay_notify_fields(order, now) | {
                "trade_status": order["trade_status"],
                "refund_fee": fen_to_yuan(refunded + amount),
                "gmt_refund": clock.alipay_time(now) + ".000",
                "out_biz_no": request_no,
            }
            fields["sign"] = sandbox.alipay_sign(fields, exclude=("sign", "sign_type"))
            sandbox.store.add_notification(
                "alipay", "refund", order["out_trade_no"], request_no, order["notify_url"], fields
            )
            sandbox.wake()
        return answer | {
            "fund_change": "Y",
            "refund_fee": fen_to_yuan(refunded + amount),
            "gmt_refund_pay": clock.alipay_time(now),
            "send_back_fee": fen_to_yuan(amount),
        }

    def refund_query(biz: Doc) -> Doc:
        order = trade(biz)
        request_no = str(biz.get("out_request_no") or order["out_trade_no"])
        found = sandbox.store.refund("alipay", f"{order['out_trade_no']}|{request_no}")
        answer: Doc = {"trade_no": order["trade_no"], "out_trade_no": order["out_trade_no"]}
        if found is None:  # Alipay answers 10000 with no refund fields when there is none
            return answer
        return answer | {
            "out_request_no": request_no,
            "total_amount": order["total_amount"],
            "refund_amount": fen_to_yuan(found["refund_fen"]),
            "refund_status": "REFUND_SUCCESS",
            "gmt_refund_pay": clock.alipay_time(found["gmt_refund_ts"]),
        }

    def bill_url(biz: Doc) -> Doc:
        required(biz, "bill_type", "bill_date")
        if biz["bill_type"] != "trade":
            raise invalid("isv.invalid-parameter", "bill_type 仅支持 trade")
        try:
            day = date.fromisoformat(str(biz["bill_date"]))
        except ValueError as exc:
            raise invalid("isv.invalid-parameter", "bill_date 格式应为 yyyy-MM-dd") from exc
        if day > clock.today():
            raise business("isp.bill_not_exist", "账单不存在")
        name, content = bills.alipay_tradebill(sandbox, day)
        token = random_text(32)
        sandbox.store.put_file(token, content)
        return {
            "bill_download_url": f"{sandbox.public_url}/alipay/billdownload?fileId={token}"
            f"&downloadFileName={name}&bizDates={day:%Y%m%d}&fileType=csv.zip"
        }

    HANDLERS = {
        "alipay.trade.query": query,
        "alipay.trade.close": close,
        "alipay.trade.refund": refund,
        "alipay.trade.fastpay.refund.query": refund_query,
        "alipay.data.dataservice.bill.downloadurl.query": bill_url,
    }

    @api.get("/alipay/billdownload")
    async def billdownload(request: Request) -> Response:
        content = sandbox.store.file(request.query_params.get("fileId", ""))
        if content is None:
            return Response("账单不存在或下载地址已失效", status_code=404)
        name = request.query_params.get("downloadFileName", "bill.csv.zip")
        return Response(
            content,
            media_type="application/zip",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{name}"},
        )

    return api
