"""The console's organisation and account pages in a real browser (Debian's Chromium, headless,
driven by Playwright) against the three services running as processes:

- the organisation page lists the district branch and the 12 town branches;
- an admin creates an account of 溪口镇 with a generated initial password, sees it listed, and
  the new holder's first login asks for their own password, then logs them in;
- an admin edits an account's roles, organisation and name in the editor dialog; the API shows
  the change and the holder's token is refused (roles or organisation changed);
- an edit saved after someone else changed the account is refused (412) with a clear message,
  changes nothing, and the editor shows the account as it now is;
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
from tests.e2e.conftest import Stack, token, wait_for
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


def admin_headers(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(stack, 'admin')}"}


def new_account(stack: Stack, user: str, display_name: str, password: str) -> dict[str, object]:
    """A 溪口镇 warehouse keeper created through the API (with the initial password given)."""
    created = httpx.post(
        stack.url("donation") + "/api/v1/staff",
        json={
            "username": user,
            "display_name": display_name,
            "org_code": "XK",
            "roles": ["warehouse"],
            "password": password,
        },
        headers=admin_headers(stack) | {"Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    body: dict[str, object] = created.json()
    return body


def account(stack: Stack, user: str) -> dict[str, object]:
    response = httpx.get(
        stack.url("donation") + f"/api/v1/staff/{user}", headers=admin_headers(stack), timeout=10
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def open_editor(page: Page, user: str) -> None:
    """The admin's accounts page, then the 编辑 button of ``user``'s row."""
    await login(page, "admin")
    await expect(page.locator("#menu button[data-view='accounts']")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    await page.click("#menu button[data-view='accounts']")
    row = page.locator(f"#accounts-table tr.account-{user}")
    await expect(row).to_contain_text("仓管员", timeout=TIMEOUT_MS)
    await row.locator("button.edit").click()
    await expect(page.locator("#account-edit-dialog")).to_be_visible()
    await expect(page.locator("#account-edit-user")).to_have_text(user)


async def test_an_admin_edits_an_accounts_roles_and_organisation(
    web: None, stack: Stack, browser: Browser
) -> None:
    user = f"{USER}-ed"
    before = new_account(stack, user, "溪口仓管 改前", "Xikou-Chushi-2026")
    # its holder sets a password and logs in: a token the edit must end
    changed = httpx.post(
        stack.url("donation") + "/api/v1/auth/password",
        json={
            "username": user,
            "old_password": "Xikou-Chushi-2026",
            "new_password": "Xikou-Zhuxi-2026",
        },
        timeout=10,
    )
    assert changed.status_code == 204, changed.text
    holder = httpx.post(
        stack.url("donation") + "/api/v1/auth/token",
        data={"username": user, "password": "Xikou-Zhuxi-2026"},
        timeout=10,
    )
    assert holder.status_code == 200, holder.text
    me = stack.url("donation") + "/api/v1/auth/me"
    holder_auth = {"Authorization": f"Bearer {holder.json()['access_token']}"}
    assert httpx.get(me, headers=holder_auth, timeout=10).status_code == 200
    version = int(str(account(stack, user)["version"]))
    assert version >= int(str(before["version"]))

    page, errors = await console(browser, stack)
    await open_editor(page, user)
    # the editor shows the account as it is; a district admin may choose any active branch
    await expect(page.locator("#e-name")).to_have_value("溪口仓管 改前")
    await expect(page.locator("#e-org")).to_have_value("XK")
    await expect(page.locator("#e-roles input[value=warehouse]")).to_be_checked()
    await expect(page.locator("#e-roles input[value=dispatcher]")).not_to_be_checked()
    assert await page.locator("#e-org option").count() >= len(SEED)
    assert await page.evaluate(AUDIT) == []

    # warehouse → warehouse + dispatcher, 溪口镇 → 大堰镇, a new name
    await page.check("#e-roles input[value=dispatcher]")
    await page.select_option("#e-org", "DY")
    await page.fill("#e-name", "大堰调度 改后")
    await page.click("#account-edit-form button[type=submit]")
    await expect(page.locator("#account-edit-dialog")).to_be_hidden(timeout=TIMEOUT_MS)
    status = page.locator("#accounts-status")
    await expect(status).to_contain_text("已保存 大堰调度 改后")
    await expect(status).to_contain_text("登录已失效")
    row = page.locator(f"#accounts-table tr.account-{user}")
    await expect(row).to_contain_text("仓管员")
    await expect(row).to_contain_text("调度员")
    await expect(row).to_contain_text("大堰镇红十字会")
    await expect(row).to_contain_text("大堰调度 改后")

    after = account(stack, user)
    assert after["roles"] == ["dispatcher", "warehouse"]
    assert after["org_code"] == "DY"
    assert after["display_name"] == "大堰调度 改后"
    assert after["version"] == version + 1
    # the holder's token is refused now (the API revoked it: roles and organisation changed)
    wait_for(lambda: httpx.get(me, headers=holder_auth, timeout=10).status_code == 401, timeout=10)

    # a name alone: saved, and no session ends
    await row.locator("button.edit").click()
    await expect(page.locator("#e-roles input[value=dispatcher]")).to_be_checked()
    await expect(page.locator("#e-org")).to_have_value("DY")
    await page.fill("#e-name", "大堰调度 再改")
    await page.click("#account-edit-form button[type=submit]")
    await expect(status).to_contain_text("已保存 大堰调度 再改", timeout=TIMEOUT_MS)
    await expect(status).not_to_contain_text("登录已失效")
    again = account(stack, user)
    assert again["display_name"] == "大堰调度 再改"
    assert again["roles"] == ["dispatcher", "warehouse"]
    assert again["version"] == version + 2

    # unchecking every role is refused in the page, before any request
    await row.locator("button.edit").click()
    for box in ("warehouse", "dispatcher"):
        await page.uncheck(f"#e-roles input[value={box}]")
    await page.click("#account-edit-form button[type=submit]")
    await expect(page.locator("#account-edit-status")).to_contain_text("请至少选择一个角色")
    await page.click("#account-edit-dialog [data-close]")
    await expect(page.locator("#account-edit-dialog")).to_be_hidden()
    assert account(stack, user)["version"] == version + 2

    assert await page.evaluate(AUDIT) == []
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "console-account-edited.png"), full_page=True)
    assert await page.evaluate("window.__cspViolations") == []
    assert not errors, errors
    await page.close()


async def test_an_edit_of_an_account_changed_meanwhile_is_refused_and_changes_nothing(
    web: None, stack: Stack, browser: Browser
) -> None:
    user = f"{USER}-st"
    new_account(stack, user, "溪口仓管 原名", "Xikou-Chushi-2026")
    page, errors = await console(browser, stack)
    await open_editor(page, user)
    opened = account(stack, user)

    # someone else renames it while the editor is open
    patched = httpx.patch(
        stack.url("donation") + f"/api/v1/staff/{user}",
        json={"display_name": "溪口仓管 他人改过"},
        headers=admin_headers(stack) | {"If-Match": f'"{opened["version"]}"'},
        timeout=10,
    )
    assert patched.status_code == 200, patched.text
    meanwhile = patched.json()
    assert meanwhile["version"] == int(str(opened["version"])) + 1

    await page.check("#e-roles input[value=dispatcher]")
    await page.fill("#e-name", "溪口仓管 我的修改")
    await page.click("#account-edit-form button[type=submit]")
    edit_status = page.locator("#account-edit-status")
    await expect(edit_status).to_contain_text("已被他人修改", timeout=TIMEOUT_MS)
    await expect(edit_status).to_contain_text("未保存")
    # nothing changed: the API still has the other person's version
    unchanged = account(stack, user)
    assert unchanged["roles"] == ["warehouse"]
    assert unchanged["display_name"] == "溪口仓管 他人改过"
    assert unchanged["version"] == meanwhile["version"]
    # the editor and the table show the account as it now is
    await expect(page.locator("#account-edit-dialog")).to_be_visible()
    await expect(page.locator("#e-name")).to_have_value("溪口仓管 他人改过")
    await expect(page.locator("#e-roles input[value=dispatcher]")).not_to_be_checked()
    row = page.locator(f"#accounts-table tr.account-{user}")
    await expect(row).to_contain_text("溪口仓管 他人改过")
    await expect(row).not_to_contain_text("调度员")
    assert await page.evaluate(AUDIT) == []

    # made again on the current version, the edit is saved
    await page.check("#e-roles input[value=dispatcher]")
    await page.click("#account-edit-form button[type=submit]")
    await expect(page.locator("#account-edit-dialog")).to_be_hidden(timeout=TIMEOUT_MS)
    await expect(page.locator("#accounts-status")).to_contain_text("登录已失效")
    await expect(row).to_contain_text("调度员")
    saved = account(stack, user)
    assert saved["roles"] == ["dispatcher", "warehouse"]
    assert saved["display_name"] == "溪口仓管 他人改过"
    assert saved["version"] == meanwhile["version"] + 1
    assert await page.evaluate("window.__cspViolations") == []
    assert not errors, errors
    await page.close()
