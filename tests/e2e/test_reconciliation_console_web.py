"""The donation console's 对账 (reconciliation) view in a real browser, against the donation
service configured from a payment sandbox (the ``site`` fixture of ``test_give_web``).

Two WeChat Pay orders are paid today through the sandbox's control; the sandbox's statement
then shows one of them at another amount and leaves the other out. Then:

- finance (desktop, zh-CN) runs today's WeChat Pay reconciliation from the view's form, sees
  both findings with their Chinese kind labels and amounts in yuan, resolves one with a note
  (the page asks for it in a prompt dialog) and sees it leave the open list;
- the auditor sees the open findings, but no run form and no resolve button;
- on a phone the view fits the screen: no horizontal overflow of the page, nor of the
  tables' scrolling boxes (a long order number wraps).

Screenshot: ``.local/screenshots/reconciliation-console.png``.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Locator, Page, expect

from tests.e2e.test_give_web import DESKTOP, PHONE, Site, Tab, open_tab
from tests.e2e.test_give_web import site as site  # the donation service + payment sandbox
from tests.e2e.test_pages_web import TIMEOUT_MS, shot
from tests.e2e.test_pages_web import browser as browser  # the same module-scoped Chromium

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTE = "已与微信支付核实，对账单金额有误，已提交更正"


def today() -> str:
    return datetime.now(SHANGHAI).date().isoformat()


def staff_call(site: Site, method: str, path: str, role: str, body: Any = None) -> Any:
    password = site.settings.demo_password.get_secret_value()
    login = httpx.post(
        site.url + "/api/v1/auth/token",
        data={"username": role, "password": password},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    response = httpx.request(
        method,
        site.url + path,
        json=body,
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        timeout=20,
    )
    assert response.status_code == 200, response.text
    return response.json()


def paid_wechat_order(site: Site, amount_fen: int) -> str:
    """A WeChat Pay (native) order, paid through the sandbox's control; its out_trade_no."""
    created = httpx.post(
        site.url + "/api/v1/giving/orders",
        json={
            "channel": "wechat_pay",
            "scene": "native",
            "amount_fen": amount_fen,
            "display": "surname",
            "name": "陈晓梅",
        },
        timeout=15,
    )
    assert created.status_code == 201, created.text
    out_trade_no = str(created.json()["out_trade_no"])
    with site.sandbox.controls() as sandbox:
        paid = sandbox.post(f"/sandbox/wechat/orders/{out_trade_no}/pay", json={"notify": True})
    assert paid.status_code == 200, paid.text
    return out_trade_no


def wait_paid(site: Site, out_trade_no: str) -> None:
    for _ in range(100):
        response = httpx.get(f"{site.url}/api/v1/giving/orders/{out_trade_no}", timeout=10)
        if response.status_code == 200 and response.json()["status"] == "paid":
            return
        time.sleep(0.2)
    raise AssertionError(f"{out_trade_no} not paid")


@pytest.fixture(scope="module")
def differing(site: Site) -> dict[str, str]:
    """Two paid orders; the statement shows one at ¥60.00 (paid ¥50.00), omits the other."""
    differs = paid_wechat_order(site, 5000)
    missing = paid_wechat_order(site, 3000)
    for no in (differs, missing):
        wait_paid(site, no)
    with site.sandbox.controls() as sandbox:
        for body in (
            {"out_trade_no": differs, "amount_fen": 6000},
            {"out_trade_no": missing, "omit": True},
        ):
            adjusted = sandbox.post("/sandbox/wechat/statement/adjust", json=body)
            assert adjusted.status_code == 200, adjusted.text
    return {"differs": differs, "missing": missing}


def reconciled(site: Site, differing: dict[str, str]) -> None:
    """Today's WeChat Pay run, through the API, for a test run on its own (the finance test
    runs it from the page); a rerun keeps the resolved findings."""
    opened = staff_call(site, "GET", "/api/v1/reconciliation/findings?status=open", "auditor")
    if not any(f["out_trade_no"] == differing["missing"] for f in opened["items"]):
        body = {"channel": "wechat_pay", "day": today()}
        staff_call(site, "POST", "/api/v1/reconciliation/runs", "finance", body)


async def signed_in(browser: Browser, site: Site, options: dict[str, Any], user: str) -> Tab:
    tab = await open_tab(browser, options)
    page = tab.page
    await page.goto(site.url + "/console/donation")
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    await page.fill("#username", user)
    await page.fill("#password", site.settings.demo_password.get_secret_value())
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)
    return tab


async def open_view(page: Page) -> None:
    button = page.locator("#menu button[data-view='reconcile']")
    await expect(button).to_be_visible()
    await expect(button).to_have_text("对账")
    await button.click()
    await expect(page.locator("#view-reconcile")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#view-reconcile")).not_to_have_attribute("aria-busy", "true")
    await expect(page.locator("#rec-h")).to_contain_text("对账")


def todays_run(page: Page) -> Locator:
    """Today's WeChat Pay run in the runs table (yesterday's nightly runs are listed too)."""
    return (
        page.locator("#rec-runs tbody tr")
        .filter(has=page.locator("td:first-child", has_text=today()))
        .filter(has_text="微信支付")
    )


@pytest.fixture
async def tabs() -> AsyncIterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        await tab.context.close()
    for tab in opened:
        assert not tab.errors, tab.errors


async def test_finance_runs_the_day_and_resolves_a_finding(
    site: Site, differing: dict[str, str], browser: Browser, tabs: list[Tab]
) -> None:
    tab = await signed_in(browser, site, DESKTOP, "finance")
    tabs.append(tab)
    page = tab.page
    await open_view(page)
    form = page.locator("#rec-form")
    await expect(form).to_be_visible()
    await expect(page.locator("#rec-day")).to_have_value(today())
    await page.select_option("#rec-channel", "wechat_pay")
    await page.click("#rec-form button[type=submit]")
    await expect(page.locator("#rec-form-status")).to_contain_text(
        f"{today()} 微信支付", timeout=TIMEOUT_MS
    )
    # at least our two: other browser tests of the same worker may have paid orders today
    # in the same database, which this module's own sandbox never saw
    await expect(page.locator("#rec-form-status")).to_contain_text(re.compile(r"差异 \d+ 条"))

    findings = page.locator("#rec-findings")
    differs = findings.locator("tbody tr", has_text=differing["differs"])
    missing = findings.locator("tbody tr", has_text=differing["missing"])
    await expect(differs).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(missing).to_have_count(1)
    await expect(differs).to_contain_text("金额不一致")
    await expect(differs).to_contain_text("微信支付")
    await expect(differs.locator("td.num").nth(0)).to_have_text("¥60.00")  # the statement
    await expect(differs.locator("td.num").nth(1)).to_have_text("¥50.00")  # our books
    await expect(missing).to_contain_text("有捐赠记录、对账单无此笔")
    await expect(missing.locator("td.num").nth(0)).to_have_text("—")
    await expect(missing.locator("td.num").nth(1)).to_have_text("¥30.00")
    run_row = todays_run(page)
    await expect(run_row).to_have_count(1)
    await expect(run_row).to_contain_text("微信支付")
    await expect(run_row).to_contain_text("finance")
    await expect(run_row.locator("td.num")).to_have_text(
        ["1", "0", re.compile(r"^([2-9]|\d{2,})$")]
    )  # lines, matched, findings (ours and maybe others' of the day)
    await shot(page, "reconciliation-console", full_page=True)

    asked: list[str] = []

    async def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept(NOTE)

    page.on("dialog", answer)
    await differs.get_by_role("button", name="处理").click()
    await expect(page.locator("#rec-status")).to_contain_text("差异已处理", timeout=TIMEOUT_MS)
    await expect(differs).to_have_count(0)
    await expect(missing).to_have_count(1)
    assert len(asked) == 1, asked
    assert differing["differs"] in asked[0], asked

    resolved = staff_call(site, "GET", "/api/v1/reconciliation/findings?status=resolved", "auditor")
    mine = [f for f in resolved["items"] if f["out_trade_no"] == differing["differs"]]
    assert [(f["kind"], f["resolution"], f["resolved_by"]) for f in mine] == [
        ("amount_differs", NOTE, "finance")
    ]


async def test_the_auditor_reads_the_findings_but_cannot_run_or_resolve(
    site: Site, differing: dict[str, str], browser: Browser, tabs: list[Tab]
) -> None:
    reconciled(site, differing)
    tab = await signed_in(browser, site, DESKTOP, "auditor")
    tabs.append(tab)
    page = tab.page
    await open_view(page)
    missing = page.locator("#rec-findings tbody tr", has_text=differing["missing"])
    await expect(missing).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(missing).to_contain_text("有捐赠记录、对账单无此笔")
    await expect(page.locator("#rec-form")).to_be_hidden()
    await expect(page.locator("#rec-findings button")).to_have_count(0)
    await expect(todays_run(page)).to_have_count(1)


async def test_the_view_fits_a_phone(
    site: Site, differing: dict[str, str], browser: Browser, tabs: list[Tab]
) -> None:
    reconciled(site, differing)
    tab = await signed_in(browser, site, PHONE, "finance")
    tabs.append(tab)
    page = tab.page
    await open_view(page)
    await expect(
        page.locator("#rec-findings tbody tr", has_text=differing["missing"])
    ).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(page.locator("#rec-form")).to_be_visible()
    assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), (
        await page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    )
    # nor inside it: the tables' scrolling boxes do not hide a long order number or a button
    overflowing = await page.evaluate(
        """() => [...document.querySelectorAll('#view-reconcile .table-wrap')]
            .filter((w) => w.scrollWidth > w.clientWidth).map((w) => w.id)"""
    )
    assert overflowing == [], overflowing
    await shot(page, "reconciliation-console-phone", full_page=True)
