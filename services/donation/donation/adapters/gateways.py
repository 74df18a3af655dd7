"""The payment gateways this instance is configured for (``DONATION_WECHAT_PAY_*``,
``DONATION_ALIPAY_*``, or the sandbox's state directory for the demo and tests)."""

from __future__ import annotations

import httpx

from donation.adapters.alipay import AlipayConfig, AlipayGateway
from donation.adapters.wechatpay import WechatPayConfig, WechatPayGateway
from donation.config import DonationSettings
from donation.domain.payments import PaymentGateway


def _required(settings: DonationSettings, prefix: str, *names: str) -> None:
    missing = [n for n in names if getattr(settings, n) in (None, "")]
    if missing:
        wanted = ", ".join(f"DONATION_{n.upper()}" for n in missing)
        raise ValueError(f"{prefix} is half configured: set {wanted}")


def build_gateways(
    settings: DonationSettings, client: httpx.AsyncClient
) -> dict[str, PaymentGateway]:
    gateways: dict[str, PaymentGateway] = {}
    if settings.payment_sandbox_state is not None:
        state, url = settings.payment_sandbox_state, settings.payment_sandbox_url.rstrip("/")
        gateways["wechat_pay"] = WechatPayGateway(
            WechatPayConfig.from_sandbox_state(state, url), client=client
        )
        gateways["alipay"] = AlipayGateway(
            AlipayConfig.from_sandbox_state(state, f"{url}/gateway.do"), client=client
        )
        return gateways
    if settings.wechat_pay_mchid:
        _required(
            settings,
            "WeChat Pay",
            "wechat_pay_appid",
            "wechat_pay_merchant_serial",
            "wechat_pay_private_key_file",
            "wechat_pay_apiv3_key_file",
        )
        assert settings.wechat_pay_appid
        assert settings.wechat_pay_merchant_serial
        assert settings.wechat_pay_private_key_file
        assert settings.wechat_pay_apiv3_key_file
        gateways["wechat_pay"] = WechatPayGateway(
            WechatPayConfig.from_files(
                mchid=settings.wechat_pay_mchid,
                appid=settings.wechat_pay_appid,
                merchant_serial=settings.wechat_pay_merchant_serial,
                merchant_key_path=settings.wechat_pay_private_key_file,
                apiv3_key_path=settings.wechat_pay_apiv3_key_file,
                public_key_id=settings.wechat_pay_public_key_id,
                public_key_path=settings.wechat_pay_public_key_file,
                # without WeChat Pay's public key, its platform certificates verify
                platform_certificates=settings.wechat_pay_public_key_id is None,
                base_url=settings.wechat_pay_base_url,
            ),
            client=client,
        )
    if settings.alipay_app_id:
        _required(
            settings,
            "Alipay",
            "alipay_seller_id",
            "alipay_private_key_file",
            "alipay_public_key_file",
        )
        assert settings.alipay_seller_id
        assert settings.alipay_private_key_file
        assert settings.alipay_public_key_file
        gateways["alipay"] = AlipayGateway(
            AlipayConfig.from_files(
                app_id=settings.alipay_app_id,
                seller_id=settings.alipay_seller_id,
                app_private_key_path=settings.alipay_private_key_file,
                alipay_public_key_path=settings.alipay_public_key_file,
                gateway_url=settings.alipay_gateway_url,
            ),
            client=client,
        )
    return gateways
