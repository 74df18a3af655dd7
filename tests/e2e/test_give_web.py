"""Online giving (``/give``) in a real browser, paid through the gateway sandbox.

The donation service runs as its own process (``python -m donation serve``) configured from a
sandbox started just before it (``deploy/payment_sandbox``, keys issued in a temporary state
directory), with ``DONATION_PUBLIC_URL`` its own address: the gateways' notify and return URLs
point back at it, as in production.

- on a phone, 支付宝: the form (in Chinese) → the sandbox's cashier → 确认付款 → the return URL
  (``/give/result/{no}``) shows 感谢 and the tracking code; 查看捐赠去向 opens ``/track/{code}``
  with the amount; the receipt link answers a PDF; the gift is shown as 仅姓氏;
- on a phone, 微信支付: the sandbox's H5 page → 确认支付 → redirected back, paid;
- on a desktop, 微信支付: the QR code is shown; paid through the sandbox's control, the page
  moves on to the result by itself;
- bad amounts (``abc``, below the minimum) are refused next to the field and start no order.

Screenshots go to ``.local/screenshots/`` (``give-phone``, ``give-result``, ``give-qr``).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from donation.config import DonationSettings
from shared.config import ServiceSettings
from tests.e2e.conftest import Stack
from tests.e2e.test_pages_web import TIMEOUT_MS, api, shot
from tests.e2e.test_pages_web import browser as browser  # the same module-scoped Chromium
from tests.payment_sandbox_process import SandboxProcess, free_port, start_sandbox

pytestmark = pytest.mark.e2e

STAMP = str(int(time.time() * 1000))[-7:]
PROJECT = f"GIVE{STAMP}"
PROJECT_NAME = f"网上捐赠测试{STAMP}"
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36"
)
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": PHONE_UA,
    "locale": "zh-CN",
}
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN"}
RESULT = re.compile(r"/give/result/([0-9A-Za-z]+)(\?.*)?$")


@dataclass
class Site:
    stack: Stack
    sandbox: SandboxProcess
    settings: DonationSettings

    @property
    def url(self) -> str:
        return self.stack.url("donation")

    async def count_orders(self) -> int:
        conn = await asyncpg.connect(self.settings.asyncpg_dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM online_orders"))
        finally:
            await conn.close()

    async def gift(self, tracking_code: str) -> asyncpg.Record:
        conn = await asyncpg.connect(self.settings.asyncpg_dsn)
        try:
            row = await conn.fetchrow(
                "SELECT * FROM donations WHERE tracking_code = $1", tracking_code
            )
        finally:
            await conn.close()
        assert row is not None, tracking_code
        return row


@pytest.fixture(scope="module")
def site(
    databases: dict[str, ServiceSettings],
    kafka_topics: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """The sandbox first (it issues the keys the service reads), then the donation service."""
    state: Path = tmp_path_factory.mktemp("give-web") / "sandbox"
    with start_sandbox(state) as sandbox:
        port = free_port()
        base = databases["donation"]
        assert isinstance(base, DonationSettings)
        settings = base.model_copy(
            update={
                "port": port,
                "public_url": f"http://127.0.0.1:{port}",
                "payment_sandbox_state": state,
                "payment_sandbox_url": sandbox.base_url,
                # every browser test gives from 127.0.0.1, and the per-client counts are
                # shared through the database by every donation process of the run
                "online_order_limit": 10_000,
            }
        )
        running = Stack({"donation": settings})
        running.start("donation")
        try:
            running.wait_ready()
            yield Site(running, sandbox, settings)
        finally:
            running.stop()


@pytest.fixture(scope="module")
def project(site: Site) -> dict[str, Any]:
    created: dict[str, Any] = api(
        site.stack,
        "donation",
        "POST",
        "/api/v1/projects",
        "finance",
        {
            "code": PROJECT,
            "name": PROJECT_NAME,
            "category": "emergency",
            "town": "溪口镇",
            "starts_on": "2026-01-01",
        },
    )
    return created


@dataclass
class Tab:
    page: Page
    context: BrowserContext
    errors: list[str]


async def open_tab(browser: Browser, options: dict[str, Any]) -> Tab:
    context = await browser.new_context(**options)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return Tab(page, context, errors)


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[Tab]:
    tab = await open_tab(browser, PHONE)
    yield tab
    await tab.context.close()
    assert not tab.errors, tab.errors


@pytest.fixture
async def desktop(browser: Browser) -> AsyncIterator[Tab]:
    tab = await open_tab(browser, DESKTOP)
    yield tab
    await tab.context.close()
    assert not tab.errors, tab.errors


async def open_form(page: Page, site: Site) -> None:
    await page.goto(site.url + "/give")
    await expect(page.locator("#view-form")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    await expect(page.locator("#form-h")).to_have_text("您的捐赠")
    await expect(page.locator("#pay")).to_have_text("去支付")
    # the channels arrive with the options: both gateways are configured from the sandbox
    await expect(page.locator("#channels label")).to_have_count(2, timeout=TIMEOUT_MS)
    await expect(page.locator("#channels")).to_contain_text("微信支付")
    await expect(page.locator("#channels")).to_contain_text("支付宝")


async def fill_form(page: Page, channel: str, *, touch: bool) -> None:
    """The project, the ¥50 preset, a name, 仅姓氏, the channel (by its Chinese label)."""
    await page.select_option("#g-project", PROJECT)
    preset = page.locator("#presets button[data-fen='5000']")
    await expect(preset).to_have_text("¥50.00")
    surname = page.locator("#give-form label", has_text="仅姓氏")
    pay_with = page.locator("#channels label", has_text=channel)
    if touch:
        await preset.tap()
        await page.locator("#g-name").tap()
    else:
        await preset.click()
    await expect(page.locator("#g-amount")).to_have_value("50.00")
    await expect(preset).to_have_attribute("aria-pressed", "true")  # shown as chosen
    await expect(page.locator("#presets button[data-fen='2000']")).to_have_attribute(
        "aria-pressed", "false"
    )
    await page.fill("#g-name", "陈晓梅")
    if touch:
        await surname.tap()
        await pay_with.tap()
    else:
        await surname.click()
        await pay_with.click()
    await expect(page.locator("input[name=display][value=surname]")).to_be_checked()
    await expect(pay_with.locator("input[name=channel]")).to_be_checked()


async def shows_paid(page: Page, out_trade_no: str) -> str:
    """The result page of a paid order: 感谢, the facts, the tracking code; returns the code."""
    await expect(page.locator("#view-result")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#result-status")).to_contain_text("感谢", timeout=TIMEOUT_MS)
    code_node = page.locator("#tracking-code")
    await expect(code_node).to_have_text(re.compile(r"\S{6,}"))
    facts = page.locator("#result-facts")
    await expect(facts).to_contain_text("¥50.00")
    await expect(facts).to_contain_text(PROJECT_NAME)
    await expect(facts).to_contain_text(out_trade_no)
    return (await code_node.inner_text()).strip()


def trade_no_of(url: str) -> str:
    found = RESULT.search(url)
    assert found, url
    return found.group(1)


def order_of(site: Site, out_trade_no: str) -> dict[str, Any]:
    response = httpx.get(f"{site.url}/api/v1/giving/orders/{out_trade_no}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_phone_alipay_to_the_result_the_track_page_and_the_receipt(
    site: Site, project: dict[str, Any], phone: Tab
) -> None:
    page = phone.page
    await open_form(page, site)
    await fill_form(page, "支付宝", touch=True)
    await shot(page, "give-phone", full_page=True)
    await page.locator("#pay").tap()
    # the Alipay cashier (alipay.trade.wap.pay on a phone), on the sandbox's origin
    await page.wait_for_url(
        lambda url: url.startswith(site.sandbox.base_url + "/gateway.do"), timeout=TIMEOUT_MS
    )
    assert "alipay.trade.wap.pay" in page.url
    await expect(page.locator(".amount")).to_have_text("￥50.00")
    await page.get_by_role("button", name="确认付款").tap()
    # Alipay's return_url: our result page, with its signed query
    await page.wait_for_url(RESULT, timeout=TIMEOUT_MS)
    assert page.url.startswith(site.url + "/give/result/")
    assert "out_trade_no=" in page.url
    out_trade_no = trade_no_of(page.url)
    code = await shows_paid(page, out_trade_no)
    await shot(page, "give-result", full_page=True)
    order = order_of(site, out_trade_no)
    assert (order["status"], order["channel"], order["scene"]) == ("paid", "alipay", "wap")
    assert order["tracking_code"] == code
    assert order["project_code"] == PROJECT
    gift = await site.gift(code)
    assert (gift["amount_fen"], gift["display"]) == (5000, "surname")
    assert gift["display_name"] == "陈某"

    # the receipt link downloads the PDF (fetched as the browser's context would)
    receipt = page.get_by_role("link", name="下载电子票据")
    href = await receipt.get_attribute("href")
    assert href is not None
    assert code in href
    pdf = await page.request.get(site.url + href)
    assert pdf.status == 200, await pdf.text()
    assert pdf.headers["content-type"].startswith("application/pdf")
    assert (await pdf.body()).startswith(b"%PDF")

    # 查看捐赠去向 → the tracking page with the gift's amount
    await page.get_by_role("link", name="查看捐赠去向").tap()
    await page.wait_for_url(lambda url: "/track/" in url, timeout=TIMEOUT_MS)
    await expect(page.locator("#facts")).to_contain_text("¥50.00", timeout=TIMEOUT_MS)


async def test_phone_wechat_h5_redirects_back_paid(
    site: Site, project: dict[str, Any], phone: Tab
) -> None:
    page = phone.page
    await open_form(page, site)
    await fill_form(page, "微信支付", touch=True)
    await page.locator("#pay").tap()
    await page.wait_for_url(
        lambda url: url.startswith(site.sandbox.base_url + "/pay/wechat/h5?"), timeout=TIMEOUT_MS
    )
    assert "redirect_url=" in page.url
    await expect(page.locator(".amount")).to_have_text("￥50.00")
    await page.get_by_role("button", name="确认支付").tap()
    await page.wait_for_url(RESULT, timeout=TIMEOUT_MS)
    assert page.url.startswith(site.url + "/give/result/")
    out_trade_no = trade_no_of(page.url)
    code = await shows_paid(page, out_trade_no)
    order = order_of(site, out_trade_no)
    assert (order["status"], order["channel"], order["scene"]) == ("paid", "wechat_pay", "h5")
    assert order["tracking_code"] == code


async def test_desktop_wechat_shows_a_qr_code_and_moves_on_once_paid(
    site: Site, project: dict[str, Any], desktop: Tab
) -> None:
    page = desktop.page
    await open_form(page, site)
    await fill_form(page, "微信支付", touch=False)
    await page.click("#pay")
    await expect(page.locator("#view-pay")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#view-form")).to_be_hidden()
    await expect(page.locator("#pay-amount")).to_have_text("¥50.00")
    qr = page.locator("#pay-qr")
    await expect(qr).to_have_attribute("src", re.compile(r"/qr\.svg$"))
    await page.wait_for_function(
        "() => { const img = document.getElementById('pay-qr');"
        " return img.complete && img.naturalWidth > 0; }",
        timeout=TIMEOUT_MS,
    )
    await shot(page, "give-qr")
    href = await page.locator("#pay-result").get_attribute("href")
    assert href is not None
    out_trade_no = trade_no_of(href)
    order = order_of(site, out_trade_no)
    assert (order["status"], order["scene"], order["show_as_qr"]) == ("pending", "native", True)
    # the payer scans and pays: the sandbox's control, as WeChat would after the scan
    with site.sandbox.controls() as sandbox:
        paid = sandbox.post(f"/sandbox/wechat/orders/{out_trade_no}/pay", json={"notify": True})
    assert paid.status_code == 200, paid.text
    # the page polls and moves on by itself
    await page.wait_for_url(
        lambda url: url == f"{site.url}/give/result/{out_trade_no}", timeout=TIMEOUT_MS
    )
    code = await shows_paid(page, out_trade_no)
    assert order_of(site, out_trade_no)["tracking_code"] == code


async def test_bad_amounts_are_refused_next_to_the_field_and_start_no_order(
    site: Site, project: dict[str, Any], phone: Tab
) -> None:
    page = phone.page
    posted: list[str] = []
    page.on(
        "request",
        lambda r: (
            posted.append(r.url) if r.method == "POST" and "/giving/orders" in r.url else None
        ),
    )
    await open_form(page, site)
    await fill_form(page, "支付宝", touch=True)
    before = await site.count_orders()
    amount = page.locator("#g-amount")
    amount_error = page.locator("#g-amount + .error")
    status = page.locator("#give-status")

    await amount.fill("abc")
    await page.locator("#pay").tap()
    await expect(amount_error).to_have_text("请输入金额，最多两位小数")
    await expect(amount).to_have_attribute("aria-invalid", "true")
    await expect(status).to_contain_text("请更正标出的字段后重试")

    await amount.fill("0.50")  # well-formed, below the ¥1.00 minimum
    await page.locator("#pay").tap()
    await expect(amount_error).to_have_text(re.compile(r"金额应在 ¥1\.00 至 ¥50,000\.00 之间"))
    await expect(amount).to_have_attribute("aria-invalid", "true")

    await amount.fill("")
    await page.locator("#pay").tap()
    await expect(amount_error).to_have_text("此项必填")

    await expect(page.locator("#view-form")).to_be_visible()
    assert page.url == site.url + "/give"
    assert posted == []
    assert await site.count_orders() == before
