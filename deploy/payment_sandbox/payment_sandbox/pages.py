"""The payer's pages (zh-CN, phone-sized, inline CSS, no outside assets)."""

from __future__ import annotations

from html import escape
from typing import Any

from .core import fen_to_yuan

STYLE = """
body{margin:0;background:#f2f2f2;color:#222;
 font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif}
header{padding:14px 16px;color:#fff;font-size:17px}
.wx{background:#07c160}.ali{background:#1677ff}
main{max-width:420px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:8px;padding:20px;text-align:center}
.amount{font-size:36px;font-weight:600;margin:12px 0}
.desc{color:#666;margin-bottom:20px;word-break:break-all}
button{width:100%;padding:13px;border:0;border-radius:6px;color:#fff;font-size:17px}
.note{color:#999;font-size:12px;margin-top:16px;text-align:center}
a{display:block;margin-top:14px;color:#576b95}
"""


def _page(title: str, colour: str, inner: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<header class="{colour}">{escape(title)}</header><main>{inner}'
        '<p class="note">支付沙箱：不会发生真实扣款</p></main></body></html>'
    )


def message(title: str, text: str, colour: str = "wx") -> str:
    return _page(title, colour, f'<div class="card"><p>{escape(text)}</p></div>')


def wechat_pay(order: dict[str, Any], state: str, *, token: str, redirect_url: str) -> str:
    amount = f"￥{fen_to_yuan(order['total'])}"
    if state != "NOTPAY":
        text = {"SUCCESS": "该订单已支付", "REFUND": "该订单已支付", "CLOSED": "订单已关闭"}[state]
        return message("微信支付（沙箱）", text)
    form = (
        '<form method="post" action="/pay/wechat/confirm">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<input type="hidden" name="redirect_url" value="{escape(redirect_url)}">'
        '<button class="wx" type="submit">确认支付</button></form>'
    )
    return _page(
        "微信支付（沙箱）",
        "wx",
        f'<div class="card"><div class="desc">{escape(order["description"])}</div>'
        f'<div class="amount">{escape(amount)}</div>'
        f'<div class="desc">收款方：商户号 {escape(order["mchid"])}</div>{form}</div>',
    )


def alipay_cashier(order: dict[str, Any]) -> str:
    back = order.get("quit_url") or order.get("return_url") or ""
    cancel = (
        f'<a href="{escape(back)}">取消</a>'
        if back
        else '<a href="javascript:history.back()">取消</a>'
    )
    return _page(
        "支付宝（沙箱）收银台",
        "ali",
        f'<div class="card"><div class="desc">{escape(order["subject"])}</div>'
        f'<div class="amount">￥{escape(order["total_amount"])}</div>'
        '<form method="post" action="/pay/alipay/confirm">'
        f'<input type="hidden" name="out_trade_no" value="{escape(order["out_trade_no"])}">'
        f'<button class="ali" type="submit">确认付款</button></form>{cancel}</div>',
    )


def alipay_error(fields: dict[str, str]) -> str:
    return _page(
        "支付宝（沙箱）收银台",
        "ali",
        '<div class="card"><p>抱歉，无法完成付款</p>'
        f'<p class="desc">错误代码：{escape(fields["sub_code"])}<br>{escape(fields["sub_msg"])}</p>'
        "</div>",
    )
