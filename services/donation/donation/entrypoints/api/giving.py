"""Online giving (public, no login) and the gateways' notifications.

- ``GET /api/v1/giving/options``: projects open for gifts, channels, amount presets and limits.
- ``POST /api/v1/giving/orders``: start paying a gift; the answer carries where to pay.
- ``GET /api/v1/giving/orders/{out_trade_no}``: the result page polls it; a pending order whose
  notification has not come is checked with the gateway (at most every few seconds).
- ``GET /api/v1/giving/orders/{out_trade_no}/qr.svg``: a WeChat Native order's QR code.
- ``POST /api/v1/payments/{channel}/notify``: the gateway's asynchronous notification, verified
  before anything else; answered as that gateway expects (WeChat 204 or ``{"code":"FAIL"}``,
  Alipay the literal ``success``).

Every public route is rate-limited per client like the other public routes.
"""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any, Literal

import segno
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from donation.config import DonationSettings
from donation.domain.commands import StartOnlineGift
from donation.domain.model import ANONYMOUS_ORGANIZATION, ANONYMOUS_PERSON
from donation.domain.payments import GatewayError, GatewayRefund, NotificationRejected
from donation.entrypoints.api.public import TRACK_LIMIT, limiter, receipt_secret
from donation.entrypoints.api.schemas import (
    GivingOptionsOut,
    GivingProjectOut,
    OnlineGiftIn,
    OnlineOrderOut,
)
from donation.service_layer import online_giving, payment_checks, receipt_documents
from donation.service_layer.online_giving import (
    NOTIFICATIONS_REJECTED,
    Gateways,
    OrderView,
    gateway_failed,
)
from shared import public_lookups
from shared.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    ValidationFailed,
)
from shared.http_commands import RuntimeDep
from shared.openapi import raises
from shared.public_lookups import client_of
from shared.runtime import ServiceRuntime

log = logging.getLogger("donation.giving")

router = APIRouter(prefix="/api/v1", tags=["giving"])

NOTIFY_MAX_BYTES = 64 * 1024
OUT_TRADE_NO_CHARS = frozenset("0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZ")


def gateways_of(runtime: ServiceRuntime) -> Gateways:
    gateways = runtime.extras.get("gateways")
    if not isinstance(gateways, Gateways):  # nothing offered: the request cannot be met (422)
        raise ValidationFailed("网上捐赠暂未开通 (online giving is not configured here)")
    return gateways


def settings_of(runtime: ServiceRuntime) -> DonationSettings:
    settings = runtime.settings
    assert isinstance(settings, DonationSettings)
    return settings


def order_limit(runtime: ServiceRuntime) -> tuple[int, float]:
    settings = settings_of(runtime)
    return settings.online_order_limit, settings.online_order_window_s


def read_limit(runtime: ServiceRuntime) -> tuple[int, float]:
    return settings_of(runtime).online_read_limit, 60.0


def order_out(view: OrderView, settings: DonationSettings) -> dict[str, Any]:
    order = view.order
    base = settings.public_url.rstrip("/")
    qr = order.show_as_qr and order.pay_url is not None and order.status == "pending"
    return OnlineOrderOut(
        out_trade_no=order.out_trade_no,
        status=order.status,  # type: ignore[arg-type]
        channel=order.channel,
        scene=order.scene,
        amount_fen=order.amount_fen,
        project_code=order.project_code,
        project_name=view.project_name,
        pay_url=order.pay_url if order.status == "pending" else None,
        show_as_qr=order.show_as_qr,
        qr_url=f"/api/v1/giving/orders/{order.out_trade_no}/qr.svg" if qr else None,
        result_url=f"{base}/give/result/{order.out_trade_no}",
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        tracking_code=view.tracking_code,
        receipt_no=view.receipt_no,
        close_reason=order.close_reason,
    ).model_dump(mode="json")


def checked_trade_no(out_trade_no: str) -> str:
    if not 6 <= len(out_trade_no) <= 32 or not set(out_trade_no) <= OUT_TRADE_NO_CHARS:
        raise NotFound("订单不存在 (no such order)")
    return out_trade_no


def default_scene(channel: str, request: Request) -> Literal["native", "h5", "wap", "page"]:
    agent = request.headers.get("user-agent", "")
    phone = any(word in agent for word in ("Mobile", "Android", "iPhone"))
    if channel == "wechat_pay":
        return "h5" if phone else "native"
    return "wap" if phone else "page"


@router.get(
    "/giving/options",
    summary="网上捐赠：可选项目与金额 What a donor can give to online (public)",
    response_model=GivingOptionsOut,
    responses=raises((TooManyRequests, "Rate limited")),
)
async def options(request: Request, runtime: RuntimeDep) -> Any:
    await limiter(runtime, "giving-read", read_limit(runtime)).check(client_of(request))
    settings = settings_of(runtime)
    gateways = runtime.extras.get("gateways")
    async with runtime.unit_of_work() as uow:
        projects = await online_giving.open_projects(uow)
        body = GivingOptionsOut(
            channels=gateways.channels() if isinstance(gateways, Gateways) else [],
            presets_fen=settings.online_presets_fen,
            min_fen=settings.online_min_fen,
            max_fen=settings.online_max_fen,
            projects=[
                GivingProjectOut(
                    code=p.code,
                    name=p.name,
                    category=p.category,
                    town=p.town,
                    description=p.description,
                )
                for p in projects
            ],
        )
    return JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": "no-cache"})


@router.post(
    "/giving/orders",
    status_code=201,
    summary="网上捐赠：创建支付订单 Start paying a gift (public)",
    response_model=OnlineOrderOut,
    responses=raises(
        (
            ValidationFailed,
            "Amount out of range, unknown project, channel or scene not offered",
        ),
        (Conflict, "The project is closed to new gifts"),
        (TooManyRequests, "Rate limited"),
        (ServiceUnavailable, "The channel's gateway failed (nothing was charged)"),
    ),
)
async def start_order(body: OnlineGiftIn, request: Request, runtime: RuntimeDep) -> Any:
    client = client_of(request)
    await limiter(runtime, "giving-order", order_limit(runtime)).check(client)
    settings = settings_of(runtime)
    if not settings.online_min_fen <= body.amount_fen <= settings.online_max_fen:
        raise ValidationFailed(
            f"网上捐赠金额应在 ¥{settings.online_min_fen / 100:.2f} 至 "
            f"¥{settings.online_max_fen / 100:,.2f} 之间，大额捐赠请联系我们转账 "
            f"(amount_fen must be {settings.online_min_fen}..{settings.online_max_fen})"
        )
    gateway = gateways_of(runtime).get(body.channel)
    base = settings.public_url.rstrip("/")
    name = body.name or (
        ANONYMOUS_ORGANIZATION if body.donor_type == "organization" else ANONYMOUS_PERSON
    )
    cmd = StartOnlineGift(
        channel=body.channel,
        scene=body.scene or default_scene(body.channel, request),
        amount_fen=body.amount_fen,
        display=body.display,
        donor_type=body.donor_type,
        donor_name=name,
        client_ip=client[:64],
        notify_url=f"{base}/api/v1/payments/{body.channel}/notify",
        return_url=f"{base}/give/result/{{out_trade_no}}",
        project_code=body.project_code,
        phone=body.phone,
        email=body.email,
        credit_code=body.credit_code,
        notify=body.notify,
        want_receipt=body.want_receipt,
    )
    ttl = timedelta(minutes=settings.online_order_ttl_minutes)
    async with runtime.unit_of_work() as uow:
        order = await online_giving.open_order(uow, cmd, gateway, ttl=ttl)
        description = await online_giving.order_description(uow, order)
        await uow.commit()
    try:
        created = await gateway.create_order(online_giving.order_request(order, description, cmd))
    except GatewayError as exc:
        async with runtime.unit_of_work() as uow:
            await online_giving.close_order(uow, order.out_trade_no, f"gateway: {exc}")
            await uow.commit()
        raise gateway_failed(exc) from exc
    async with runtime.unit_of_work() as uow:
        stored = await online_giving.order_for_update(uow, order.out_trade_no)
        assert stored is not None
        stored.pay_url = created.pay_url
        stored.show_as_qr = created.show_as_qr
        await uow.commit()
    async with runtime.unit_of_work() as uow:
        # read and shaped inside: leaving a unit of work rolls back, expiring what it loaded
        body_out = order_out(await online_giving.order_view(uow, order.out_trade_no), settings)
    return JSONResponse(body_out, status_code=201, headers={"Cache-Control": "no-store"})


@router.get(
    "/giving/orders/{out_trade_no}",
    summary="网上捐赠：订单结果 An order and, once paid, its gift (public)",
    response_model=OnlineOrderOut,
    responses=raises((NotFound, "No such order"), (TooManyRequests, "Rate limited")),
)
async def get_order(out_trade_no: str, request: Request, runtime: RuntimeDep) -> Any:
    await limiter(runtime, "giving-read", read_limit(runtime)).check(client_of(request))
    out_trade_no = checked_trade_no(out_trade_no)
    settings = settings_of(runtime)
    async with runtime.unit_of_work() as uow:
        view = await online_giving.order_view(uow, out_trade_no)
        body = order_out(view, settings)
        pending = view.order.status == "pending"
        checked_at = view.order.checked_at
    configured = isinstance(runtime.extras.get("gateways"), Gateways)
    if (
        pending
        and configured
        and await payment_checks.check_if_due(
            runtime, gateways_of(runtime), out_trade_no, checked_at
        )
    ):
        async with runtime.unit_of_work() as uow:
            body = order_out(await online_giving.order_view(uow, out_trade_no), settings)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get(
    "/giving/orders/{out_trade_no}/qr.svg",
    summary="网上捐赠：微信扫码付款二维码 A Native order's QR code (public)",
    responses=raises(
        (NotFound, "No such order, or not a pending Native order"),
        (TooManyRequests, "Rate limited"),
    ),
)
async def order_qr(out_trade_no: str, request: Request, runtime: RuntimeDep) -> Response:
    await limiter(runtime, "giving-read", read_limit(runtime)).check(client_of(request))
    out_trade_no = checked_trade_no(out_trade_no)
    async with runtime.unit_of_work() as uow:
        order = await online_giving.get_order(uow, out_trade_no)
        pay_url = order.pay_url if order.show_as_qr and order.status == "pending" else None
    if pay_url is None:
        raise NotFound("该订单没有待付款的二维码 (no QR code to pay for this order)")
    # a document of its own (an <img>'s source): it needs the SVG namespace, which
    # svg_inline() leaves out for HTML, or the browser does not render it
    svg = io.BytesIO()
    segno.make(pay_url, error="m").save(
        svg, kind="svg", xmldecl=False, nl=False, scale=6, border=2, dark="#111"
    )
    return Response(
        svg.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@router.post(
    "/payments/{channel}/notify",
    summary="支付平台异步通知 A gateway's payment notification (WeChat Pay v3 / Alipay)",
    responses=raises((NotFound, "No such channel"), (PayloadTooLarge, "Body above 64 KiB")),
)
async def notify(channel: str, request: Request, runtime: RuntimeDep) -> Response:
    gateways = runtime.extras.get("gateways")
    if channel not in ("wechat_pay", "alipay") or not isinstance(gateways, Gateways):
        raise NotFound(f"没有该支付渠道 (no payment channel {channel!r})")
    gateway = gateways.get(channel)
    body = await request.body()
    if len(body) > NOTIFY_MAX_BYTES:
        raise PayloadTooLarge(f"通知超过 {NOTIFY_MAX_BYTES} 字节 (notification too large)")
    try:
        statement = await gateway.verify_notification(request.headers, body)
    except NotificationRejected as exc:
        NOTIFICATIONS_REJECTED.labels(channel, exc.reason).inc()
        log.warning(
            "payment notification rejected",
            extra={
                "channel": channel,
                "reason": exc.reason,
                "detail": exc.detail,
                "client": client_of(request),
            },
        )
        return answer(gateway.rejection(f"verification failed: {exc.reason}"))
    except GatewayError as exc:  # e.g. a platform certificate could not be fetched
        log.warning("payment notification not verifiable now", extra={"error": str(exc)})
        return answer(gateway.rejection("verification unavailable, retry later"))
    try:
        async with runtime.unit_of_work() as uow:
            if isinstance(statement, GatewayRefund):
                await payment_checks.record_refund_statement(uow, statement, "notify")
            else:
                await online_giving.apply_gateway_payment(
                    uow,
                    statement,
                    "notify",
                    combine_below_fen=settings_of(runtime).combined_receipt_below_fen,
                )
            await uow.commit()
    except Exception:  # the gateway retries: nothing is lost while we cannot write
        log.exception("payment notification not applied", extra={"channel": channel})
        return answer(gateway.rejection("temporarily unable to record, retry later"))
    return answer(gateway.acknowledgement())


@router.get(
    "/receipts/{tracking_code}.pdf",
    summary="下载公益事业捐赠电子票据 A gift's receipt as PDF, by its tracking code (public)",
    responses=raises(
        (NotFound, "Unknown code, or no receipt"),
        (TooManyRequests, "Rate limited"),
        (ServiceUnavailable, "The receipt font is not installed"),
    ),
)
async def receipt_pdf(tracking_code: str, request: Request, runtime: RuntimeDep) -> Response:
    await limiter(runtime, "track", TRACK_LIMIT).check(client_of(request))
    code = public_lookups.tracking_code(tracking_code)
    settings = settings_of(runtime)
    secret = receipt_secret(runtime)
    async with runtime.unit_of_work() as uow:
        doc = await receipt_documents.receipt_document(uow, code, settings, secret=secret)
    pdf, name = await receipt_documents.render(doc, settings)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


def answer(reply: Any) -> Response:
    return Response(reply.body, status_code=reply.status_code, media_type=reply.media_type)
