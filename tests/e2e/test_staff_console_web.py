"""The console's organisation and account pages in a real browser (Debian's Chromium, headless,
driven by Playwright) against the three services running as processes:

- the organisation page lists the district branch and the 12 town branches;
- an admin creates an account of 溪口镇 with a generated initial password, sees it listed, and
  the new holder's first login asks for their own password, then logs them in;
- the pages pass the basic accessibility checks, with no page error and no CSP violation.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.config import ServiceSettings
from shared.organisations import SEED
from tests.e2e.conftest import Stack, token
from tests.e2e.test_pages_web import AUDIT, CSP_WATCH

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".local" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMEOUT_MS = 15_000
USER = f"web-keeper-{int(time.time() * 1000) % 10_000_000}"


@pytest.fixture(scope="module")
def web(databases: dict[str, ServiceSettings]) -> Iterator[None]:
    """Tell the warehouse console where the donation service is (set before the stack starts:
    the processes read it at start)."""
    key = "WAREHOUSE_WEB_DONATION_URL"
    saved = os.environ.get(key)
    os.environ[key] = f"http://127.0.0.1:{databases['donation'].port}"
    yield
    if saved is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = saved


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (scripts/test.sh does it)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


async def console(browser: Browser, stack: Stack) -> tuple[Page, list[str]]:
    page = await browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.add_init_script(CSP_WATCH)
    await page.goto(stack.url("donation") + "/console/donation")
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    return page, errors


async def login(page: Page, user: str, password: str = "sunshine-demo") -> None:
    if await page.locator("#logout:not(.hidden)").count():
        await page.click("#logout")
    await page.fill("#username", user)
    await page.fill("#password", password)
    await page.click("#login-form button[type=submit]")


async def test_the_organisation_page_lists_the_thirteen_organisations(
    web: None, stack: Stack, browser: Browser
) -> None:
    page, errors = await console(browser, stack)
    await login(page, "warehouse")  # any staff member reads the register
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#menu button[data-view='accounts']")).to_be_hidden()
    await page.click("#menu button[data-view='orgs']")
    table = page.locator("#orgs-table table")
    await expect(table).to_be_visible(timeout=TIMEOUT_MS)
    for org in SEED:
        await expect(table.locator(f"tr.org-{org.code}")).to_contain_text(org.name)
    assert await table.locator("tbody tr").count() >= len(SEED) == 13
    await expect(table.locator("tr.org-FH")).to_contain_text("区红十字会")
    await expect(table.locator("tr.org-XK")).to_contain_text("溪口镇")
    await expect(page.locator("#org-new")).to_be_hidden()  # registering is a district admin's
    assert await page.evaluate(AUDIT) == []
    assert await page.evaluate("window.__cspViolations") == []
    assert not errors, errors
    await page.close()


async def test_an_admin_creates_an_account_and_its_holder_sets_a_password(
    web: None, stack: Stack, browser: Browser
) -> None:
    page, errors = await console(browser, stack)
    await login(page, "admin")
    await expect(page.locator("#menu button[data-view='accounts']")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    await page.click("#menu button[data-view='accounts']")
    await expect(page.locator("#accounts-table table")).to_contain_text(
        "keeper-xk", timeout=TIMEOUT_MS
    )
    await page.click("#account-new summary")
    await page.fill("#s-username", USER)
    await page.fill("#s-name", "溪口仓管 网页")
    await page.select_option("#s-org", "XK")
    await page.check("#s-roles input[value=warehouse]")
    await page.click("#account-form button[type=submit]")
    issued = page.locator("#new-initial-password")
    await expect(issued).to_be_visible(timeout=TIMEOUT_MS)
    password = (await issued.text_content() or "").strip()
    assert len(password) >= 10
    row = page.locator(f"#accounts-table tr.account-{USER}")
    await expect(row).to_contain_text("溪口镇红十字会")
    await expect(row).to_contain_text("待改初始密码")
    assert await page.evaluate(AUDIT) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "console-accounts.png"), full_page=True)

    # the account as the API sees it: created by the admin, in 溪口镇, no token yet
    listed = httpx.get(
        stack.url("donation") + f"/api/v1/staff/{USER}",
        headers={"Authorization": f"Bearer {token(stack, 'admin')}"},
        timeout=10,
    ).json()
    assert listed["org_code"] == "XK"
    assert listed["roles"] == ["warehouse"]
    assert listed["must_change_password"] is True

    # the holder's first login: their own password first, then they are in
    await login(page, USER, password)
    await expect(page.locator("#pwchange-view")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#menu")).to_be_hidden()
    await page.fill("#pw-new", "Xikou-Shuimitao-2026")
    await page.fill("#pw-again", "Xikou-Shuimitao-2027")
    await page.click("#pwchange-form button[type=submit]")
    await expect(page.locator("#pwchange-status")).to_contain_text("两次输入的新密码不一致")
    await page.fill("#pw-again", "Xikou-Shuimitao-2026")
    await page.click("#pwchange-form button[type=submit]")
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#pwchange-view")).to_be_hidden()
    await expect(page.locator("#whoami")).to_contain_text("溪口仓管 网页")
    assert await page.evaluate("window.__cspViolations") == []
    assert not errors, errors
    await page.close()


async def test_the_warehouse_console_asks_a_new_keeper_for_their_own_password(
    web: None, stack: Stack, browser: Browser
) -> None:
    user = f"{USER}-wh"
    created = httpx.post(
        stack.url("donation") + "/api/v1/staff",
        json={
            "username": user,
            "display_name": "大堰仓管 新人",
            "org_code": "DY",
            "roles": ["warehouse"],
            "password": "Dayan-Chushi-2026",
        },
        headers={
            "Authorization": f"Bearer {token(stack, 'admin')}",
            "Idempotency-Key": str(uuid.uuid4()),
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    page = await browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(stack.url("warehouse") + "/console/warehouse")
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    await login(page, user, "Dayan-Chushi-2026")
    await expect(page.locator("#pwchange-view")).to_be_visible(timeout=TIMEOUT_MS)
    await page.fill("#pw-new", "123456789012")
    await page.fill("#pw-again", "123456789012")
    await page.click("#pwchange-form button[type=submit]")
    await expect(page.locator("#pwchange-status")).to_contain_text("不能全是数字")
    await page.fill("#pw-new", "Dayan-Shanshui-2026")
    await page.fill("#pw-again", "Dayan-Shanshui-2026")
    await page.click("#pwchange-form button[type=submit]")
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#whoami")).to_contain_text("大堰仓管 新人")
    assert await page.evaluate(AUDIT) == []
    assert not errors, errors
    await page.close()
