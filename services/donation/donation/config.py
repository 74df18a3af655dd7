"""Donation service settings (environment prefix ``DONATION_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from donation.adapters.recipient_key import recipient_key_refusal
from donation.domain.follow_up_plan import DEFAULT_RULES, FollowUpRule, rule_table
from shared.config import DEMO_PASSWORD, LOCAL_STATE, ServiceSettings

DEMO_RECEIPT_CODE = "00000000"
DEMO_ISSUER_CREDIT_CODE = "12330283MB00000000"  # a valid check character, not a real code
DEMO_RECIPIENT_ID_KEY_FILE = LOCAL_STATE / "keys" / "recipient_id.key"


class FollowUpRuleSetting(BaseModel):
    """One entry of ``DONATION_FOLLOW_UP_RULES`` (docs/donation.md, "Follow-up visits")."""

    model_config = ConfigDict(extra="forbid")

    category: Literal["song_wan_jia", "wan_ren_xing", "boai_jiayuan", "emergency", "other"]
    trigger: Literal["disbursement", "delivery"]
    first_after_days: int = Field(ge=0, le=3660)
    visits: int = Field(default=1, ge=1, le=24)
    every_days: int = Field(default=0, ge=0, le=3660)
    grace_days: int = Field(default=0, ge=0, le=366)


class DonationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DONATION_", extra="ignore")

    service_name: str = "donation"
    port: int = 8001
    db_name: str = "donation"
    jwt_private_key_file: Path = LOCAL_STATE / "keys" / "jwt_private.pem"
    token_ttl_minutes: int = 480
    demo_password: SecretStr = SecretStr(DEMO_PASSWORD)
    seed_demo_staff: bool = True

    # Login throttle (docs/donation.md): failed logins per account (the user name as typed,
    # case and surrounding spaces ignored) and per client address, each in a sliding window;
    # at the limit every login of that account, or from that address, is refused with 429,
    # the right password too, until the oldest failure leaves the window.
    login_account_limit: int = Field(default=5, ge=1)
    login_account_window_s: float = Field(default=900.0, gt=0)
    login_client_limit: int = Field(default=20, ge=1)
    login_client_window_s: float = Field(default=900.0, gt=0)

    # Four eyes on refunds (docs/donation.md): a refund of more than this many fen is only
    # requested by the account that asks; another account approves (and books) or rejects it.
    refund_four_eyes_fen: int = Field(default=100_000, ge=0)

    # Online giving (docs/online-giving.md). ``public_url`` is how donors' browsers and the
    # gateways reach this service: notify and return URLs are built from it.
    public_url: str = "http://127.0.0.1:8001"
    online_min_fen: int = Field(default=100, ge=1)  # ¥1
    online_max_fen: int = Field(default=5_000_000, ge=1)  # ¥50,000; larger gifts by transfer
    online_presets_fen: list[int] = Field(default_factory=lambda: [2_000, 5_000, 10_000, 50_000])
    # per client address: orders started, and reads of orders (the result page polls every 2 s)
    online_order_limit: int = Field(default=10, ge=1)
    online_order_window_s: float = Field(default=600.0, gt=0)
    online_read_limit: int = Field(default=120, ge=1)
    online_order_ttl_minutes: int = Field(default=30, ge=5, le=1440)
    # the sweeper queries the gateway for orders still unpaid this long after creation
    online_sweep_after_s: float = Field(default=120.0, gt=0)
    online_sweep_interval_s: float = Field(default=30.0, gt=0)
    run_payment_sweeper: bool = True
    # Daily reconciliation (对账): yesterday's statements are fetched once after this hour
    # (Asia/Shanghai; WeChat Pay publishes a day's bill from 10:00, Alipay from 09:00).
    reconcile_after_hour: int = Field(default=10, ge=0, le=23)
    run_reconciliation: bool = True
    # The gateway sandbox (deploy/payment_sandbox) for the demo and tests: both gateways are
    # configured from its state directory. Refused in production.
    payment_sandbox_state: Path | None = None
    payment_sandbox_url: str = "http://127.0.0.1:8090"
    # WeChat Pay API v3 (pay.weixin.qq.com): set mchid to enable it.
    wechat_pay_mchid: str | None = None
    wechat_pay_appid: str | None = None
    wechat_pay_merchant_serial: str | None = None
    wechat_pay_private_key_file: Path | None = None
    wechat_pay_apiv3_key_file: Path | None = None
    wechat_pay_public_key_id: str | None = None  # PUB_KEY_ID_...; else platform certificates
    wechat_pay_public_key_file: Path | None = None
    wechat_pay_base_url: str = "https://api.mch.weixin.qq.com"
    # Alipay open platform (open.alipay.com): set app_id to enable it.
    alipay_app_id: str | None = None
    alipay_seller_id: str | None = None
    alipay_private_key_file: Path | None = None
    alipay_public_key_file: Path | None = None
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"

    # Small anonymous online gifts below this many fen are receipted together, in one combined
    # receipt a month under 爱心人士, instead of one each (0: off, every gift its own receipt).
    combined_receipt_below_fen: int = Field(default=0, ge=0)

    # The 公益事业捐赠电子票据 as PDF (docs/online-giving.md). The 票据代码 and the issuer's
    # 统一社会信用代码 are assigned by the finance bureau and the registry: the defaults are
    # demo values that production refuses.
    receipt_code: str = Field(default=DEMO_RECEIPT_CODE, pattern=r"^[0-9]{8}$")
    receipt_issuer_name: str = "宁波市奉化区红十字会"
    receipt_issuer_credit_code: str = DEMO_ISSUER_CREDIT_CODE
    receipt_payee: str = ""  # 收款人 printed on receipts
    receipt_reviewer: str = ""  # 复核人
    receipt_font_file: Path = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")

    # The recipients register (docs/donation.md#recipients-register): a recipient's 居民身份证号码
    # is kept only as an HMAC-SHA256 under this key (≥ 32 bytes; the file holds it as hex, or
    # raw). Generated on first start outside production; production refuses a missing key,
    # a short one, or the demo key under .local/keys. Losing it unlinks every fingerprint.
    recipient_id_key_file: Path = DEMO_RECIPIENT_ID_KEY_FILE
    # the approver of a disbursement sees each recipient's approved receipts of the same
    # project category within this many days of it (repeat receipts, not blocked)
    repeat_receipt_window_days: int = Field(default=365, ge=1, le=3660)

    # Follow-up visits (docs/donation.md, "Follow-up visits"): the rules that plan them, as a
    # JSON list of {category, trigger, first_after_days, visits, every_days, grace_days}; set, it
    # replaces the whole default table (``[]``: no visits planned). Photos of visits are files
    # named by their SHA-256 under ``attachments_dir`` (outside the database).
    follow_up_rules: list[FollowUpRuleSetting] | None = None
    attachments_dir: Path = LOCAL_STATE / "attachments"

    @property
    def follow_up_plan(self) -> tuple[FollowUpRule, ...]:
        """The rules visits are planned by: the setting's, else ``DEFAULT_RULES``."""
        if self.follow_up_rules is None:
            return DEFAULT_RULES
        return rule_table(FollowUpRule(**r.model_dump()) for r in self.follow_up_rules)

    @model_validator(mode="after")
    def _follow_up_rules_make_sense(self) -> DonationSettings:
        try:
            self.follow_up_plan  # noqa: B018 - built to be checked
        except ValueError as exc:
            raise ValueError(f"DONATION_FOLLOW_UP_RULES: {exc}") from exc
        return self

    @model_validator(mode="after")
    def _refuse_demo_credentials_in_production(self) -> DonationSettings:
        if self.environment == "production":
            if self.seed_demo_staff:
                raise ValueError(
                    "refusing to seed demo staff accounts in production; "
                    "set DONATION_SEED_DEMO_STAFF=false"
                )
            if self.demo_password.get_secret_value() == DEMO_PASSWORD:
                raise ValueError(
                    "refusing to start in production with the demo password configured; "
                    "set DONATION_DEMO_PASSWORD or disable demo staff"
                )
            if self.payment_sandbox_state is not None:
                raise ValueError(
                    "refusing to take payments through the sandbox in production; "
                    "unset DONATION_PAYMENT_SANDBOX_STATE and configure the gateways"
                )
            if self.receipt_code == DEMO_RECEIPT_CODE:
                raise ValueError(
                    "set DONATION_RECEIPT_CODE to the 票据代码 the finance bureau assigned"
                )
            if self.receipt_issuer_credit_code == DEMO_ISSUER_CREDIT_CODE:
                raise ValueError(
                    "set DONATION_RECEIPT_ISSUER_CREDIT_CODE to the branch's 统一社会信用代码"
                )
            if not self.public_url.startswith("https://"):
                raise ValueError(
                    "DONATION_PUBLIC_URL must be an https:// address in production "
                    "(the gateways post their notifications there)"
                )
            refusal = recipient_key_refusal(self.recipient_id_key_file)
            if refusal:
                raise ValueError(refusal)
        if self.online_min_fen > self.online_max_fen:
            raise ValueError("DONATION_ONLINE_MIN_FEN is above DONATION_ONLINE_MAX_FEN")
        return self
