"""The warehouse console's 备灾 (preparedness) view in a real browser (Debian's Chromium,
headless, Playwright) against the three services running as processes.

A small history is seeded first, back-dated through the domain (the real commands inside
``clock.travel``, in this process, on the services' database): a station in 溪口镇 received
200 quilts 100 days ago and issued 30 each 80, 50 and 20 days ago. By hand: 90 issued in the
90-day look-back with no day out of stock, so AMC = 90 × 30.4375 / 90 = 30.44 a month;
available 110, MOS = 110 / 30.44 = 3.61 (棉被 is clothing_bedding: reorder 3, target 6 months,
so the cell is amber); suggested = ⌈30.44 × 6 − 110⌉ = ⌈72.64⌉ = 73; with the station's own
policy of 8 months set from the page, ⌈30.44 × 8 − 110⌉ = ⌈133.52⌉ = 134.

Then in the browser: the heat map's canvas renders its cells (the amber one among them), the
suggestion table shows 73 with its figures, then 134 after the policy is set on the page, the
suggestions' Excel export downloads an xlsx
that openpyxl reads back with the same row, an approver approves the station's requisition
from the page (it becomes a transfer dispatch) and another in part (12 of 30, with a reason),
and at a phone's viewport (390×844) the page
body does not overflow sideways (the heat map scrolls in its own box). A season plan (溪口镇:
1,000 people × 0.2 quilts = 200) shows 55 % coverage, and "fill the gap" previews the transfer
and, confirmed, creates its request. A town's dispatcher sees its own town's coverage and no
district action.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from shared.config import ServiceSettings
from shared.db import create_engine, create_session_factory
from shared.organisations import DISTRICT as FH
from shared.uow import SqlUnitOfWork
from tests.e2e.conftest import Stack, token
from tests.e2e.test_pages_web import AUDIT, CSP_WATCH
from tests.e2e.test_staff_console_web import web  # noqa: F401  (the console's donation URL)
from warehouse.config import WarehouseSettings
from warehouse.domain.commands import CreateItem, CreateWarehouse, Destination, ExpectedLine
from warehouse.seed_history import dispatch_through, receive_procurement
from warehouse.service_layer import catalogue, clock, plans

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".local" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
TIMEOUT_MS = 20_000
TAG = uuid.uuid4().hex[:6].upper()
STATION = f"E2E-PST-{TAG}"
DISTRICT = f"E2E-PWH-{TAG}"
QUILT = f"E2E-PQ-{TAG}"
PLAN = f"E2E-FX-{TAG}"
SUGGESTED = 73  # ⌈30.44 × 6 − 110⌉, see the module's docstring
AMBER = (0xF0, 0xA0, 0x20)


@pytest.fixture(scope="module")
async def history(databases: dict[str, ServiceSettings], stack: Stack) -> dict[str, Any]:
    """The station's back-dated history, through the commands; and its open requisition."""
    settings = databases["warehouse"]
    assert isinstance(settings, WarehouseSettings)
    engine = create_engine(settings, application_name="tests-preparedness-web")
    factory = create_session_factory(engine)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(
            factory, source="/sunshine/warehouse", topic_prefix=settings.topic_prefix
        )

    now = datetime.now(UTC)
    try:
        with clock.travel(now - timedelta(days=101)):
            async with uow() as tx:
                await catalogue.create_warehouse(
                    tx,
                    CreateWarehouse(
                        code=STATION,
                        name="溪口镇储备点（浏览器测试）",
                        kind="station",
                        town="溪口镇",
                        actor="tests",
                        actor_org=FH,
                    ),
                )
                await catalogue.create_item(
                    tx,
                    CreateItem(QUILT, f"棉被{TAG}", "clothing_bedding", "床", actor="tests"),
                )
                await tx.commit()
        with clock.travel(now - timedelta(days=100)):
            await receive_procurement(
                uow(), STATION, f"CG-{TAG}", (ExpectedLine(QUILT, 200, None, f"L-{TAG}", None),)
            )
        # the plan's source, created today: never the oldest district warehouse, which other
        # tests' requisitions and plans may take by default
        async with uow() as tx:
            await catalogue.create_warehouse(
                tx,
                CreateWarehouse(
                    code=DISTRICT,
                    name="区备灾仓库（浏览器测试）",
                    kind="district",
                    town="岳林街道",
                    actor="tests",
                    actor_org=FH,
                ),
            )
            await tx.commit()
        await receive_procurement(
            uow(), DISTRICT, f"CG-D-{TAG}", (ExpectedLine(QUILT, 500, None, f"LD-{TAG}", None),)
        )
        for days_ago in (80, 50, 20):
            with clock.travel(now - timedelta(days=days_ago)):
                await dispatch_through(
                    uow(),
                    STATION,
                    Destination(kind="site", name="溪口镇社区救助站", town="溪口镇"),
                    {QUILT: 30},
                    incident=None,
                    recipient=("溪口镇民政办", "溪口镇人民政府"),
                    min_days=settings.pick_min_days_to_expiry,
                )
        # a season plan: 溪口镇's 1,000 people × 0.2 quilts = a target of 200 (110 held)
        who = {"actor": "dispatcher", "actor_org": FH}
        async with uow() as tx:
            await plans.create_plan(
                tx,
                code=PLAN,
                name="汛期备灾计划（浏览器测试）",
                season_start=now.date() + timedelta(days=150),
                season_end=now.date() + timedelta(days=240),
                source_warehouse_code=DISTRICT,
                note=None,
                **who,
            )
            await plans.set_town(tx, PLAN, "溪口镇", 1000, expected=None, **who)
            await plans.set_norm(tx, PLAN, QUILT, Decimal("0.2"), expected=None, **who)
            await plans.update_plan(tx, PLAN, {"action": "activate"}, expected=None, **who)
            await tx.commit()
    finally:
        await engine.dispose()
    keeper = token(stack, "keeper-xk")
    raised: dict[str, Any] = {}
    for name, quantity, reason in (
        ("full", 40, "台风季前补足棉被（浏览器测试）"),
        ("part", 30, "冬季救助棉被（浏览器测试）"),
    ):
        created = httpx.post(
            stack.url("warehouse") + "/api/v1/requisitions",
            json={
                "warehouse_code": STATION,
                "lines": [{"item_code": QUILT, "quantity": quantity}],
                "reason": reason,
            },
            headers={"Authorization": f"Bearer {keeper}", "Idempotency-Key": str(uuid.uuid4())},
            timeout=15,
        )
        assert created.status_code == 201, created.text
        raised[name] = created.json()
    return raised


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (scripts/test.sh does it)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        await b.close()


async def open_view(
    browser: Browser, stack: Stack, user: str, viewport: ViewportSize
) -> tuple[Page, list[str]]:
    context = await browser.new_context(viewport=viewport, locale="zh-CN", accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.add_init_script(CSP_WATCH)
    await page.goto(stack.url("warehouse") + "/console/warehouse#prep")
    await expect(page.locator("body[data-ready='1']")).to_have_count(1, timeout=TIMEOUT_MS)
    await page.fill("#username", user)
    await page.fill("#password", "sunshine-demo")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#view-prep")).to_be_visible(timeout=TIMEOUT_MS)
    await expect(page.locator("#view-prep")).not_to_have_attribute(
        "aria-busy", "true", timeout=TIMEOUT_MS
    )
    return page, errors


COUNT_COLOUR = """([r, g, b]) => {
  let n = 0;
  for (const canvas of document.querySelectorAll('#prep-heatmap canvas')) {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const near = (k, v) => Math.abs(data[i + k] - v) < 6;
      if (near(0, r) && near(1, g) && near(2, b)) n += 1;
    }
  }
  return n;
}"""


async def test_the_preparedness_view_shows_heat_map_suggestion_export_and_decides(
    web: None,  # noqa: F811
    stack: Stack,
    history: dict[str, Any],
    browser: Browser,
    tmp_path: Path,
) -> None:
    page, errors = await open_view(browser, stack, "approver", {"width": 1280, "height": 900})

    # the heat map: a canvas with cells, ours amber (between reorder and target)
    heat = page.locator("#prep-heatmap")
    await expect(heat.locator("canvas").first).to_be_visible(timeout=TIMEOUT_MS)
    assert int(await heat.get_attribute("data-cells") or 0) >= 1
    await page.wait_for_timeout(300)  # the canvas paints on the next frame
    assert await page.evaluate(COUNT_COLOUR, list(AMBER)) > 50

    # the suggestion, computed by hand, with the figures that made it
    row = page.locator(f"#prep-suggestions tr.sugg-{STATION}-{QUILT}")
    await expect(row).to_be_visible(timeout=TIMEOUT_MS)
    await expect(row.locator(".suggested")).to_have_text(f"{SUGGESTED} 床")
    await expect(row).to_contain_text("30.44")
    await expect(row).to_contain_text("3.61")
    await expect(row.locator(".formula")).to_contain_text("30.44×6")

    # the station's own policy, set from the page: 8 months → ⌈30.44 × 8 − 110⌉ = 134
    await row.locator("button[data-action='policy']").click()
    await expect(page.locator("#prep-policy-status")).to_contain_text("类别默认")
    assert await page.input_value("#pp-wh") == STATION
    assert await page.input_value("#pp-item") == QUILT
    await page.fill("#pp-reorder", "3")
    await page.fill("#pp-target", "8")
    await page.click("#prep-policy-form button[type=submit]")
    await expect(page.locator("#prep-policy-status")).to_contain_text("已保存（第 1 版）")
    await expect(row.locator(".suggested")).to_have_text("134 床", timeout=TIMEOUT_MS)
    await expect(row.locator(".formula")).to_contain_text("30.44×8")

    # the suggestions' Excel export, read back with openpyxl
    async with page.expect_download() as fetched:
        await page.click("#view-prep button[data-kind='suggestions'][data-fmt='xlsx']")
    download = await fetched.value
    assert download.suggested_filename.endswith(".xlsx")
    target = tmp_path / "suggestions.xlsx"
    await download.save_as(target)
    sheet = openpyxl.load_workbook(io.BytesIO(target.read_bytes())).active
    assert sheet is not None
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    ours = [r for r in rows[1:] if STATION in r and QUILT in r]
    assert len(ours) == 1, rows[:3]
    assert 134 in ours[0]

    # the station's requisition, approved from the page by a district approver
    approver = {"Authorization": f"Bearer {token(stack, 'approver')}"}
    full, part = history["full"], history["part"]
    req = page.locator(f"#prep-requisitions tr.req-{full['requisition_no']}")
    await expect(req).to_contain_text("台风季前补足棉被", timeout=TIMEOUT_MS)
    # from this history's district warehouse (the default is the oldest one of the run, and
    # a source without the goods is refused: it could not give what is approved)
    await page.select_option("#prep-req-source", DISTRICT)
    await req.locator("button[data-action='approve']").click()
    await expect(page.locator("#prep-req-status")).to_contain_text("已批准", timeout=TIMEOUT_MS)
    await expect(req).to_have_count(0)
    decided = httpx.get(
        stack.url("warehouse") + f"/api/v1/requisitions/{full['id']}", headers=approver, timeout=10
    ).json()
    assert decided["status"] == "approved"
    assert decided["decided_by"] == "approver"
    assert decided["dispatch_no"]

    # the other one approved in part: 12 of 30, with a reason (the page asks in two prompts)
    answers = iter(["12", "区仓先调 12 床，余下入冬后再调"])
    page.on("dialog", lambda d: asyncio.ensure_future(d.accept(next(answers))))
    row_part = page.locator(f"#prep-requisitions tr.req-{part['requisition_no']}")
    await row_part.locator("button[data-action='partly']").click()
    await expect(row_part).to_have_count(0, timeout=TIMEOUT_MS)
    await expect(page.locator("#prep-req-status")).to_contain_text("已部分批准")
    decided = httpx.get(
        stack.url("warehouse") + f"/api/v1/requisitions/{part['id']}", headers=approver, timeout=10
    ).json()
    assert decided["status"] == "partly_approved"
    assert decided["decided_reason"] == "区仓先调 12 床，余下入冬后再调"
    assert [line["approved_quantity"] for line in decided["lines"]] == [12]

    # the plan's coverage for 溪口镇, and "fill the gap": the preview, then the transfer request
    await page.select_option("#prep-plan", PLAN)
    town = page.locator("#prep-coverage-table tr.cov-town", has_text="溪口镇")
    await expect(town).to_contain_text("200", timeout=TIMEOUT_MS)
    await expect(town.locator("progress")).to_have_attribute("value", "55")  # 110 / 200
    await page.click("#prep-fill")
    preview = page.locator("#prep-fill-preview")
    await expect(preview).to_contain_text(f"棉被{TAG}", timeout=TIMEOUT_MS)
    await page.click("#prep-fill-confirm")
    await expect(page.locator("#prep-fill-status")).to_contain_text(
        "已生成 1 张调拨申请", timeout=TIMEOUT_MS
    )

    assert await page.evaluate(AUDIT) == []
    assert await page.evaluate("window.__cspViolations") == []
    assert not errors, errors
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.locator("#view-prep").screenshot(path=str(SHOTS / "preparedness.png"))
    await page.context.close()


async def test_the_preparedness_view_fits_a_phone(
    web: None,  # noqa: F811
    stack: Stack,
    history: dict[str, Any],
    browser: Browser,
) -> None:
    page, errors = await open_view(browser, stack, "dispatcher", {"width": 390, "height": 844})
    await expect(page.locator("#prep-heatmap canvas").first).to_be_visible(timeout=TIMEOUT_MS)
    # (the suggestion is met by now: the first test's transfers are on order for the station)
    town = page.locator("#prep-coverage-table tr.cov-town", has_text="溪口镇")
    await expect(town).to_be_visible(timeout=TIMEOUT_MS)
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page is {overflow}px wider than a phone"
    # the heat map keeps its cells readable: a wide one scrolls sideways in its own box
    scroll = page.locator("#view-prep .chart-scroll")
    box = await scroll.evaluate(
        "(e) => [e.getBoundingClientRect().right, getComputedStyle(e).overflowX]"
    )
    assert box[0] <= 390
    assert box[1] == "auto"
    # the tables turn into labelled cards on a phone
    assert await page.locator("#prep-coverage-table thead").is_hidden()
    assert await page.evaluate(AUDIT) == []
    assert not errors, errors
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "preparedness-phone.png"), full_page=True)
    await page.context.close()


async def test_a_town_dispatcher_sees_its_own_town_and_no_district_actions(
    web: None,  # noqa: F811
    stack: Stack,
    history: dict[str, Any],
    browser: Browser,
) -> None:
    """溪口镇's dispatcher: the plan's coverage of its own town only, and neither "fill the gap"
    (the district's) nor the stock policy form (a keeper's or approver's)."""
    page, errors = await open_view(browser, stack, "dispatcher-xk", {"width": 1280, "height": 900})
    await page.select_option("#prep-plan", PLAN)
    towns = page.locator("#prep-coverage-table tr.cov-town")
    # waits out the re-render after the plan is chosen: one row, and it is 溪口镇
    await expect(towns).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(towns.first).to_contain_text("溪口镇", timeout=TIMEOUT_MS)
    await expect(page.locator("#prep-fill")).to_be_hidden()
    await expect(page.locator("#prep-policy")).to_be_hidden()
    await expect(page.locator("#prep-heatmap canvas").first).to_be_visible()
    assert await page.evaluate(AUDIT) == []
    assert not errors, errors
    await page.context.close()
