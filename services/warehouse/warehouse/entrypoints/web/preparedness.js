// The console's 备灾 (preparedness) view: months of stock per town × item as an ECharts heat
// map, plan coverage per town with "fill the gap", suggestions to act on, requisitions (请领) to
// decide, transfers in transit and their discrepancies, the near-expiry rotation list, and
// CSV / Excel exports. Each part loads on its own: one that fails says so and the rest still
// show. Town staff see their own organisation's rows (the API scopes them).
import {
  ApiError, api, chartsUnavailable, claims, clear, day, el, explain, isMe, loadECharts, may, newKey, notice, t, token, when,
} from "/assets/common/common.js";
import { table } from "/assets/common/console-kit.js";

const V1 = "/api/v1";
const P = `${V1}/preparedness`;
const auth = () => ({ token: token() });

const CATEGORIES = {
  shelter: ["住所类", "Shelter"], food: ["食品", "Food"], water: ["饮用水", "Water"], medical: ["医疗", "Medical"],
  lighting_power: ["照明电力", "Lighting & power"], clothing_bedding: ["衣被", "Clothing & bedding"], hygiene: ["卫生", "Hygiene"],
};
// heat map colour per state: no consumption, below reorder, below target, at or above target
const STATES = [
  { value: 0, zh: "无消耗", en: "no consumption", color: "#c9ccd1" },
  { value: 1, zh: "低于补货点", en: "below reorder", color: "#c62828" },
  { value: 2, zh: "低于目标", en: "below target", color: "#f0a020" },
  { value: 3, zh: "达到目标", en: "at target", color: "#2e7d32" },
];
const REQUISITION = {
  requested: ["待审批", "Awaiting decision", "warn"], approved: ["已批准", "Approved", "ok"],
  partly_approved: ["部分批准", "Partly approved", "ok"], refused: ["已拒绝", "Refused", "bad"], cancelled: ["已取消", "Cancelled", "bad"],
};

// rates come with at most 2 decimals: shown as sent, without trailing zeros
const num = (v) => (v === null || v === undefined || v === "" ? "—" : Number(v).toFixed(2).replace(/\.?0+$/, ""));
const status = (id) => document.getElementById(id);

/** Run one part of the view; a failure shows in that part's status box only. */
async function part(statusId, load) {
  const box = status(statusId);
  try {
    await load();
    if (box.dataset.kept !== "1") notice(box, "", "");
  } catch (err) {
    notice(box, "bad", err.status === 404 && !err.code.startsWith("not_found")
      ? t("该功能暂不可用。", "Not available yet.") : explain(err));
  } finally {
    delete box.dataset.kept;
  }
}

/** A state for a cell: grey without consumption, then red / amber / green against the
 * months of the cell's policy (its own when the API sends them, else its item's category's). */
export function cellState(cell, policy = {}) {
  if (!cell.amc || Number(cell.amc) <= 0 || cell.mos === null || cell.mos === undefined) return 0;
  const mos = Number(cell.mos);
  const reorder = Number(cell.reorder_mos ?? policy.reorder_mos ?? 2);
  const target = Number(cell.target_mos ?? policy.target_mos ?? 4);
  if (mos < reorder) return 1;
  if (mos < target) return 2;
  return 3;
}

/** item code → its category's policy (reorder and target months). */
async function policiesByItem() {
  const [policies, categoryOf] = await Promise.all([api(`${P}/category-policies`, auth()), itemCategories()]);
  const byCategory = Object.fromEntries(policies.items.map((p) => [p.category, p]));
  return Object.fromEntries(Object.entries(categoryOf).map(([code, category]) => [code, byCategory[category] || {}]));
}

async function itemCategories() {
  const out = {};
  let cursor = null;
  for (let pages = 0; pages < 20; pages += 1) {
    const q = new URLSearchParams({ limit: "100" });
    if (cursor) q.set("cursor", cursor);
    const page = await api(`${V1}/items?${q}`, auth());
    for (const item of page.items) out[item.code] = item.category;
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return out;
}

// --- heat map -----------------------------------------------------------------------------

let heatChart = null;
let heatObserver = null;
async function renderHeatmap() {
  const category = status("prep-category").value;
  const query = new URLSearchParams(category ? { category } : {});
  const [data, policyOf] = await Promise.all([api(`${P}/heatmap?${query}`, auth()), policiesByItem()]);
  const node = status("prep-heatmap");
  const items = data.items || [];
  const towns = data.towns || [];
  const cells = data.cells || [];
  // a phone scrolls the chart sideways (never the page): at least 64 px per item
  const wrap = node.parentElement;
  node.style.minWidth = `${Math.max(320, 110 + items.length * 64)}px`;
  node.style.height = `${Math.max(260, 70 + towns.length * 30)}px`;
  node.dataset.cells = String(cells.length);
  node.setAttribute("aria-label", t(`各镇物资可保障月数热力图：${towns.length} 个镇街 × ${items.length} 种物资`,
    `Months of stock per town and item: ${towns.length} towns × ${items.length} items`));
  renderHeatTable(data, policyOf);
  const echarts = await loadECharts();
  if (!echarts) {
    chartsUnavailable(node);
    return;
  }
  heatChart = echarts.getInstanceByDom(node) || echarts.init(node);
  const itemIndex = Object.fromEntries(items.map((x, i) => [x.code, i]));
  const townIndex = Object.fromEntries(towns.map((x, i) => [x, i]));
  const byKey = {};
  const points = cells.filter((c) => c.item_code in itemIndex && c.town in townIndex).map((c) => {
    byKey[`${c.town}/${c.item_code}`] = c;
    return [itemIndex[c.item_code], townIndex[c.town], cellState(c, policyOf[c.item_code]), c.mos === null || c.mos === undefined ? "—" : num(c.mos)];
  });
  heatChart.setOption({
    animation: false,
    grid: { left: 8, right: 8, top: 8, bottom: 8, containLabel: true },
    tooltip: {
      confine: true,
      formatter: (p) => {
        const c = byKey[`${towns[p.value[1]]}/${items[p.value[0]].code}`] || {};
        const item = items[p.value[0]];
        return [`${towns[p.value[1]]} · ${item.name}`,
          `${t("可用", "Available")}：${c.available ?? 0} ${item.unit || ""}`,
          `${t("月均消耗", "AMC")}：${num(c.amc)}`,
          `${t("可保障月数", "Months of stock")}：${c.mos === null || c.mos === undefined ? t("无消耗", "no consumption") : num(c.mos)}`,
        ].join("<br>");
      },
    },
    xAxis: { type: "category", data: items.map((x) => x.name), axisLabel: { interval: 0, rotate: 35, fontSize: 11 }, splitArea: { show: true } },
    yAxis: { type: "category", data: towns, inverse: true, axisLabel: { fontSize: 11 }, splitArea: { show: true } },
    visualMap: {
      type: "piecewise", dimension: 2, show: false,
      pieces: STATES.map((s) => ({ value: s.value, color: s.color, label: t(s.zh, s.en) })),
    },
    series: [{
      type: "heatmap", data: points,
      label: { show: true, formatter: (p) => p.value[3], fontSize: 10, color: "#fff" },
      itemStyle: { borderColor: "#fff", borderWidth: 1 },
      emphasis: { itemStyle: { borderColor: "#222", borderWidth: 2 } },
    }],
  }, true);
  if (!heatObserver && "ResizeObserver" in window) {
    heatObserver = new ResizeObserver(() => heatChart && heatChart.resize());
    heatObserver.observe(wrap);
  }
  heatChart.resize();
}

/** The same figures as text (screen readers, and when charts are unavailable). */
function renderHeatTable(data, policyOf) {
  const names = Object.fromEntries((data.items || []).map((x) => [x.code, x]));
  const rows = [...(data.cells || [])].filter((c) => cellState(c, policyOf[c.item_code]) === 1);
  clear(status("prep-heat-table")).append(el("details", {},
    el("summary", {}, t(`低于补货点的格子（${rows.length}）`, `Cells below reorder (${rows.length})`)),
    table([
      { label: ["镇街", "Town"], value: (c) => c.town },
      { label: ["物资", "Item"], value: (c) => (names[c.item_code] || {}).name || c.item_code },
      { label: ["可用", "Available"], value: (c) => c.available, num: true },
      { label: ["月均消耗", "AMC"], value: (c) => num(c.amc), num: true },
      { label: ["可保障月数", "MOS"], value: (c) => num(c.mos), num: true },
    ], rows, { empty: ["没有低于补货点的格子。", "No cell is below reorder."] })));
}

/** true for the district branch's staff, false for a town's, null when the token names none. */
function districtOrg() {
  const org = (claims() || {}).org;
  return org ? org === "FH" : null;
}

// --- plan coverage ------------------------------------------------------------------------

let coverageChart = null;
async function loadPlans() {
  const select = status("prep-plan");
  const keep = select.value;
  const page = await api(`${P}/plans?limit=50`, auth());
  clear(select);
  const plans = [...page.items].sort((a, b) => (a.status === "active" ? -1 : 0) - (b.status === "active" ? -1 : 0));
  for (const p of plans) select.append(el("option", { value: p.code }, `${p.name}（${p.code}${p.status === "active" ? t("，执行中", ", active") : ""}）`));
  if (keep && plans.some((p) => p.code === keep)) select.value = keep;
  return plans.length;
}

async function renderCoverage() {
  const count = await loadPlans();
  const holder = clear(status("prep-coverage-table"));
  const node = status("prep-coverage-chart");
  status("prep-fill").disabled = !count;
  // plans and their transfers are the district branch's (a town's staff read their own town)
  status("prep-fill").closest(".field").classList.toggle("hidden", !may("dispatcher", "approver") || districtOrg() === false);
  node.classList.toggle("hidden", !count);
  if (!count) {
    holder.append(el("p", { class: "muted" }, t("还没有备灾计划。", "No preparedness plan yet.")));
    return;
  }
  const code = status("prep-plan").value;
  const data = await api(`${P}/plans/${encodeURIComponent(code)}/coverage`, auth());
  const towns = data.towns || [];
  holder.append(table([
    { label: ["镇街", "Town"], value: (x) => x.town },
    { label: ["保障人数", "People"], value: (x) => x.people ?? "—", num: true },
    { label: ["目标", "Target"], value: (x) => x.target_units, num: true },
    { label: ["现有", "Held"], value: (x) => x.held_units, num: true },
    { label: ["缺口", "Gap"], value: (x) => x.gap_units, num: true },
    { label: ["覆盖率", "Coverage"], value: (x) => (x.coverage === null || x.coverage === undefined ? "—" : el("span", { class: "coverage" },
      el("progress", { max: "100", value: String(Math.round(x.coverage * 100)), "aria-label": t(`${x.town}覆盖率`, `${x.town} coverage`) }),
      ` ${Math.round(x.coverage * 100)}%`)) },
  ], towns, { rowClass: (x) => `cov-town ${x.gap_units > 0 ? "low" : ""}`, empty: ["该计划还没有目标。", "The plan has no targets yet."] }));
  const echarts = await loadECharts();
  if (!echarts) {
    chartsUnavailable(node);
    return;
  }
  coverageChart = echarts.getInstanceByDom(node) || echarts.init(node);
  coverageChart.setOption({
    animation: false,
    tooltip: { trigger: "axis", confine: true },
    legend: { top: 0 },
    grid: { left: 8, right: 12, bottom: 8, top: 32, containLabel: true },
    xAxis: { type: "value" },
    yAxis: { type: "category", data: towns.map((x) => x.town), inverse: true },
    series: [
      { name: t("现有（计入目标）", "Held (towards target)"), type: "bar", stack: "t", color: "#2e7d32", data: towns.map((x) => Math.max(0, x.target_units - x.gap_units)) },
      { name: t("缺口", "Gap"), type: "bar", stack: "t", color: "#c62828", data: towns.map((x) => x.gap_units) },
    ],
  }, true);
  node.style.height = `${Math.max(220, 50 + towns.length * 26)}px`;
  coverageChart.resize();
}

let fillPreview = null;
async function previewFill() {
  const code = status("prep-plan").value;
  const box = status("prep-fill-status");
  const holder = clear(status("prep-fill-preview"));
  try {
    fillPreview = await api(`${P}/plans/${encodeURIComponent(code)}/fill-gap`, auth());
  } catch (err) {
    notice(box, "bad", explain(err));
    return;
  }
  const lines = fillPreview.towns.flatMap((x) => x.lines.map((l) => ({ ...l, town: x.town, to: x.destination_warehouse_code, note: x.note })));
  const moving = lines.filter((l) => l.quantity > 0);
  holder.append(
    el("h4", {}, t(`从 ${fillPreview.source_warehouse_code} 调出（先到期先出）`, `From ${fillPreview.source_warehouse_code} (first expiry first out)`)),
    table([
      { label: ["镇街", "Town"], value: (l) => l.town },
      { label: ["调入站点", "To"], value: (l) => l.to || t("（无站点）", "(no station)") },
      { label: ["物资", "Item"], value: (l) => l.item_name },
      { label: ["缺口", "Gap"], value: (l) => l.gap, num: true },
      { label: ["已申请", "Already requested"], value: (l) => l.already_requested, num: true },
      { label: ["本次调拨", "To move"], value: (l) => `${l.quantity} ${l.unit}`, num: true },
      { label: ["调出仓库不足", "Source short"], value: (l) => l.short || "", num: true },
    ], lines, { empty: ["没有缺口需要补足。", "No gap to fill."], rowClass: (l) => (l.short ? "low" : null) }),
  );
  if (moving.length && may("dispatcher", "approver")) {
    holder.append(el("div", { class: "actions" },
      el("button", { type: "button", id: "prep-fill-confirm", onclick: (e) => confirmFill(code, e.target) },
        t(`确认生成调拨申请（${new Set(moving.map((l) => l.town)).size} 个镇街）`, `Create the transfer requests (${new Set(moving.map((l) => l.town)).size} towns)`)),
      el("button", { type: "button", class: "secondary", onclick: () => { clear(holder); fillPreview = null; } }, t("取消", "Cancel"))));
  }
}

async function confirmFill(code, button) {
  button.disabled = true;
  const box = status("prep-fill-status");
  try {
    const result = await api(`${P}/plans/${encodeURIComponent(code)}/fill-gap`, { method: "POST", body: {}, key: newKey(), ...auth() });
    clear(status("prep-fill-preview"));
    const numbers = (result.dispatches || []).map((d) => d.dispatch_no).join("、");
    box.dataset.kept = "1";
    notice(box, "ok", t(`已生成 ${result.dispatches.length} 张调拨申请（${numbers}），请在“调拨出库”中由另一人审批。`,
      `${result.dispatches.length} transfer request(s) created (${numbers}); another person approves them under Dispatches.`));
    await Promise.all([part("prep-coverage-status", renderCoverage), part("prep-sugg-status", renderSuggestions)]);
  } catch (err) {
    notice(box, "bad", explain(err));
    button.disabled = false;
  }
}

// --- suggestions --------------------------------------------------------------------------

async function renderSuggestions() {
  const page = await api(`${P}/suggestions?limit=200`, auth());
  clear(status("prep-suggestions")).append(table([
    { label: ["仓库", "Warehouse"], value: (s) => s.warehouse_name || s.warehouse_code },
    { label: ["物资", "Item"], value: (s) => s.item_name },
    { label: ["可用", "Available"], value: (s) => s.available, num: true },
    { label: ["月均消耗", "AMC"], value: (s) => num(s.amc), num: true },
    { label: ["可保障月数", "MOS"], value: (s) => num(s.mos), num: true },
    { label: ["建议数量", "Suggested"], value: (s) => el("strong", { class: "suggested" }, `${s.suggested_quantity} ${s.unit || ""}`), num: true },
    { label: ["依据", "How"], value: (s) => el("span", { class: "formula" }, formula(s)) },
    { label: ["策略", "Policy"], value: (s) => (may("warehouse", "approver")
      ? el("button", { type: "button", class: "secondary", "data-action": "policy", onclick: () => openPolicy(s.warehouse_code, s.item_code) },
        s.policy_source === "item" ? t("单独设置", "Own") : t("类别默认", "Category"))
      : (s.policy_source === "item" ? t("单独设置", "own") : t("类别默认", "category"))) },
  ], page.items, {
    rowClass: (s) => `sugg sugg-${s.warehouse_code}-${s.item_code}${s.below_reorder ? " low" : ""}`,
    empty: ["目前没有补货建议。", "No suggestion at the moment."],
  }));
}

/** The figures that made a suggestion: target − (available + in transit + on order − expiring). */
function formula(s) {
  const target = s.target_quantity ?? (s.amc !== null && s.target_mos !== null ? Math.ceil(Number(s.amc) * Number(s.target_mos)) : null);
  const head = s.target_mos !== null && s.target_mos !== undefined
    ? t(`目标 ${num(s.amc)}×${num(s.target_mos)} 月 = ${target}`, `target ${num(s.amc)}×${num(s.target_mos)} mo = ${target}`)
    : t(`目标 ${target}`, `target ${target}`);
  return `${head} − (${t("可用", "avail.")} ${s.available} + ${t("在途", "in transit")} ${s.in_transit ?? 0} + ${t("在订", "on order")} ${s.on_order ?? 0} − ${t("提前期内到期", "expiring in lead time")} ${s.expiring_within_lead ?? 0})`;
}

// --- stock policy of one warehouse's item ------------------------------------------------

let policyVersion = null;
async function fillPolicyChoices() {
  const form = status("prep-policy-form");
  if (form.warehouse_code.options.length) return;
  const [w, i] = await Promise.all([api(`${V1}/warehouses?limit=100`, auth()), api(`${V1}/items?limit=100`, auth())]);
  for (const x of w.items) form.warehouse_code.append(el("option", { value: x.code }, `${x.name}（${x.code}）`));
  for (const x of i.items) form.item_code.append(el("option", { value: x.code }, `${x.name}（${x.code}）`));
}

async function openPolicy(warehouseCode, itemCode) {
  const details = status("prep-policy");
  details.open = true;
  await fillPolicyChoices();
  const form = status("prep-policy-form");
  if (warehouseCode) form.warehouse_code.value = warehouseCode;
  if (itemCode) form.item_code.value = itemCode;
  await loadPolicy();
  form.reorder_mos.focus();
}

async function loadPolicy() {
  const form = status("prep-policy-form");
  const box = status("prep-policy-status");
  for (const name of ["reorder_mos", "target_mos", "min_quantity", "max_quantity", "lead_time_days"]) form[name].value = "";
  policyVersion = null;
  try {
    const p = await api(`${P}/policies/${encodeURIComponent(form.warehouse_code.value)}/${encodeURIComponent(form.item_code.value)}`, auth());
    for (const name of ["reorder_mos", "target_mos", "min_quantity", "max_quantity", "lead_time_days"]) form[name].value = p[name] ?? "";
    policyVersion = p.version;
    notice(box, "info", t(`单独设置（第 ${p.version} 版，${p.updated_by} ${when(p.updated_at)}）`, `Own policy (version ${p.version}, ${p.updated_by} ${when(p.updated_at)})`));
  } catch (err) {
    if (err.status !== 404) throw err;
    notice(box, "info", t("未单独设置：按物资类别默认。", "No own policy: the category's defaults apply."));
  }
  box.dataset.kept = "1";
}

async function savePolicy(event) {
  event.preventDefault();
  const form = status("prep-policy-form");
  const box = status("prep-policy-status");
  const value = (name, parse) => (form[name].value === "" ? null : parse(form[name].value));
  const body = {
    reorder_mos: value("reorder_mos", Number), target_mos: value("target_mos", Number),
    min_quantity: value("min_quantity", Number), max_quantity: value("max_quantity", Number),
    lead_time_days: value("lead_time_days", Number),
  };
  const path = `${P}/policies/${encodeURIComponent(form.warehouse_code.value)}/${encodeURIComponent(form.item_code.value)}`;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const headers = policyVersion ? { "If-Match": `"${policyVersion}"` } : {};
    const saved = await api(path, { method: "PUT", body, headers, ...auth() });
    policyVersion = saved.version;
    box.dataset.kept = "1";
    notice(box, "ok", t(`已保存（第 ${saved.version} 版）。`, `Saved (version ${saved.version}).`));
    await Promise.all([part("prep-sugg-status", renderSuggestions), part("prep-heat-status", renderHeatmap)]);
  } catch (err) {
    notice(box, "bad", explain(err));
  } finally {
    button.disabled = false;
  }
}

async function clearPolicy() {
  const form = status("prep-policy-form");
  const box = status("prep-policy-status");
  if (!policyVersion) {
    notice(box, "info", t("未单独设置，无需恢复。", "No own policy to clear."));
    return;
  }
  try {
    await api(`${P}/policies/${encodeURIComponent(form.warehouse_code.value)}/${encodeURIComponent(form.item_code.value)}`, {
      method: "DELETE", headers: { "If-Match": `"${policyVersion}"` }, ...auth(),
    });
    await loadPolicy();
    box.dataset.kept = "1";
    notice(box, "ok", t("已恢复类别默认。", "Back to the category's defaults."));
    await part("prep-sugg-status", renderSuggestions);
  } catch (err) {
    notice(box, "bad", explain(err));
  }
}

// --- requisitions -------------------------------------------------------------------------

async function loadSources() {
  // an approver chooses where the transfer comes from (default: the district warehouse)
  const select = status("prep-req-source");
  const keep = select.value;
  const page = await api(`${V1}/warehouses?kind=district&active=true&limit=50`, auth());
  for (const o of [...select.options].slice(1)) o.remove();
  for (const w of page.items) select.append(el("option", { value: w.code }, `${w.name}（${w.code}）`));
  if (keep && page.items.some((w) => w.code === keep)) select.value = keep;
}

async function renderRequisitions() {
  const page = await api(`${V1}/requisitions?status=requested&limit=50`, auth());
  const canDecide = may("approver");
  status("prep-req-source-field").classList.toggle("hidden", !canDecide || !page.items.length);
  if (canDecide && page.items.length) await loadSources();
  const actions = (r) => {
    if (!canDecide) return "";
    if (isMe(r.requested_by)) return el("span", { class: "muted" }, t("待他人审批", "Awaiting another approver"));
    const btn = (label, cls, action) => el("button", { type: "button", class: cls, "data-action": action, onclick: (e) => decide(r, action, e.target) }, t(label[0], label[1]));
    return el("div", { class: "actions" },
      btn(["批准", "Approve"], "", "approve"), btn(["部分批准", "Partly"], "secondary", "partly"), btn(["拒绝", "Refuse"], "secondary", "refuse"));
  };
  clear(status("prep-requisitions")).append(table([
    { label: ["单号", "No."], value: (r) => el("span", { class: "code" }, r.requisition_no) },
    { label: ["申请站点", "Station"], value: (r) => `${r.town || ""} ${r.warehouse_code}` },
    { label: ["物资", "Goods"], value: (r) => r.lines.map((l) => `${l.item_name || l.item_code} ${l.quantity}${l.unit || ""}`).join("、") },
    { label: ["理由", "Reason"], value: (r) => r.reason },
    { label: ["申请人", "Requested by"], value: (r) => `${r.requested_by} · ${when(r.requested_at)}` },
    { label: ["状态", "Status"], value: (r) => { const [zh, en, tone] = REQUISITION[r.status] || [r.status, r.status, "info"]; return el("span", { class: `badge ${tone}` }, t(zh, en)); } },
    { label: ["操作", "Actions"], value: actions },
  ], page.items, { rowClass: (r) => `req req-${r.requisition_no}`, empty: ["没有待审批的请领。", "No requisition awaits a decision."] }));
}

async function decide(r, action, button) {
  const box = status("prep-req-status");
  let path = "approve";
  let body = {};
  if (action === "refuse") {
    const reason = prompt(t("拒绝原因：", "Reason for refusing:"));
    if (!reason) return;
    path = "refuse";
    body = { reason };
  } else if (action === "partly") {
    const lines = [];
    for (const l of r.lines) {
      const answer = prompt(t(`${l.item_name || l.item_code}：申请 ${l.quantity}，批准数量：`, `${l.item_name || l.item_code}: asked ${l.quantity}; approve how many?`), String(l.quantity));
      if (answer === null) return;
      const n = Number(answer);
      if (!Number.isInteger(n) || n < 0 || n > l.quantity) {
        notice(box, "bad", t(`批准数量须为 0 到 ${l.quantity} 的整数。`, `Enter a whole number from 0 to ${l.quantity}.`));
        return;
      }
      lines.push({ item_code: l.item_code, approved_quantity: n });
    }
    const reason = prompt(t("部分批准的原因：", "Why only part:"));
    if (!reason) return;
    body = { lines, reason };
  }
  const source = status("prep-req-source").value;
  if (path === "approve" && source) body = { ...body, source_warehouse_code: source };
  button.disabled = true;
  try {
    const result = await api(`${V1}/requisitions/${r.id}/${path}`, {
      method: "POST", body, key: newKey(), headers: { "If-Match": `"${r.version}"` }, ...auth(),
    });
    box.dataset.kept = "1";
    const done = {
      refuse: ["已拒绝", "refused"], partly: ["已部分批准", "partly approved"], approve: ["已批准", "approved"],
    }[action];
    notice(box, "ok", action === "refuse"
      ? t(`${r.requisition_no} ${done[0]}。`, `${r.requisition_no} ${done[1]}.`)
      : t(`${r.requisition_no} ${done[0]}，生成调拨单 ${result.dispatch_no || ""}。`, `${r.requisition_no} ${done[1]}: dispatch ${result.dispatch_no || ""}.`));
    // the transfer is on order for the station now: its suggestion and the plan's gap move
    await Promise.all([
      part("prep-req-status", renderRequisitions), part("prep-sugg-status", renderSuggestions),
      part("prep-coverage-status", renderCoverage),
    ]);
  } catch (err) {
    notice(box, "bad", explain(err));
    button.disabled = false;
  }
}

// --- in transit, discrepancies, rotation --------------------------------------------------

async function renderTransit() {
  const [moving, short] = await Promise.all([
    api(`${P}/in-transit`, auth()), api(`${P}/transit-discrepancies?limit=100`, auth()),
  ]);
  const rows = (moving.destinations || []).flatMap((d) => d.dispatches.map((x) => ({ ...x, to: d })));
  clear(status("prep-transit")).append(table([
    { label: ["调拨单", "Dispatch"], value: (x) => el("span", { class: "code" }, x.dispatch_no) },
    { label: ["调出", "From"], value: (x) => x.from_warehouse_code },
    { label: ["调入", "To"], value: (x) => `${x.to.warehouse_name}（${x.to.warehouse_code}）` },
    { label: ["物资", "Goods"], value: (x) => (x.lines || []).map((l) => `${l.item_name || l.item_code} ${l.quantity}${l.unit || ""}`).join("、") },
    { label: ["发运", "Shipped"], value: (x) => when(x.shipped_at) },
    { label: ["在途天数", "Days on the way"], value: (x) => x.age_days, num: true },
  ], rows, { rowClass: (x) => (x.age_days > 3 ? "near" : null), empty: ["没有在途的调拨。", "Nothing in transit."] }));
  clear(status("prep-discrepancies")).append(table([
    { label: ["调拨单", "Dispatch"], value: (d) => el("span", { class: "code" }, d.dispatch_no) },
    { label: ["调出 → 调入", "From → to"], value: (d) => `${d.from_warehouse_code} → ${d.to_warehouse_code}` },
    { label: ["物资", "Item"], value: (d) => d.item_name || d.item_code },
    { label: ["批次", "Lot"], value: (d) => d.lot_no },
    { label: ["类型", "Kind"], value: (d) => (d.kind === "short" ? t("短少", "short") : t("破损", "damaged")) },
    { label: ["数量", "Quantity"], value: (d) => `${d.quantity} ${d.unit || ""}`, num: true },
    { label: ["原因", "Reason"], value: (d) => d.reason },
    { label: ["登记", "Recorded"], value: (d) => `${d.recorded_by} · ${when(d.recorded_at)}` },
  ], short.items, { empty: ["没有到货差异。", "No discrepancy."] }));
}

const ROTATION = {
  dispatch_first: ["优先发放", "Dispatch first"], transfer: ["调往消耗快的仓库", "Transfer to a warehouse that uses it"],
  donate_on: ["转赠他用", "Donate on"],
};
async function renderRotation() {
  const page = await api(`${P}/rotation?limit=200`, auth());
  clear(status("prep-rotation")).append(table([
    { label: ["仓库", "Warehouse"], value: (r) => r.warehouse_name || r.warehouse_code },
    { label: ["物资", "Item"], value: (r) => r.item_name },
    { label: ["批次", "Lot"], value: (r) => el("span", { class: "code" }, r.lot_no) },
    { label: ["效期", "Expiry"], value: (r) => (r.expiry_date ? day(r.expiry_date) : "—") },
    { label: ["可用", "Available"], value: (r) => `${r.available} ${r.unit || ""}`, num: true },
    { label: ["到期前可用掉", "Used before expiry"], value: (r) => r.consumed_before_expiry, num: true },
    { label: ["到期时剩余", "Left at expiry"], value: (r) => el("strong", {}, r.surplus), num: true },
    { label: ["建议", "Suggestion"], value: (r) => suggestionText(r) },
  ], page.items, { empty: ["没有到期前用不完的批次。", "No lot will expire before it is used."] }));
}

function suggestionText(r) {
  const key = r.suggestion || r.action;
  const pair = ROTATION[key];
  const base = pair ? t(pair[0], pair[1]) : key || "—";
  return r.to_warehouse_code ? `${base} → ${r.to_warehouse_code}` : base;
}

// --- exports ------------------------------------------------------------------------------

function exportUrl(kind, fmt) {
  const q = new URLSearchParams({ format: fmt });
  if (kind === "coverage") return `${P}/plans/${encodeURIComponent(status("prep-plan").value)}/coverage?${q}`;
  if (kind === "levels" && status("prep-category").value) q.set("category", status("prep-category").value);
  return `${P}/${kind === "discrepancies" ? "transit-discrepancies" : kind}?${q}`;
}

/** Download an export with the staff token (a plain link cannot send it). */
async function download(button) {
  const { kind, fmt } = button.dataset;
  const box = status("prep-export-status");
  button.disabled = true;
  notice(box, "info", t("正在导出…", "Exporting…"));
  try {
    const response = await fetch(exportUrl(kind, fmt), { headers: { Authorization: `Bearer ${token()}` } });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const blob = await response.blob();
    const disposition = response.headers.get("content-disposition") || "";
    const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
    const plain = /filename="?([^";]+)"?/i.exec(disposition);
    const name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : `sunshine-${kind}.${fmt}`;
    const a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    notice(box, "ok", t(`已导出 ${name}。`, `Exported ${name}.`));
  } catch (err) {
    notice(box, "bad", explain(err));
  } finally {
    button.disabled = false;
  }
}

// --- the view -----------------------------------------------------------------------------

export async function renderPreparedness() {
  await Promise.all([
    part("prep-heat-status", renderHeatmap),
    part("prep-coverage-status", renderCoverage),
    part("prep-sugg-status", renderSuggestions),
    part("prep-req-status", renderRequisitions),
    part("prep-transit-status", renderTransit),
    part("prep-rot-status", renderRotation),
  ]);
}

export function setupPreparedness() {
  const select = status("prep-category");
  for (const [code, [zh, en]] of Object.entries(CATEGORIES)) select.append(el("option", { value: code, "data-en": en }, zh));
  select.addEventListener("change", () => part("prep-heat-status", renderHeatmap));
  status("prep-plan").addEventListener("change", () => { clear(status("prep-fill-preview")); part("prep-coverage-status", renderCoverage); });
  status("prep-fill").addEventListener("click", previewFill);
  for (const b of document.querySelectorAll("#view-prep button[data-kind]")) b.addEventListener("click", () => download(b));
  const policy = status("prep-policy-form");
  policy.addEventListener("submit", savePolicy);
  policy.warehouse_code.addEventListener("change", () => part("prep-policy-status", loadPolicy));
  policy.item_code.addEventListener("change", () => part("prep-policy-status", loadPolicy));
  status("pp-clear").addEventListener("click", clearPolicy);
  status("prep-policy").addEventListener("toggle", () => {
    if (status("prep-policy").open) part("prep-policy-status", async () => { await fillPolicyChoices(); await loadPolicy(); });
  });
  window.addEventListener("resize", () => { if (coverageChart) coverageChart.resize(); });
}
