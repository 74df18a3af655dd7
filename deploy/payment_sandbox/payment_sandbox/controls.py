"""The payer's WeChat pages and the test controls (``/sandbox/``), apart from the protocols."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel

from . import clock, pages
from .core import Sandbox, wechat_order_state
from .store import Doc


class PayBody(BaseModel):
    notify: bool = True


class Adjust(BaseModel):
    out_trade_no: str
    amount_fen: int | None = None
    omit: bool = False
    date: str | None = None


def router(sandbox: Sandbox) -> APIRouter:
    api = APIRouter()

    @api.get("/healthz")
    async def healthz() -> Doc:
        return {"status": "ok", "wechat_sign_mode": sandbox.config.wechat_sign_mode}

    def wechat_page(token: str, redirect_url: str) -> Response:
        found = sandbox.store.token(token)
        order = None if found is None else sandbox.store.order("wechat", found[1])
        if order is None:
            return HTMLResponse(pages.message("微信支付（沙箱）", "订单不存在"), status_code=404)
        state = wechat_order_state(order, clock.now())
        return HTMLResponse(pages.wechat_pay(order, state, token=token, redirect_url=redirect_url))

    @api.get("/pay/wechat/scan")
    async def scan(pr: str = "") -> Response:
        return wechat_page(pr, "")

    @api.get("/pay/wechat/h5")
    async def h5(prepay_id: str = "", redirect_url: str = "") -> Response:
        return wechat_page(prepay_id, redirect_url)

    @api.post("/pay/wechat/confirm")
    async def confirm(request: Request) -> Response:
        form = await request.form()
        token, redirect_url = str(form.get("token", "")), str(form.get("redirect_url", ""))
        found = sandbox.store.token(token)
        if found is None:
            return HTMLResponse(pages.message("微信支付（沙箱）", "订单不存在"), status_code=404)
        try:
            order = sandbox.pay_wechat(found[1], notify=True)
        except ValueError:
            return HTMLResponse(pages.message("微信支付（沙箱）", "订单已关闭"), status_code=409)
        if redirect_url and urlparse(redirect_url).scheme in ("http", "https"):
            return RedirectResponse(redirect_url, status_code=303)
        return HTMLResponse(pages.message("支付成功", f"已支付 ￥{order['total'] / 100:.2f}"))

    def gateway(name: str) -> str:
        if name not in ("wechat", "alipay"):
            raise HTTPException(404, "gateway is wechat or alipay")
        return name

    def view(name: str, out_trade_no: str) -> Doc:
        order = sandbox.store.order(name, out_trade_no)
        if order is None:
            raise HTTPException(404, "no such order")
        if name == "wechat":
            state: Any = sandbox.wechat_transaction(order)
        else:
            state = {"trade_status": sandbox.alipay_state(order, clock.now())}
        return {
            "gateway": name,
            "order": order,
            "state": state,
            "refunds": sandbox.store.refunds(name, out_trade_no),
        }

    @api.get("/sandbox/{name}/orders/{out_trade_no}")
    async def order_state(name: str, out_trade_no: str) -> Doc:
        return view(gateway(name), out_trade_no)

    @api.post("/sandbox/{name}/orders/{out_trade_no}/pay")
    async def pay(name: str, out_trade_no: str, body: PayBody | None = None) -> Doc:
        notify = True if body is None else body.notify
        try:
            if gateway(name) == "wechat":
                sandbox.pay_wechat(out_trade_no, notify=notify)
            else:
                sandbox.pay_alipay(out_trade_no, notify=notify)
        except LookupError as exc:
            raise HTTPException(404, "no such order") from exc
        except ValueError as exc:
            raise HTTPException(409, "the order is closed") from exc
        return view(name, out_trade_no)

    @api.post("/sandbox/{name}/orders/{out_trade_no}/renotify")
    async def renotify(name: str, out_trade_no: str) -> Doc:
        if not sandbox.renotify(gateway(name), out_trade_no):
            raise HTTPException(404, "no payment notification for this order")
        return {"queued": True}

    @api.get("/sandbox/notifications")
    async def notifications(out_trade_no: str | None = None) -> JSONResponse:
        return JSONResponse(sandbox.store.deliveries(out_trade_no))

    @api.post("/sandbox/{name}/statement/adjust")
    async def adjust(name: str, body: Adjust) -> Doc:
        sandbox.store.adjust(
            gateway(name), body.out_trade_no, body.date or "", body.amount_fen, body.omit
        )
        return body.model_dump()

    return api
