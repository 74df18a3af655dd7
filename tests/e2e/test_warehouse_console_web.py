"""The warehouse console's 待审批报损 (write-offs awaiting a second person) view and the
dispatch's 服务项目 (project) and override, in a real browser (Debian's Chromium, headless,
Playwright) against the three services running as processes.

Seeded through the API: a warehouse with 21 lots of an item worth ¥10 a unit, each counted
short by more than ``WAREHOUSE_WRITE_OFF_FOUR_EYES_FEN`` is worth, so each count is a pending
write-off (20 counted by the keeper, one by the admin); and 30 quilts of a goods gift designated
to 博爱送万家 (BOAI-SWJ), received into the same warehouse.

In the browser:

- an approver sees the keeper's write-offs 20 to a page, the 21st after 加载更多; approves one
  (the lot goes down by what the count found, via the API) and rejects another with a reason
  (the lot stays); one approved meanwhile through the API is refused (409) with the API's
  words and leaves the list;
- the admin (who holds every role) sees the write-off they counted themselves with no buttons
  (four eyes); the auditor sees the list and no buttons; the keeper has no such menu entry;
- a dispatcher requests a dispatch for the project 应急救灾 (YJJZ), the field refusing a code
  of the wrong form first and suggesting the projects the warehouse's goods are designated
  to; the API shows the project_code; an approver approves it with the override (特批) and its
  reason, which the API records and the table shows; the keeper's pick (API) may then take the
  quilts designated to BOAI-SWJ;
- no page error, no CSP violation, and the pages pass the basic accessibility checks.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from shared.config import ServiceSettings
from tests.e2e.conftest import Stack, token, wait_for
from tests.e2e.test_pages_web import AUDIT, CSP_WATCH
from tests.e2e.test_staff_console_web import web  # noqa: F401  (the console's donation URL)
from warehouse.config import WarehouseSettings

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".local" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMEOUT_MS = 20_000
TAG = uuid.uuid4().hex[:6].upper()
WH = f"E2E-WOWH-{TAG}"
COAT = f"E2E-WOC-{TAG}"
COAT_NAME = f"棉大衣{TAG}"
QUILT = f"E2E-WOQ-{TAG}"
QUILT_NAME = f"定向棉被{TAG}"
LOTS = 21  # one more than the view's page of 20
ON_HAND = 100
UNIT_FEN = 1_000  # ¥10 a coat
DESIGNATED = "BOAI-SWJ"  # a standing project of the donation service (its migration 0002)
SERVED = "YJJZ"
REJECT_REASON = "复盘找到 51 件，在另一货架（浏览器测试）"
OVERRIDE_REASON = "台风应急，博爱送万家的棉被先调用，春节前补回（浏览器测试）"


def call(
    stack: Stack,
    method: str,
    path: str,
    tok: str,
    status: int = 200,
    service: str = "warehouse",
    **kw: Any,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {tok}", "Idempotency-Key": str(uuid.uuid4())}
    response = httpx.request(method, stack.url(service) + path, headers=headers, timeout=15, **kw)
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def lot_on_hand(stack: Stack, lot_id: str) -> int:
    page = call(
        stack,
        "GET",
        "/api/v1/lots",
        token(stack, "auditor"),
        params={"warehouse_code": WH, "item_code": COAT, "in_stock": "false", "limit": 100},
    )
    (lot,) = [x for x in page["items"] if x["id"] == lot_id]
    return int(lot["on_hand"])


@pytest.fixture(scope="module")
def seeded(databases: dict[str, ServiceSettings], stack: Stack) -> dict[str, Any]:
    """The warehouse, its 21 pending write-offs (by lot no.) and its designated quilts."""
    settings = databases["warehouse"]
    assert isinstance(settings, WarehouseSettings)
    keeper, admin = token(stack, "warehouse"), token(stack, "admin")
    call(
        stack,
        "POST",
        "/api/v1/warehouses",
        keeper,
        201,
        json={"code": WH, "name": f"报损测试仓库{TAG}", "kind": "district", "town": "岳林街道"},
    )
    for code, name, unit, fen in ((COAT, COAT_NAME, "件", UNIT_FEN), (QUILT, QUILT_NAME, "床", 0)):
        call(
            stack,
            "POST",
            "/api/v1/items",
            keeper,
            201,
            json={
                "code": code,
                "name": name,
                "category": "clothing_bedding",
                "unit": unit,
                "unit_value_fen": fen,
            },
        )
    numbers = [f"WO-{TAG}-{n:02d}" for n in range(LOTS)]
    inbound = call(
        stack,
        "POST",
        "/api/v1/inbounds",
        keeper,
        201,
        json={
            "source_kind": "procurement",
            "warehouse_code": WH,
            "procurement_order": f"CG-WO-{TAG}",
            "lines": [{"item_code": COAT, "quantity": ON_HAND, "lot_no": n} for n in numbers],
        },
    )
    call(
        stack,
        "POST",
        f"/api/v1/inbounds/{inbound['id']}/confirm",
        keeper,
        json={"lines": [{"line_no": i + 1, "received_quantity": ON_HAND} for i in range(LOTS)]},
    )
    lots = call(
        stack,
        "GET",
        "/api/v1/lots",
        keeper,
        params={"warehouse_code": WH, "item_code": COAT, "limit": 100},
    )["items"]
    by_no = {x["lot_no"]: x["id"] for x in lots}
    assert sorted(by_no) == numbers
    # short by one unit more than the four-eyes limit is worth: every count waits
    short = settings.write_off_four_eyes_fen // UNIT_FEN + 1
    assert short < ON_HAND
    adjustments: dict[str, dict[str, Any]] = {}
    for who, group, reason in ((keeper, numbers[:-1], "damaged"), (admin, numbers[-1:], "lost")):
        count = call(
            stack,
            "POST",
            "/api/v1/stock-counts",
            who,
            201,
            json={
                "warehouse_code": WH,
                "lines": [
                    {
                        "lot_id": by_no[n],
                        "counted_quantity": ON_HAND - short,
                        "reason": reason,
                        "note": "浏览器测试盘点",
                    }
                    for n in group
                ],
            },
        )
        for a in count["adjustments"]:
            assert a["status"] == "pending", a
            adjustments[a["lot_no"]] = a
    assert sorted(adjustments) == numbers

    # a goods gift designated to BOAI-SWJ, received into the warehouse
    gift = call(
        stack,
        "POST",
        "/api/v1/donations",
        token(stack, "finance"),
        201,
        service="donation",
        json={
            "kind": "goods",
            "channel": "on_site",
            "display": "named",
            "project_code": DESIGNATED,
            "donor": {"name": f"奉化爱心企业{TAG}", "donor_type": "organization"},
            "items": [
                {
                    "item_code": QUILT,
                    "name": QUILT_NAME,
                    "quantity": 30,
                    "unit": "床",
                    "value_fen": 150_000,
                }
            ],
        },
    )

    def expected() -> dict[str, Any] | None:
        page = call(stack, "GET", "/api/v1/inbounds", keeper, params={"donation_id": gift["id"]})
        return page["items"][0] if page["items"] else None

    announced = wait_for(expected)
    assert isinstance(announced, dict)
    call(
        stack,
        "POST",
        f"/api/v1/inbounds/{announced['id']}/confirm",
        keeper,
        json={"warehouse_code": WH, "lines": [{"line_no": 1, "received_quantity": 30}]},
    )
    quilts = call(
        stack, "GET", "/api/v1/lots", keeper, params={"warehouse_code": WH, "item_code": QUILT}
    )["items"]
    assert [(x["on_hand"], x["designated_project"]) for x in quilts] == [(30, DESIGNATED)]
    return {"numbers": numbers, "adjustments": adjustments, "lots": by_no, "short": short}


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (scripts/test.sh does it)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


async def open_console(
    browser: Browser, stack: Stack, user: str, view: str
) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.add_init_script(CSP_WATCH)
    await page.goto(stack.url("warehouse") + f"/console/warehouse#{view}")
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    await page.fill("#username", user)
    await page.fill("#password", "sunshine-demo")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#menu")).to_be_visible(timeout=TIMEOUT_MS)
    return page, errors


async def settled(page: Page, view: str) -> None:
    section = page.locator(f"#view-{view}")
    await expect(section).to_be_visible(timeout=TIMEOUT_MS)
    await expect(section).not_to_have_attribute("aria-busy", "true", timeout=TIMEOUT_MS)


async def clean_page(page: Page, errors: list[str]) -> None:
    assert await page.evaluate(AUDIT) == []
    assert await page.evaluate("window.__cspViolations") == []
    assert not errors, errors


async def test_an_approver_decides_pending_write_offs_in_the_console(
    web: None,  # noqa: F811
    stack: Stack,
    seeded: dict[str, Any],
    browser: Browser,
) -> None:
    numbers, adjustments, lots = seeded["numbers"], seeded["adjustments"], seeded["lots"]
    page, errors = await open_console(browser, stack, "approver", "writeoffs")
    await settled(page, "writeoffs")
    await page.select_option("#wo-wh", WH)
    await page.click("#wo-filter button[type=submit]")
    ours = page.locator("#wo-table tr.wo")
    # 20 to a page: the 21st (the oldest) after 加载更多
    await expect(ours).to_have_count(20, timeout=TIMEOUT_MS)
    more = page.locator("#wo-more")
    await expect(more).to_be_visible()
    await more.click()
    await expect(ours).to_have_count(LOTS, timeout=TIMEOUT_MS)
    await expect(more).to_be_hidden()

    first = adjustments[numbers[0]]
    row = page.locator(f"#wo-table tr.wo-{first['id']}")
    await expect(row).to_contain_text(f"报损测试仓库{TAG}")
    await expect(row).to_contain_text(COAT_NAME)
    await expect(row).to_contain_text(numbers[0])
    await expect(row).to_contain_text(f"{-seeded['short']} 件")
    await expect(row).to_contain_text(f"¥{seeded['short'] * UNIT_FEN // 100:,}.00")
    await expect(row).to_contain_text("warehouse")  # who counted
    await expect(row).to_contain_text("损坏：浏览器测试盘点")
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", await row.inner_text())

    # approve: the lot goes down by what the count found
    assert lot_on_hand(stack, lots[numbers[0]]) == ON_HAND
    await row.locator("button[data-action='approve']").click()
    status = page.locator("#wo-status")
    await expect(status).to_contain_text("报损已批准", timeout=TIMEOUT_MS)
    await expect(row).to_have_count(0)
    assert lot_on_hand(stack, lots[numbers[0]]) == ON_HAND - seeded["short"]
    approver = token(stack, "approver")
    decided = call(stack, "GET", f"/api/v1/stock-adjustments/{first['id']}", approver)
    assert (decided["status"], decided["decided_by"]) == ("applied", "approver")

    # reject, with the reason asked for: nothing moves
    second = adjustments[numbers[1]]
    page.once("dialog", lambda d: asyncio.ensure_future(d.accept(REJECT_REASON)))
    await page.locator(f"#wo-table tr.wo-{second['id']} button[data-action='reject']").click()
    await expect(status).to_contain_text("报损已驳回", timeout=TIMEOUT_MS)
    await expect(page.locator(f"#wo-table tr.wo-{second['id']}")).to_have_count(0)
    decided = call(stack, "GET", f"/api/v1/stock-adjustments/{second['id']}", approver)
    assert (decided["status"], decided["decided_reason"]) == ("rejected", REJECT_REASON)
    assert lot_on_hand(stack, lots[numbers[1]]) == ON_HAND

    # decided meanwhile by someone else (the API): the page's click is refused in the API's
    # words (409, not pending) and the row leaves the list
    third = adjustments[numbers[2]]
    stale = page.locator(f"#wo-table tr.wo-{third['id']}")
    await expect(stale).to_have_count(1)
    call(stack, "POST", f"/api/v1/stock-adjustments/{third['id']}/approve", approver)
    await stale.locator("button[data-action='approve']").click()
    await expect(status.locator(".notice.bad")).to_contain_text("不是待审批", timeout=TIMEOUT_MS)
    await expect(stale).to_have_count(0, timeout=TIMEOUT_MS)
    assert lot_on_hand(stack, lots[numbers[2]]) == ON_HAND - seeded["short"]  # once, not twice

    await clean_page(page, errors)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#view-writeoffs").screenshot(path=str(SHOTS / "warehouse-write-offs.png"))
    await page.context.close()


async def test_the_counter_the_auditor_and_the_keeper_cannot_decide(
    web: None,  # noqa: F811
    stack: Stack,
    seeded: dict[str, Any],
    browser: Browser,
) -> None:
    own = seeded["adjustments"][seeded["numbers"][-1]]
    page, errors = await open_console(browser, stack, "admin", "writeoffs")
    await settled(page, "writeoffs")
    await page.select_option("#wo-wh", WH)
    await page.click("#wo-filter button[type=submit]")
    mine = page.locator(f"#wo-table tr.wo-{own['id']}")  # the latest: on the first page
    await expect(mine).to_contain_text("待他人审批", timeout=TIMEOUT_MS)
    await expect(mine.locator("button")).to_have_count(0)
    if await page.locator("#wo-more:not(.hidden)").count():  # run alone: all 21 still wait
        await page.click("#wo-more")
    other = seeded["adjustments"][seeded["numbers"][5]]
    await expect(
        page.locator(f"#wo-table tr.wo-{other['id']} button[data-action='approve']")
    ).to_have_count(1)
    await clean_page(page, errors)
    await page.context.close()

    page, errors = await open_console(browser, stack, "auditor", "writeoffs")
    await settled(page, "writeoffs")
    await page.select_option("#wo-wh", WH)
    await page.click("#wo-filter button[type=submit]")
    await expect(page.locator(f"#wo-table tr.wo-{own['id']}")).to_contain_text(
        COAT_NAME, timeout=TIMEOUT_MS
    )
    assert await page.locator("#wo-table tr.wo").count() >= 18
    await expect(page.locator("#wo-table button")).to_have_count(0)  # read-only
    await expect(page.locator("#wo-table th", has_text="操作")).to_have_count(0)
    await clean_page(page, errors)
    await page.context.close()

    page, errors = await open_console(browser, stack, "warehouse", "stock")
    await settled(page, "stock")
    await expect(page.locator("#menu button[data-view='writeoffs']")).to_be_hidden()
    await expect(page.locator("#menu button[data-view='count']")).to_be_visible()
    await clean_page(page, errors)
    await page.context.close()


async def test_a_dispatch_for_a_project_approved_with_an_override(
    web: None,  # noqa: F811
    stack: Stack,
    seeded: dict[str, Any],
    browser: Browser,
) -> None:
    page, errors = await open_console(browser, stack, "dispatcher", "dispatch")
    await settled(page, "dispatch")
    await page.click("#disp-new summary")
    await page.select_option("#q-from", WH)
    # the projects the warehouse's goods are designated to, suggested
    await expect(page.locator(f"#q-projects option[value='{DESIGNATED}']")).to_have_count(
        1, timeout=TIMEOUT_MS
    )
    destination = f"溪口镇应急安置点{TAG}"
    await page.fill("#q-dname", destination)
    await page.select_option("#q-town", "溪口镇")
    await page.select_option("#q-urgency", "urgent")
    await page.select_option("#q-item", QUILT)
    await page.fill("#q-qty", "20")
    await page.fill("#q-project", "-YJ")  # not a project code: refused before it is sent
    await page.click("#disp-form button[type=submit]")
    await expect(page.locator(".field:has(#q-project) .error")).to_contain_text("项目编号")
    await page.fill("#q-project", SERVED)
    await page.click("#disp-form button[type=submit]")
    await expect(page.locator("#disp-form-status")).to_contain_text("等待审批", timeout=TIMEOUT_MS)
    row = page.locator("#disp-table tr.dispatch-requested", has_text=destination)
    await expect(row).to_contain_text(SERVED)
    found = re.search(r"DP-\d{4}-\d{6}", await row.inner_text())
    assert found is not None
    number = found.group(0)
    approver, keeper = token(stack, "approver"), token(stack, "warehouse")
    listed = call(
        stack, "GET", "/api/v1/dispatches", approver, params={"status": "requested", "limit": 100}
    )
    (dispatch,) = [d for d in listed["items"] if d["dispatch_no"] == number]
    assert (dispatch["project_code"], dispatch["status"]) == (SERVED, "requested")
    assert dispatch["designated_override_reason"] is None
    await clean_page(page, errors)
    await page.context.close()

    # the approver: 特批…, the reason, approved
    page, errors = await open_console(browser, stack, "approver", "dispatch")
    await settled(page, "dispatch")
    row = page.locator("#disp-table tr.dispatch-requested", has_text=number)
    await row.locator("button[data-action='approve-override']").click()
    dialog = page.locator("#approve-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#approve-info")).to_contain_text(number)
    await expect(page.locator("#approve-info")).to_contain_text(SERVED)
    await page.click("#approve-form button[type=submit]")  # no reason: not sent
    await expect(page.locator(".field:has(#ap-reason) .error")).to_have_text("此项必填")
    await page.fill("#ap-reason", OVERRIDE_REASON)
    assert await page.evaluate(AUDIT) == []  # the dialog's fields are labelled too
    await page.click("#approve-form button[type=submit]")
    await expect(page.locator("#disp-status")).to_contain_text("特批", timeout=TIMEOUT_MS)
    await expect(dialog).to_be_hidden()
    approved = page.locator("#disp-table tr.dispatch-approved", has_text=number)
    await expect(approved).to_contain_text(OVERRIDE_REASON, timeout=TIMEOUT_MS)
    await expect(approved).to_contain_text(SERVED)
    recorded = call(stack, "GET", f"/api/v1/dispatches/{dispatch['id']}", approver)
    assert recorded["status"] == "approved"
    assert recorded["approved_by"] == "approver"
    assert recorded["designated_override_reason"] == OVERRIDE_REASON
    # and it has its effect: the pick may take the quilts designated to BOAI-SWJ
    picked = call(stack, "POST", f"/api/v1/dispatches/{dispatch['id']}/pick", keeper)
    assert [(a["item_code"], a["quantity"]) for a in picked["allocations"]] == [(QUILT, 20)]
    await clean_page(page, errors)
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#view-dispatch").screenshot(path=str(SHOTS / "warehouse-override.png"))
    await page.context.close()
