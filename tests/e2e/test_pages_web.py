"""The pages in a real browser: Debian's Chromium, headless, driven by Playwright, against the
three services running as processes (the ``stack`` fixture).

- the public 阳光红会 page shows a new gift within seconds, without a reload (SSE);
- a donor finds the gift by its code and sees its use;
- the donation console records a gift (Chinese field errors first; a double click records one
  gift) and prints a receipt with a QR code that opens the tracking page;
- a warehouse keeper receives goods, the dispatch goes request → approval (the button is hidden
  for the requester) → FEFO pick list → ship → sign-off, and the public page shows it;
- the verify panel reports success, then failure after an entry is tampered with in the database.
- the API docs (Swagger UI) render with nothing loaded from another origin and no CSP violation.

Screenshots of the main pages go to ``.local/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from notification.log.entry import document_leaf_hash
from notification.log.jcs import canonicalize
from notification.log.merkle import root_of
from notification.service_layer.feed_metrics import SHANGHAI
from shared.config import ServiceSettings
from tests.e2e.conftest import Stack, token

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".local" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STAMP = str(int(time.time() * 1000))[-7:]
PROJECT = f"WEB{STAMP}"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def web_env(databases: dict[str, ServiceSettings]) -> Iterator[None]:
    """Tell the pages where the other services are (the stack runs on test ports)."""
    ports = {name: s.port for name, s in databases.items()}
    env = {
        "WAREHOUSE_WEB_DONATION_URL": f"http://127.0.0.1:{ports['donation']}",
        "WAREHOUSE_WEB_NOTIFICATION_URL": f"http://127.0.0.1:{ports['notification']}",
        "DONATION_WEB_PUBLIC_URL": f"http://127.0.0.1:{ports['notification']}/",
        "WAREHOUSE_WEB_PUBLIC_URL": f"http://127.0.0.1:{ports['notification']}/",
        "NOTIFICATION_WEB_TRACK_URL": f"http://127.0.0.1:{ports['donation']}/track",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def web(web_env: None, stack: Stack) -> Stack:
    return stack


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (scripts/test.sh does it)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


@pytest.fixture(scope="module")
async def public_page(browser: Browser, web: Stack) -> AsyncIterator[Page]:
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(web.url("notification") + "/")
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    yield page
    assert not errors, errors
    await page.close()


def api(stack: Stack, service: str, method: str, path: str, role: str, body: Any = None) -> Any:
    response = httpx.request(
        method,
        stack.url(service) + path,
        json=body,
        headers={
            "Authorization": f"Bearer {token(stack, role)}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
        timeout=20,
    )
    assert response.status_code < 300, (path, response.status_code, response.text)
    return response.json()


async def shot(page: Page, name: str, *, full_page: bool = False) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


async def login(page: Page, user: str) -> None:
    if await page.locator("#logout:not(.hidden)").count():
        await page.click("#logout")
    await page.fill("#username", user)
    await page.fill("#password", "sunshine-demo")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)


# --- public page --------------------------------------------------------------------------


async def test_public_page_shows_a_new_gift_live(web: Stack, public_page: Page) -> None:
    page = public_page
    await expect(page.locator("#live[data-state='live']")).to_have_count(1, timeout=TIMEOUT_MS)
    await page.evaluate("window.__noReload = 'still here'")
    api(
        web,
        "donation",
        "POST",
        "/api/v1/projects",
        "finance",
        {
            "code": PROJECT,
            "name": f"网页测试项目{STAMP}",
            "category": "emergency",
            "town": "溪口镇",
            "starts_on": "2026-01-01",
        },
    )
    started = time.monotonic()
    api(
        web,
        "donation",
        "POST",
        "/api/v1/donations",
        "finance",
        {
            "amount_fen": 66_600,
            "channel": "alipay",
            "display": "surname",
            "project_code": PROJECT,
            "donor": {"name": "钱网页", "phone": "13700001111"},
        },
    )
    entry = page.locator("#feed li", has_text="钱某 捐款 ¥666.00")
    await expect(entry.first).to_be_visible(timeout=10_000)
    assert time.monotonic() - started < 10
    assert await page.evaluate("window.__noReload") == "still here"  # no reload happened
    # totals and charts refresh from /summary; the charts are drawn (ECharts, served by us)
    await expect(page.locator("#t-received")).not_to_have_text("¥0", timeout=TIMEOUT_MS)
    await page.click("#lang-switch")  # English, and back
    await expect(page.locator("#feed-h span").first).to_have_text("Live feed")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await page.click("#lang-switch")
    await expect(page.locator("#feed-h span").first).to_have_text("实时公示")
    await expect(page.locator("#chart-month svg")).to_have_count(1, timeout=TIMEOUT_MS)
    assert await page.locator("#dl-csv").get_attribute("href") == "/api/v1/public/export.csv"
    track_link = web.url("donation") + "/track"
    await expect(page.locator("#track-link")).to_have_attribute("href", track_link)


async def test_filters_narrow_the_feed_and_the_download_links(public_page: Page) -> None:
    page = public_page
    await page.select_option("#f-kind", "donation.received")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("#dl-csv")).to_have_attribute(
        "href", "/api/v1/public/export.csv?kind=donation.received"
    )
    # the links change at once, the list when the filtered page has arrived
    await expect(page.locator("#feed[aria-busy='true']")).to_have_count(0, timeout=TIMEOUT_MS)
    titles = await page.locator("#feed li .title").all_inner_texts()
    assert titles
    assert all("捐" in t for t in titles), titles
    await page.click("#filters button[type=reset]")
    await expect(page.locator("#dl-csv")).to_have_attribute("href", "/api/v1/public/export.csv")
    await expect(page.locator("#feed[aria-busy='true']")).to_have_count(0, timeout=TIMEOUT_MS)


# --- donor tracking -----------------------------------------------------------------------


async def test_donor_finds_the_gift_by_code_and_sees_its_use(web: Stack, browser: Browser) -> None:
    gift = api(
        web,
        "donation",
        "POST",
        "/api/v1/donations",
        "finance",
        {
            "amount_fen": 100_000,
            "channel": "bank_transfer",
            "display": "named",
            "project_code": PROJECT,
            "donor": {"name": "陈追踪", "phone": "13700002222"},
        },
    )
    api(web, "donation", "POST", f"/api/v1/donations/{gift['id']}/receipt", "finance", {})
    disbursement = api(
        web,
        "donation",
        "POST",
        f"/api/v1/projects/{PROJECT}/disbursements",
        "finance",
        {
            "amount_fen": 160_000,
            "purpose": "为溪口镇受灾家庭购买饮用水",
            "recipient_type": "organization",
            "recipient_name": "溪口镇社会事务办",
            "town": "溪口镇",
            "voucher_no": f"PZ-{STAMP}",
            "disbursed_on": "2026-11-20",
        },
    )
    api(web, "donation", "POST", f"/api/v1/disbursements/{disbursement['id']}/approve", "approver")

    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    await page.goto(web.url("donation") + "/track")
    code = gift["tracking_code"].lower().replace("-", "")  # typed sloppily: still found
    await page.fill("#code", code)
    await page.press("#code", "Enter")
    timeline = page.locator("#timeline")
    await expect(timeline).to_contain_text("为溪口镇受灾家庭购买饮用水", timeout=TIMEOUT_MS)
    await expect(timeline.locator("li[data-event='used']")).to_have_count(1)
    await expect(timeline.locator("li[data-event='receipted']")).to_have_count(1)
    await expect(page.locator("#facts")).to_contain_text("¥1,000.00")
    assert page.url.endswith("/track/" + gift["tracking_code"])
    # Dates are Beijing time; the story runs top to bottom
    events = await timeline.locator("li").evaluate_all("ls => ls.map(l => l.dataset.event)")
    assert events.index("received") < events.index("receipted") < events.index("used")
    await shot(page, "track", full_page=True)

    # opened directly (the receipt's QR code), and in English
    await page.goto(web.url("donation") + "/track/" + gift["tracking_code"])
    await expect(page.locator("#timeline")).to_contain_text("饮用水", timeout=TIMEOUT_MS)
    await page.click("#lang-switch")
    await expect(page.locator("#timeline li[data-event='used'] .what")).to_have_text("Used")
    await page.click("#lang-switch")
    await page.goto(web.url("donation") + "/track/0000-0000-0000-0000-0000-0")
    await expect(page.locator("#status")).to_contain_text("没有找到", timeout=TIMEOUT_MS)
    await page.close()


# --- donation console ---------------------------------------------------------------------


async def test_donation_console_records_a_gift_once_and_prints_a_receipt_with_qr(
    web: Stack, browser: Browser
) -> None:
    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    await page.goto(web.url("donation") + "/console/donation")
    await login(page, "auditor")
    # role-aware: the auditor reads, never records
    await expect(page.locator("#menu button[data-view='audit']")).to_be_visible()
    await expect(page.locator("#menu button[data-view='record']")).to_be_hidden()
    await login(page, "finance")
    await expect(page.locator("#menu button[data-view='audit']")).to_be_hidden()
    await page.click("#menu button[data-view='record']")

    form = page.locator("#record-form")
    await page.fill("#r-name", "")
    await page.fill("#r-amount", "")
    await form.locator("button[type=submit]").click()
    await expect(form.locator("#r-name ~ .error, .field:has(#r-name) .error")).to_have_text(
        "此项必填"
    )
    await expect(page.locator("#r-name")).to_have_attribute("aria-invalid", "true")

    name = f"网页捐{STAMP}"
    await page.fill("#r-amount", "88.80")
    await page.fill("#r-name", name)
    await page.fill("#r-phone", "123")  # not a mobile number
    await form.locator("button[type=submit]").click()
    await expect(form.locator(".field:has(#r-phone) .error")).to_have_text("请输入 11 位手机号")
    await page.fill("#r-phone", "13700003333")
    await page.select_option("#r-project", PROJECT)
    await form.locator("button[type=submit]").dblclick()  # a double click: one gift
    await expect(page.locator("#new-tracking-code")).to_be_visible(timeout=TIMEOUT_MS)

    gifts = api(web, "donation", "GET", "/api/v1/donations?limit=100", "finance")["items"]
    mine = [g for g in gifts if g["donor"]["name"] == name]
    assert len(mine) == 1, mine
    assert mine[0]["amount_fen"] == 8880
    assert mine[0]["receipt_no"]

    await page.click("#record-status button.link")  # print the receipt
    receipt = page.locator("#receipt")
    await expect(receipt).to_contain_text(mine[0]["receipt_no"])
    await expect(receipt.locator("#receipt-qr")).to_be_visible()
    alt = await receipt.locator("#receipt-qr").get_attribute("alt")
    assert alt is not None
    assert alt.endswith("/track/" + mine[0]["tracking_code"])
    await shot(page, "receipt")

    # four eyes: the finance officer enters a disbursement and cannot approve it
    await page.click("#receipt-back")
    await page.click("#menu button[data-view='disbursements']")
    await page.click("#disb-new summary")
    await page.select_option("#d-project", PROJECT)
    await page.fill("#d-amount", "50")
    await page.fill("#d-rname", "溪口镇敬老院")
    await page.fill("#d-voucher", f"PZ-W{STAMP}")
    await page.fill("#d-purpose", "购买取暖器")
    await page.click("#disb-form button[type=submit]")
    row = page.locator("#disb-table tr", has_text="购买取暖器")
    await expect(row).to_contain_text("待他人审批", timeout=TIMEOUT_MS)
    await expect(row.locator("button.approve")).to_have_count(0)
    await login(page, "approver")
    await page.click("#menu button[data-view='disbursements']")
    row = page.locator("#disb-table tr", has_text="购买取暖器")
    await row.locator("button.approve").click()
    await expect(row).to_contain_text("已批准", timeout=TIMEOUT_MS)
    await login(page, "finance")
    await page.click("#menu button[data-view='reports']")
    await expect(page.locator("#rep-table")).to_contain_text("合计", timeout=TIMEOUT_MS)
    await shot(page, "donation-console")

    # a new project from the console; a receipt voided (the reprint is stamped void)
    await page.click("#menu button[data-view='projects']")
    await page.click("#project-new summary")
    await page.fill("#p-code", "bad code!")
    await page.fill("#p-name", "社区应急包")
    await page.click("#project-form button[type=submit]")
    await expect(page.locator(".field:has(#p-code) .error")).to_have_text(
        "2–32 位字母、数字、- 或 _"
    )
    await page.fill("#p-code", f"KIT{STAMP}")
    await page.click("#project-form button[type=submit]")
    await expect(page.locator("#project-status")).to_contain_text("已新建", timeout=TIMEOUT_MS)
    await expect(page.locator("#projects-table")).to_contain_text(f"KIT{STAMP}")
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("抬头写错，重开")))
    await page.click("#menu button[data-view='gifts']")
    row = page.locator("#gifts-table tr", has_text=name)
    await row.get_by_role("button", name="作废票据").click()
    await expect(page.locator("#gifts-status")).to_contain_text("票据已作废", timeout=TIMEOUT_MS)
    row = page.locator("#gifts-table tr", has_text=name)
    await row.get_by_role("button", name="开具票据").click()  # re-issued under a new number
    await expect(page.locator("#gifts-status")).to_contain_text("已开具票据", timeout=TIMEOUT_MS)
    reissued = api(web, "donation", "GET", f"/api/v1/donations/{mine[0]['id']}", "finance")
    assert reissued["receipt_no"] not in (None, mine[0]["receipt_no"])
    await page.close()


# --- warehouse console: receive, dispatch, sign-off ----------------------------------------


async def test_keeper_and_approver_take_a_dispatch_to_sign_off_and_the_public_sees_it(
    web: Stack, browser: Browser, public_page: Page
) -> None:
    warehouse, item = f"WHW{STAMP}", f"WATER-W{STAMP}"
    # expires in 20 days: near expiry (30-day window) yet still picked (7-day floor)
    expiry = (datetime.now(SHANGHAI).date() + timedelta(days=20)).isoformat()
    api(
        web,
        "warehouse",
        "POST",
        "/api/v1/warehouses",
        "warehouse",
        {"code": warehouse, "name": f"网页测试仓库{STAMP}", "kind": "district", "town": "岳林街道"},
    )
    api(
        web,
        "warehouse",
        "POST",
        "/api/v1/items",
        "warehouse",
        {
            "code": item,
            "name": "瓶装水",
            "category": "water",
            "unit": "箱",
            "unit_value_fen": 3_000,
            "default_safety_stock": 20,
        },
    )
    gift = api(
        web,
        "donation",
        "POST",
        "/api/v1/donations",
        "finance",
        {
            "kind": "goods",
            "channel": "on_site",
            "display": "named",
            "donor": {"name": "奉化网页超市", "donor_type": "organization"},
            "items": [
                {
                    "item_code": item,
                    "name": "瓶装水",
                    "quantity": 40,
                    "unit": "箱",
                    "value_fen": 120_000,
                    "expiry_date": expiry,
                }
            ],
        },
    )

    page = await browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    await page.goto(web.url("warehouse") + "/console/warehouse")
    await login(page, "warehouse")  # the keeper (login forwarded to the donation service)

    # receive the goods gift announced by the donation service
    await page.click("#menu button[data-view='receive']")
    row = page.locator("#inbounds-table tr", has_text="奉化网页超市")
    for _ in range(30):
        if await row.count():
            break
        await asyncio.sleep(0.5)
        await page.click("#menu button[data-view='receive']")
    await row.locator("button").click()
    await page.select_option("#c-wh", warehouse)
    await page.click("#confirm-form button[type=submit]")
    await expect(page.locator("#recv-status")).to_contain_text("已入库", timeout=TIMEOUT_MS)
    await page.click("#menu button[data-view='stock']")
    await expect(page.locator("#stock-table")).to_contain_text("瓶装水", timeout=TIMEOUT_MS)

    # the request: by an administrator (who holds the approver role too) — no approve button
    await login(page, "admin")
    await page.click("#menu button[data-view='dispatch']")
    await page.click("#disp-new summary")
    await page.select_option("#q-from", warehouse)
    await page.fill("#q-dname", "溪口镇红十字救灾站")
    await page.select_option("#q-town", "溪口镇")
    await page.select_option("#q-item", item)
    await page.fill("#q-qty", "0")
    await page.click("#disp-form button[type=submit]")
    await expect(page.locator(".field:has(#q-qty) .error")).to_have_text("数值不能小于 1")
    await page.fill("#q-qty", "25")
    await page.click("#disp-form button[type=submit]")
    await expect(page.locator("#disp-form-status")).to_contain_text("等待审批", timeout=TIMEOUT_MS)
    mine = page.locator("#disp-table tr.dispatch-requested", has_text="溪口镇红十字救灾站")
    await expect(mine).to_contain_text("待他人审批")
    await expect(mine.locator("button[data-action='approve']")).to_have_count(0)
    # this dispatch's rows from here on: other tests of the run raise dispatches too
    found = re.search(r"DP-\d{4}-\d{6}", await mine.first.inner_text())
    assert found is not None
    number = found.group(0)

    # the approver signs it off
    await login(page, "approver")
    await page.click("#menu button[data-view='dispatch']")
    await (
        page.locator("#disp-table tr.dispatch-requested", has_text=number)
        .locator("button[data-action='approve']")
        .click()
    )
    await expect(page.locator("#disp-status")).to_contain_text("已批准", timeout=TIMEOUT_MS)

    # the keeper picks (FEFO pick list, printable), ships with a waybill, records sign-off
    await login(page, "warehouse")
    await page.click("#menu button[data-view='dispatch']")
    await (
        page.locator("#disp-table tr.dispatch-approved", has_text=number)
        .locator("button[data-action='pick']")
        .click()
    )
    picklist = page.locator("#picklist")
    await expect(picklist).to_contain_text("拣货单", timeout=TIMEOUT_MS)
    await expect(picklist).to_contain_text(expiry)
    await shot(page, "picklist")
    await page.click("#pick-back")
    await (
        page.locator("#disp-table tr.dispatch-picked", has_text=number)
        .locator("button[data-action='ship']")
        .click()
    )
    await page.fill("#sh-waybill", f"SF{STAMP}")
    await page.click("#ship-form button[type=submit]")
    await expect(page.locator("#disp-status")).to_contain_text("已发运", timeout=TIMEOUT_MS)
    await (
        page.locator("#disp-table tr.dispatch-shipped", has_text=number)
        .locator("button[data-action='sign-off']")
        .click()
    )
    await page.fill("#dv-name", "李建华")
    await page.fill("#dv-org", "溪口镇人民政府")
    await page.click("#deliver-form button[type=submit]")
    await expect(page.locator("#disp-status")).to_contain_text("已签收", timeout=TIMEOUT_MS)
    # 40 received - 25 sent = 15 < safety stock 20: red row; the lot is near expiry
    await page.click("#menu button[data-view='stock']")
    low = page.locator("#stock-table tr.low", has_text="瓶装水")
    await expect(low).to_contain_text("15 箱", timeout=TIMEOUT_MS)
    await expect(low).to_contain_text("近效期")
    await expect(page.locator("#lots-table")).to_contain_text(expiry)
    await shot(page, "warehouse-console")

    # a stock count finds one box short (damaged): one adjustment, stock 14
    await page.click("#menu button[data-view='count']")
    await expect(page.locator("#view-count:not([aria-busy])")).to_have_count(1)
    await page.select_option("#k-wh", warehouse)
    await expect(page.locator("#k-lot option")).to_have_count(1, timeout=TIMEOUT_MS)
    await page.fill("#k-qty", "14")
    await page.select_option("#k-reason", "damaged")
    await page.click("#count-form button[type=submit]")
    await expect(page.locator("#count-status")).to_contain_text("调整 1 项", timeout=TIMEOUT_MS)
    await page.click("#menu button[data-view='stock']")
    await expect(page.locator("#view-stock:not([aria-busy])")).to_have_count(1)
    await expect(page.locator("#stock-table tr.low")).to_contain_text("14 箱")

    # the stock alert raised from the same events, acknowledged with a note
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept("已申请补货")))
    alert = page.locator("#alerts-table tr", has_text="瓶装水")
    for _ in range(40):
        await page.click("#menu button[data-view='alerts']")
        if await alert.count():
            break
        await asyncio.sleep(0.5)
    await alert.first.locator("button").click()
    await expect(page.locator("#alerts-status")).to_contain_text("已确认", timeout=TIMEOUT_MS)
    await expect(alert.first).to_contain_text("已确认（warehouse）")
    await page.close()

    # the public page, still open, shows the delivery live
    delivered = public_page.locator("#feed li", has_text="物资已送达 溪口镇 并签收")
    await expect(delivered.first).to_be_visible(timeout=20_000)
    await expect(public_page.locator("#t-goods-out")).not_to_have_text("0", timeout=TIMEOUT_MS)
    await public_page.evaluate("window.scrollTo(0, 0)")
    await public_page.wait_for_timeout(500)
    await shot(public_page, "transparency")
    # and the donor sees the goods' journey
    track = httpx.get(f"{web.url('donation')}/api/v1/track/{gift['tracking_code']}").json()
    assert {g["stage"] for g in track["goods"]} >= {"in_stock", "dispatched"}


# --- verify panel -------------------------------------------------------------------------


async def set_title(conn: asyncpg.Connection, entry_id: str | None, title: str) -> None:
    async with conn.transaction():
        await conn.execute("ALTER TABLE feed_entries DISABLE TRIGGER feed_entries_no_update")
        await conn.execute("UPDATE feed_entries SET title = $2 WHERE id = $1", entry_id, title)
        await conn.execute("ALTER TABLE feed_entries ENABLE TRIGGER feed_entries_no_update")


async def test_verify_panel_succeeds_then_fails_after_tampering(
    web: Stack, databases: dict[str, ServiceSettings], public_page: Page
) -> None:
    page = public_page
    # the browser's canonical JSON is the server's (RFC 8785), byte for byte
    tricky = {"b": [1, None, True], "a": '引号"\\\n\u0001é', "€": {"z": 0, "A": -5}, "\u00e9": ""}
    in_browser = await page.evaluate(
        "async (doc) => (await import('/assets/page/verify.js')).canonicalize(doc)", tricky
    )
    assert in_browser.encode() == canonicalize(tricky)

    # consistency proofs (RFC 9162 §2.1.4) check out in the browser; a wrong root does not
    public = web.url("notification") + "/api/v1/public"
    head = httpx.get(public + "/tree-head").json()
    size = head["tree_size"]
    entries = httpx.get(public + "/log/entries", params={"start": 0, "end": size}).json()
    leaves = [document_leaf_hash(e["entry"]) for e in entries["entries"]]
    assert len(leaves) == size >= 4
    assert base64.b64encode(root_of(leaves)).decode() == head["root_hash"]
    for first in sorted({1, 2, 3, size // 2, size - 1}):
        old_root = base64.b64encode(root_of(leaves[:first])).decode()
        proof = httpx.get(public + "/proofs/consistency", params={"first": first, "second": size})
        path = proof.json()["consistency_path"]
        for second_root, expected in ((head["root_hash"], True), (old_root, False)):
            verdict = await page.evaluate(
                "async ([a, b, r1, r2, p]) => (await import('/assets/page/verify.js'))"
                ".verifyConsistency(a, b, r1, r2, p)",
                [first, size, old_root, second_root, path],
            )
            assert verdict is expected, (first, size, expected)

    await page.reload()
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    item = page.locator("#feed li", has_text="钱某 捐款 ¥666.00").first
    entry_id = await item.get_attribute("data-id")
    await item.locator(".verify-btn").click()
    result = page.locator("#v-result")
    # a fresh entry may wait for the next signed head (every few seconds): the panel retries
    await expect(result).to_have_attribute("data-outcome", "ok", timeout=30_000)
    await expect(result).to_contain_text("核验通过")
    await page.click("#v-details summary")
    await shot(page, "verify-ok")

    settings = databases["notification"]
    conn = await asyncpg.connect(settings.asyncpg_dsn)
    original = await conn.fetchval("SELECT title FROM feed_entries WHERE id = $1", entry_id)
    try:
        # someone with database access edits a published entry (switching the append-only
        # trigger off for the edit, as such a person could)
        await set_title(conn, entry_id, original.replace("666.00", "6.00"))
        await page.reload()
        await expect(page.locator("body[data-ready='1']")).to_have_count(1)
        tampered = page.locator("#feed li", has_text="钱某 捐款 ¥6.00").first
        await tampered.locator(".verify-btn").click()
        await expect(result).to_have_attribute("data-outcome", "failed", timeout=TIMEOUT_MS)
        await expect(result).to_contain_text("核验失败")
        await shot(page, "verify-failed")
    finally:
        await set_title(conn, entry_id, original)
        await conn.close()
    await page.reload()
    await expect(page.locator("body[data-ready='1']")).to_have_count(1)
    await (
        page.locator("#feed li", has_text="钱某 捐款 ¥666.00").first.locator(".verify-btn").click()
    )
    await expect(result).to_have_attribute("data-outcome", "ok", timeout=TIMEOUT_MS)
    await expect(page.locator("#v-steps")).to_contain_text("未被改写")  # consistency checked

    # a different signing key than at the last check is refused until the visitor forgets it
    await page.evaluate(
        """() => {
          const seen = JSON.parse(localStorage.getItem("sunshine.lastVerifiedHead"));
          seen.key_id = "00".repeat(32);
          localStorage.setItem("sunshine.lastVerifiedHead", JSON.stringify(seen));
        }"""
    )
    await page.click("#v-run")
    await expect(result).to_have_attribute("data-outcome", "failed", timeout=TIMEOUT_MS)
    await expect(result).to_contain_text("签名密钥")
    await page.click("#v-forget")
    await page.click("#v-run")
    await expect(result).to_have_attribute("data-outcome", "ok", timeout=TIMEOUT_MS)


# --- accessibility (WCAG 2.1 AA basics) and keyboard use ------------------------------------

AUDIT = r"""() => {
  const problems = [];
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== "hidden";
  const name = (el) => (el.getAttribute("aria-label") || el.textContent || el.value || "").trim();
  if (!document.documentElement.lang) problems.push("no lang");
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || !visible(el)) continue;
    if (!el.labels.length && !el.getAttribute("aria-label")) problems.push("no label: " + el.id);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (visible(el) && !name(el)) problems.push("no name: " + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll("img")) {
    if (!el.hasAttribute("alt")) problems.push("no alt: " + el.src.slice(0, 60));
  }
  const rgba = (c) => (c.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c;
    }
    return [255, 255, 255];
  };
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") || !visible(el) || el.disabled) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const ratio = (a, b) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const r = ratio(lum(rgba(style.color)), lum(background(el)));
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const text = el.textContent.trim().slice(0, 30);
    if (r < (large ? 3 : 4.5)) problems.push(`contrast ${r.toFixed(2)}: ${text}`);
  }
  return problems;
}"""


async def test_pages_pass_basic_accessibility_checks_and_work_by_keyboard(
    web: Stack, browser: Browser, public_page: Page
) -> None:
    assert await public_page.evaluate(AUDIT) == []
    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    await page.goto(web.url("donation") + "/track")
    assert await page.evaluate(AUDIT) == []
    await page.goto(web.url("warehouse") + "/console/warehouse")
    await expect(page.locator("#username")).to_be_focused(timeout=TIMEOUT_MS)
    assert await page.evaluate(AUDIT) == []
    # keyboard only: type, Tab, type, Enter
    await page.keyboard.type("dispatcher")
    await page.keyboard.press("Tab")
    await page.keyboard.type("sunshine-demo")
    await page.keyboard.press("Enter")
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)
    # role-aware: a dispatcher requests dispatches but neither receives goods nor counts stock
    await expect(page.locator("#menu button[data-view='receive']")).to_be_hidden()
    await expect(page.locator("#menu button[data-view='count']")).to_be_hidden()
    await page.keyboard.press("Shift+Tab")  # menu buttons are reachable and operable by key
    await page.locator("#menu button[data-view='dispatch']").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#view-dispatch")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#disp-table")).to_contain_text("DP-", timeout=TIMEOUT_MS)
    assert await page.evaluate(AUDIT) == []
    await shot(page, "warehouse-phone", full_page=True)
    await page.goto(web.url("donation") + "/console/donation")
    await login(page, "auditor")
    await page.click("#menu button[data-view='audit']")
    await expect(page.locator("#audit-table table")).to_be_visible(timeout=TIMEOUT_MS)
    assert await page.evaluate(AUDIT) == []
    await page.close()


def test_only_allow_listed_assets_are_served(web: Stack) -> None:
    """The vendored files are an allow-list; nothing else under node_modules is served."""
    base = web.url("notification")
    assert httpx.get(base + "/assets/vendor/echarts.esm.min.mjs").status_code == 200
    assert httpx.get(base + "/assets/vendor/package.json").status_code == 404
    assert httpx.get(base + "/assets/page/..%2F__init__.py").status_code == 404
    page = httpx.get(base + "/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert json.loads(httpx.get(base + "/web-config.json").text)["public_url"]


# --- API docs -----------------------------------------------------------------------------

CSP_WATCH = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});"""


async def test_api_docs_render_swagger_ui_from_our_own_origin(web: Stack, browser: Browser) -> None:
    """/api/docs of the donation service (the origin that issues staff tokens): Swagger UI
    renders the operations with every request kept on the service's own origin — one to any
    other origin is recorded and refused — and the CSP reports no violation."""
    base = web.url("donation")
    context = await browser.new_context(locale="zh-CN")
    foreign: list[str] = []

    async def refuse(route: Route) -> None:
        foreign.append(route.request.url)
        await route.abort()

    await context.route(lambda url: not url.startswith(base + "/"), refuse)
    await context.add_init_script(CSP_WATCH)
    page = await context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" or "Content Security Policy" in m.text
            else None
        ),
    )
    try:
        await page.goto(base + "/api/docs", wait_until="networkidle")
        assert not foreign, f"requests to other origins: {foreign}"
        await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Donation service")
        operations = page.locator(".swagger-ui .opblock")
        await expect(operations.first).to_be_visible(timeout=TIMEOUT_MS)
        assert await operations.count() > 10
        await expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/auth/token")
        # an operation opens, and its details (parameters, responses) show
        await page.locator(".opblock-summary", has_text="/api/v1/auth/token").first.click()
        await expect(page.locator(".opblock.is-open .responses-wrapper")).to_be_visible()
        await shot(page, "api-docs")
        # "Try it out" calls the service from the page (connect-src 'self')
        health = page.locator(
            ".opblock", has=page.locator(".opblock-summary-path", has_text="/healthz")
        )
        await health.locator(".opblock-summary").click()
        await health.locator("button.try-out__btn").click()
        await health.locator("button.execute").click()
        await expect(
            health.locator(".live-responses-table td.response-col_status:not(.col_header)")
        ).to_contain_text("200", timeout=TIMEOUT_MS)
        violations = await page.evaluate("window.__cspViolations")
    finally:
        await context.close()
    assert not foreign, f"requests to other origins: {foreign}"
    elsewhere = [u for u in requested if not u.startswith((base + "/", "data:", "blob:"))]
    assert not elsewhere, elsewhere
    assert base + "/api/v1/openapi.json" in requested
    assert not violations, f"CSP violations: {violations}"
    assert not problems, problems


# --- tracking codes -----------------------------------------------------------------------


CHECK_SYMBOLS = "*~$="  # Crockford's check symbols outside the code alphabet (and U)


async def test_a_code_ending_in_a_check_symbol_is_found(web: Stack, browser: Browser) -> None:
    """About one code in nine ends in * ~ $ or =; the page once dropped that symbol.

    Last in the module: the gifts it records would push the earlier tests' entries off the
    public page's first page."""
    headers = {"Authorization": f"Bearer {token(web, 'finance')}"}
    gift: dict[str, Any] = {}
    with httpx.Client(base_url=web.url("donation"), headers=headers, timeout=20) as client:
        for n in range(400):  # P(no such code in 400) is about 1e-20
            response = client.post(
                "/api/v1/donations",
                json={"amount_fen": 100 + n, "channel": "alipay", "donor": {"name": "符号"}},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert response.status_code == 201, response.text
            if response.json()["tracking_code"][-1] in CHECK_SYMBOLS:
                gift = response.json()
                break
    assert gift, "no code ended in a check symbol"
    code = gift["tracking_code"]
    page = await browser.new_page(locale="zh-CN")
    await page.goto(web.url("donation") + "/track")
    await page.fill("#code", code.lower().replace("-", " "))  # typed sloppily
    await page.press("#code", "Enter")
    await expect(page.locator("#facts")).to_contain_text("¥", timeout=TIMEOUT_MS)
    assert page.url.endswith("/track/" + code)
    # opened from the receipt's QR code (the symbol percent-encoded in the link)
    await page.goto(web.url("donation") + "/track/" + quote(code, safe=""))
    await expect(page.locator("#facts")).to_contain_text("¥", timeout=TIMEOUT_MS)
    await page.close()
