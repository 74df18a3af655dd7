"""Statements: WeChat Pay's trade bill (CSV, backtick-prefixed) and Alipay's (zip of GBK CSVs)."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from . import clock
from .core import fen_to_yuan, yuan_to_fen

if TYPE_CHECKING:
    from .core import Sandbox

FEE_RATE = Decimal("0.006")

WECHAT_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WECHAT_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)

ALIPAY_HEADER = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def fee_fen(amount_fen: int) -> int:
    """The 0.60% service fee, rounded half up to the fen."""
    return int((Decimal(amount_fen) * FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _wx_line(fields: list[str]) -> str:
    return ",".join("`" + f for f in fields)


def wechat_tradebill(sandbox: Sandbox, day: date, bill_type: str) -> bytes:
    lines = [WECHAT_HEADER]
    count = settled = refunded = fees = ordered = requested = 0
    rows: list[tuple[float, list[str]]] = []
    iso = day.isoformat()
    for order in sandbox.store.orders("wechat"):
        if order.get("transaction_id") is None:
            continue
        amount_fen, omit = sandbox.store.adjustment("wechat", order["out_trade_no"], iso)
        total = order["total"] if amount_fen is None else amount_fen
        if (
            bill_type in ("ALL", "SUCCESS")
            and clock.shanghai_date(order["success_ts"]) == day
            and not omit
        ):
            fee = fee_fen(total)
            rows.append((order["success_ts"], [
                clock.alipay_time(order["success_ts"]), order["appid"], order["mchid"], "0", "",
                order["transaction_id"], order["out_trade_no"], order["openid"],
                order["trade_type"], "SUCCESS", "OTHERS", "CNY", fen_to_yuan(total), "0.00",
                "0", "0", "0.00", "0.00", "", "", order["description"], order.get("attach") or "",
                fen_to_yuan(fee), "0.60%", fen_to_yuan(total), "0.00", "",
            ]))  # fmt: skip
            count, settled, fees, ordered = (
                count + 1, settled + total, fees + fee, ordered + total
            )  # fmt: skip
        if bill_type not in ("ALL", "REFUND"):
            continue
        for refund in sandbox.store.refunds("wechat", order["out_trade_no"]):
            if refund["status"] != "SUCCESS" or clock.shanghai_date(refund["success_ts"]) != day:
                continue
            fee = -fee_fen(refund["refund"])
            rows.append((refund["success_ts"], [
                clock.alipay_time(refund["success_ts"]), order["appid"], order["mchid"], "0", "",
                order["transaction_id"], order["out_trade_no"], order["openid"],
                order["trade_type"], "REFUND", "OTHERS", "CNY", "0.00", "0.00",
                refund["refund_id"], refund["out_refund_no"], fen_to_yuan(refund["refund"]),
                "0.00", "ORIGINAL", "SUCCESS", order["description"], order.get("attach") or "",
                fen_to_yuan(fee), "0.60%", "0.00", fen_to_yuan(refund["refund"]), "",
            ]))  # fmt: skip
            count, refunded, fees, requested = (
                count + 1, refunded + refund["refund"], fees + fee, requested + refund["refund"]
            )  # fmt: skip
    lines += [_wx_line(fields) for _, fields in sorted(rows, key=lambda r: r[0])]
    lines.append(WECHAT_SUMMARY)
    lines.append(
        _wx_line(
            [str(count)]
            + [fen_to_yuan(v) for v in (settled, refunded, 0, fees, ordered, requested)]
        )
    )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _cn_day(day: date) -> str:
    return f"{day.year}年{day.month:02d}月{day.day:02d}日"


class _GbkName(zipfile.ZipInfo):
    """Alipay names the files in its zips in GBK, without the UTF-8 flag (bit 11)."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # zipfile's (private) hook
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def alipay_tradebill(sandbox: Sandbox, day: date) -> tuple[str, bytes]:
    """(zip file name, zip bytes) with the detail CSV and its summary CSV, both GBK."""
    seller = sandbox.keys.alipay_seller_id
    iso, compact = day.isoformat(), f"{day:%Y%m%d}"
    rows: list[tuple[float, list[str]]] = []
    trades = refunds = 0
    trade_total = refund_total = fee_total = 0
    for order in sandbox.store.orders("alipay"):
        if order.get("gmt_payment_ts") is None:
            continue
        amount_fen, omit = sandbox.store.adjustment("alipay", order["out_trade_no"], iso)
        total = yuan_to_fen(order["total_amount"]) if amount_fen is None else amount_fen
        if clock.shanghai_date(order["gmt_payment_ts"]) == day and not omit:
            fee = fee_fen(total)
            rows.append((order["gmt_payment_ts"], [
                order["trade_no"] + "\t", order["out_trade_no"] + "\t", "交易\t", order["subject"],
                clock.alipay_time(order["gmt_create_ts"]),
                clock.alipay_time(order["gmt_payment_ts"]),
                "\t", "\t", "\t", "\t", order["buyer_logon_id"] + "\t", fen_to_yuan(total),
                fen_to_yuan(total), "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
                "\t", fen_to_yuan(-fee), "0.00", "",
            ]))  # fmt: skip
            trades, trade_total, fee_total = trades + 1, trade_total + total, fee_total - fee
        for refund in sandbox.store.refunds("alipay", order["out_trade_no"]):
            if clock.shanghai_date(refund["gmt_refund_ts"]) != day:
                continue
            cents = refund["refund_fen"]
            fee = fee_fen(cents)
            rows.append((refund["gmt_refund_ts"], [
                order["trade_no"] + "\t", order["out_trade_no"] + "\t", "退款\t", order["subject"],
                clock.alipay_time(order["gmt_create_ts"]),
                clock.alipay_time(refund["gmt_refund_ts"]),
                "\t", "\t", "\t", "\t", order["buyer_logon_id"] + "\t",
                fen_to_yuan(-cents), fen_to_yuan(-cents), "0.00", "0.00", "0.00", "0.00", "0.00",
                "", "0.00", "0.00", refund["out_request_no"] + "\t", fen_to_yuan(fee), "0.00",
                refund.get("refund_reason") or "",
            ]))  # fmt: skip
            refunds, refund_total, fee_total = refunds + 1, refund_total + cents, fee_total + fee
    start, end = _cn_day(day), _cn_day(date.fromordinal(day.toordinal() + 1))
    exported = clock.now()
    detail = [
        "#支付宝业务明细查询",
        f"#账号：[{seller}0156]",
        f"#起始日期：[{start} 00:00:00]   终止日期：[{end} 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        ALIPAY_HEADER,
        *(",".join(fields) for _, fields in sorted(rows, key=lambda r: r[0])),
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{trades}笔，商家实收共{fen_to_yuan(trade_total)}元，商家优惠共0.00元",
        f"#退款合计：{refunds}笔，商家实收退款共{fen_to_yuan(-refund_total)}元，商家优惠退款共0.00元",
        f"#导出时间：[{_cn_day(clock.shanghai_date(exported))} {clock.alipay_time(exported)[11:]}]",
    ]
    summary = [
        "#支付宝业务汇总查询",
        f"#账号：[{seller}0156]",
        f"#起始日期：[{start} 00:00:00]   终止日期：[{end} 00:00:00]",
        "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,"
        "支付宝优惠（元）,商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）",
        ",".join(
            [
                "合计",
                "",
                str(trades),
                str(refunds),
                fen_to_yuan(trade_total),
                fen_to_yuan(trade_total - refund_total),
                "0.00",
                "0.00",
                "0.00",
                fen_to_yuan(fee_total),
                "0.00",
                fen_to_yuan(trade_total - refund_total + fee_total),
            ]
        ),
        f"#导出时间：[{_cn_day(clock.shanghai_date(exported))} {clock.alipay_time(exported)[11:]}]",
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, lines in (("业务明细", detail), ("业务明细(汇总)", summary)):
            info = _GbkName(f"{seller}0156_{compact}_{name}.csv")
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, ("\r\n".join(lines) + "\r\n").encode("gbk"))
    return f"{seller}0156_{compact}.csv.zip", buffer.getvalue()
