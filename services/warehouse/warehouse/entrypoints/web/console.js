// Warehouse console: stock with safety/near-expiry colours, alerts (acknowledge), receive goods,
// stock count, write-offs awaiting a second person (approve / reject — never by the counter),
// dispatch (request for a project, approve — never by the requester —, with an override for
// goods designated to another project, FEFO pick list, ship, sign-off), preparedness
// (preparedness.js), audit log. Usable on a phone in a warehouse aisle.
import {
  api, clear, day, el, explain, isMe, may, newKey, notice, onSubmitOnce, t, token, when, yuan,
} from "/assets/common/common.js";
import { clean, fillTowns, startConsole, table, today } from "/assets/common/console-kit.js";
import { renderPreparedness, setupPreparedness } from "/assets/page/preparedness.js";

const V1 = "/api/v1";
const auth = () => ({ token: token() });

const DISPATCH = {
  requested: ["待审批", "Awaiting approval", "warn"], approved: ["已批准", "Approved", "info"],
  picked: ["已拣货", "Picked", "info"], shipped: ["已发运", "Shipped", "info"],
  delivered: ["已签收", "Delivered", "ok"], rejected: ["已驳回", "Rejected", "bad"], cancelled: ["已取消", "Cancelled", "bad"],
};
const URGENCY = { normal: ["一般", "normal"], urgent: ["紧急", "urgent"], critical: ["特急", "critical"] };
const ADJUSTMENT_REASONS = {
  lost: ["丢失", "Lost"], damaged: ["损坏", "Damaged"], expired: ["过期", "Expired"],
  found: ["盘盈", "Found (surplus)"], correction: ["更正", "Correction"],
};
const ALERT_KINDS = {
  low_stock: ["低于安全库存", "Below safety stock"], out_of_stock: ["缺货", "Out of stock"],
  near_expiry: ["近效期", "Near expiry"], expired: ["已过期", "Expired"],
  below_reorder: ["低于补货点", "Below reorder threshold"], plan_gap: ["备灾计划缺口", "Plan gap"],
};

function badge(map, key) {
  const [zh, en, tone] = map[key] || [key, key, "info"];
  return el("span", { class: `badge ${tone || "info"}` }, t(zh, en));
}

function plusDays(n) {
  const d = new Date(`${today()}T00:00:00+08:00`);
  d.setUTCDate(d.getUTCDate() + n);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(d);
}

// --- reference data -----------------------------------------------------------------------

let warehouses = [];
let items = [];
async function loadReference() {
  const [w, i] = await Promise.all([api(`${V1}/warehouses?limit=100`, auth()), api(`${V1}/items?limit=100`, auth())]);
  warehouses = w.items;
  items = i.items;
  for (const select of document.querySelectorAll("select.warehouses")) {
    const keep = select.value;
    for (const o of [...select.options]) if (o.value) o.remove();
    for (const x of warehouses) select.append(el("option", { value: x.code }, `${x.name}（${x.code}）`));
    if (keep) select.value = keep;
  }
  for (const select of document.querySelectorAll("select.items")) {
    const keep = select.value;
    clear(select);
    for (const x of items) select.append(el("option", { value: x.code }, `${x.name}（${x.unit}）`));
    if (keep) select.value = keep;
  }
}

// --- stock --------------------------------------------------------------------------------

async function renderStock() {
  await loadReference();
  const params = new URLSearchParams(clean(Object.fromEntries(new FormData(document.getElementById("stock-form")).entries())));
  params.set("limit", "100");
  const soon = plusDays(30);
  const lotParams = new URLSearchParams({ expiring_before: soon, in_stock: "true", limit: "100" });
  if (params.get("warehouse_code")) lotParams.set("warehouse_code", params.get("warehouse_code"));
  const [stock, lots] = await Promise.all([api(`${V1}/stock?${params}`, auth()), api(`${V1}/lots?${lotParams}`, auth())]);
  const nearKeys = new Set(lots.items.map((l) => `${l.warehouse_code}/${l.item_code}`));
  clear(document.getElementById("stock-table")).append(table([
    { label: ["仓库", "Warehouse"], value: (s) => s.warehouse_name },
    { label: ["物资", "Item"], value: (s) => s.item_name },
    { label: ["在库", "On hand"], value: (s) => `${s.on_hand} ${s.unit}`, num: true },
    { label: ["已占用", "Reserved"], value: (s) => s.reserved, num: true },
    { label: ["已过期", "Expired"], value: (s) => s.expired, num: true },
    { label: ["可用", "Available"], value: (s) => s.available, num: true },
    { label: ["安全库存", "Safety stock"], value: (s) => s.safety_stock, num: true },
    { label: ["提示", "Flags"], value: (s) => el("span", {},
      s.below_safety_stock ? el("span", { class: "badge bad" }, t("低于安全库存", "below safety")) : "",
      nearKeys.has(`${s.warehouse_code}/${s.item_code}`) ? el("span", { class: "badge warn" }, t("近效期", "near expiry")) : "",
      !s.below_safety_stock && !nearKeys.has(`${s.warehouse_code}/${s.item_code}`) ? el("span", { class: "badge ok" }, t("正常", "OK")) : "") },
  ], stock.items, {
    rowClass: (s) => (s.below_safety_stock ? "low" : nearKeys.has(`${s.warehouse_code}/${s.item_code}`) ? "near" : null),
  }));
  clear(document.getElementById("lots-table")).append(table([
    { label: ["批次", "Lot"], value: (l) => el("span", { class: "code" }, l.lot_no) },
    { label: ["物资", "Item"], value: (l) => l.item_name },
    { label: ["仓库", "Warehouse"], value: (l) => l.warehouse_code },
    { label: ["效期", "Expiry"], value: (l) => l.expiry_date },
    { label: ["在库", "On hand"], value: (l) => `${l.on_hand} ${l.unit}`, num: true },
  ], lots.items, { rowClass: (l) => (l.expiry_date && l.expiry_date < today() ? "low" : "near"), empty: ["没有 30 天内到期的批次。", "No lot expires within 30 days."] }));
}

// --- alerts -------------------------------------------------------------------------------

async function renderAlerts() {
  const page = await api(`/console/api/alerts?status=unresolved&limit=50`, auth());
  const canAck = may("warehouse");
  clear(document.getElementById("alerts-table")).append(table([
    { label: ["时间", "Raised"], value: (a) => when(a.raised_at) },
    { label: ["类型", "Kind"], value: (a) => badge(Object.fromEntries(Object.entries(ALERT_KINDS).map(([k, v]) => [k, [...v, k === "near_expiry" ? "warn" : "bad"]])), a.kind) },
    { label: ["仓库", "Warehouse"], value: (a) => a.warehouse_name },
    { label: ["物资", "Item"], value: (a) => a.item_name },
    { label: ["详情", "Details"], value: (a) => Object.entries(a.details || {}).filter(([, v]) => v !== null && typeof v !== "object").map(([k, v]) => `${k}: ${v}`).join("，") },
    { label: ["状态", "Status"], value: (a) => (a.acknowledged_at
      ? el("span", { class: "badge info" }, t(`已确认（${a.acknowledged_by}）`, `acknowledged (${a.acknowledged_by})`))
      : el("span", { class: "badge bad" }, t("待处理", "open"))) },
    { label: ["操作", "Action"], value: (a) => (canAck && !a.acknowledged_at
      ? el("button", { type: "button", onclick: (e) => acknowledge(a, e.target) }, t("确认", "Acknowledge")) : "") },
  ], page.items, { empty: ["没有未解决的预警。", "No open alerts."] }));
}

async function acknowledge(alert, button) {
  const note = prompt(t("处理说明（例如：已申请补货）：", "What is being done (e.g. restock requested):"));
  if (!note) return;
  button.disabled = true;
  try {
    await api(`/console/api/alerts/${alert.id}/acknowledge`, { method: "POST", body: { note }, key: newKey(), ...auth() });
    notice(document.getElementById("alerts-status"), "ok", t("已确认预警。", "Alert acknowledged."));
    await renderAlerts();
  } catch (err) {
    notice(document.getElementById("alerts-status"), "bad", explain(err));
    button.disabled = false;
  }
}

// --- receive ------------------------------------------------------------------------------

let confirming = null;
async function renderReceive() {
  await loadReference();
  const page = await api(`${V1}/inbounds?status=expected&limit=50`, auth());
  clear(document.getElementById("inbounds-table")).append(table([
    { label: ["来源", "Source"], value: (i) => (i.source_kind === "donation" ? t(`捐赠：${i.donor_display_name || ""}`, `Gift: ${i.donor_display_name || ""}`) : t(`采购：${i.procurement_order}`, `Purchase: ${i.procurement_order}`)) },
    { label: ["物资", "Goods"], value: (i) => (i.lines || []).map((l) => `${l.name || l.item_name || l.item_code} ${l.quantity}${l.unit || ""}`).join("、") },
    { label: ["登记时间", "Announced"], value: (i) => when(i.announced_at) },
    { label: ["操作", "Action"], value: (i) => el("button", { type: "button", onclick: () => openConfirm(i) }, t("入库", "Receive")) },
  ], page.items, { empty: ["没有待入库的物资。", "Nothing to receive."] }));
}

function openConfirm(inbound) {
  confirming = inbound;
  const form = document.getElementById("confirm-form");
  form.classList.remove("hidden");
  document.getElementById("confirm-h").textContent = t("确认入库", "Confirm receipt");
  if (inbound.warehouse_code) form.warehouse_code.value = inbound.warehouse_code;
  const holder = clear(document.getElementById("confirm-lines"));
  (inbound.lines || []).forEach((line, index) => {
    const n = index + 1;
    holder.append(el("fieldset", {},
      el("legend", {}, `${line.name || line.item_name || line.item_code}（${t("应到", "expected")} ${line.quantity}${line.unit || ""}）`),
      el("div", { class: "form-row" },
        el("div", { class: "field" }, el("label", { for: `cl-${n}-qty` }, t("实收数量", "Received")),
          el("input", { id: `cl-${n}-qty`, name: `lines.${index}.received_quantity`, type: "number", min: "0", step: "1", required: true, value: line.quantity })),
        el("div", { class: "field" }, el("label", { for: `cl-${n}-dmg` }, t("破损数量", "Damaged")),
          el("input", { id: `cl-${n}-dmg`, name: `lines.${index}.damaged_quantity`, type: "number", min: "0", step: "1", value: "0" })),
        el("div", { class: "field" }, el("label", { for: `cl-${n}-exp` }, t("效期", "Expiry")),
          el("input", { id: `cl-${n}-exp`, name: `lines.${index}.expiry_date`, type: "date", value: line.expiry_date || "" })),
      )));
  });
  form.querySelector("input, select").focus();
}

function setupReceive() {
  const form = document.getElementById("confirm-form");
  document.getElementById("confirm-cancel").addEventListener("click", () => form.classList.add("hidden"));
  onSubmitOnce(form, document.getElementById("confirm-status"), async (data, key) => {
    const lines = (confirming.lines || []).map((line, index) => clean({
      line_no: index + 1,
      received_quantity: Number(data.get(`lines.${index}.received_quantity`)),
      damaged_quantity: Number(data.get(`lines.${index}.damaged_quantity`) || 0),
      expiry_date: data.get(`lines.${index}.expiry_date`),
    }));
    const result = await api(`${V1}/inbounds/${confirming.id}/confirm`, {
      method: "POST", body: { warehouse_code: data.get("warehouse_code"), lines }, key, ...auth(),
    });
    form.classList.add("hidden");
    await renderReceive();
    notice(document.getElementById("recv-status"), "ok", t(`已入库，入库单 ${result.receipt_no || ""}`, `Received: ${result.receipt_no || ""}`));
    return false;
  });
  const proc = document.getElementById("proc-form");
  onSubmitOnce(proc, document.getElementById("proc-status"), async (data, key) => {
    await api(`${V1}/inbounds`, {
      method: "POST", key, ...auth(),
      body: clean({
        source_kind: "procurement", warehouse_code: data.get("warehouse_code"),
        procurement_order: data.get("procurement_order"), supplier: data.get("supplier"),
        lines: [clean({ item_code: data.get("item_code"), quantity: Number(data.get("quantity")), expiry_date: data.get("expiry_date") })],
      }),
    });
    proc.reset();
    await renderReceive();
    return t("已登记，请在上方确认入库。", "Registered; confirm it above when it arrives.");
  });
}

// --- stock count --------------------------------------------------------------------------

async function renderCount() {
  await loadReference();
  const form = document.getElementById("count-form");
  const fillLots = async () => {
    const code = form.warehouse_code.value;
    const lots = await api(`${V1}/lots?warehouse_code=${encodeURIComponent(code)}&in_stock=true&limit=100`, auth());
    if (form.warehouse_code.value !== code) return; // the keeper chose another warehouse meanwhile
    const select = clear(form.lot_id);
    for (const l of lots.items) select.append(el("option", { value: l.id }, `${l.item_name} ${l.lot_no}${l.expiry_date ? ` (${l.expiry_date})` : ""} — ${t("账面", "book")} ${l.on_hand}${l.unit}`));
  };
  form.warehouse_code.onchange = fillLots;
  await fillLots();
}

function setupCount() {
  const form = document.getElementById("count-form");
  onSubmitOnce(form, document.getElementById("count-status"), async (data, key) => {
    const result = await api(`${V1}/stock-counts`, {
      method: "POST", key, ...auth(),
      body: clean({
        warehouse_code: data.get("warehouse_code"), note: data.get("note"),
        lines: [clean({ lot_id: data.get("lot_id"), counted_quantity: Number(data.get("counted_quantity")), reason: data.get("reason") })],
      }),
    });
    await renderCount();
    const n = (result.adjustments || []).length;
    return n ? t(`盘点已记录，调整 ${n} 项。`, `Count recorded; ${n} adjustment(s).`) : t("盘点已记录，账实相符。", "Count recorded; no difference.");
  });
}

// --- write-offs awaiting a second person (four eyes) ----------------------------------------

const WRITE_OFF_PAGE = 20;
let writeOffs = [];
let writeOffCursor = null;

/** A refusal's own words: a four-eyes 403 says why (the counter may not decide), not "your role". */
function refusal(err) {
  return err && err.status === 403 && err.message ? err.message : explain(err);
}

async function renderWriteOffs(more = false) {
  if (!more) await loadReference();
  const params = new URLSearchParams(clean(Object.fromEntries(new FormData(document.getElementById("wo-filter")).entries())));
  params.set("status", "pending");
  params.set("limit", String(WRITE_OFF_PAGE));
  if (more && writeOffCursor) params.set("cursor", writeOffCursor);
  const page = await api(`${V1}/stock-adjustments?${params}`, auth());
  writeOffs = more ? writeOffs.concat(page.items) : page.items;
  writeOffCursor = page.next_cursor;
  const canDecide = may("approver");
  const place = (code) => {
    const w = warehouses.find((x) => x.code === code);
    return w ? `${w.name}（${w.code}）` : code;
  };
  const actions = {
    label: ["操作", "Actions"],
    value: (a) => {
      if (isMe(a.counted_by)) return el("span", { class: "muted" }, t("待他人审批", "Awaiting another approver"));
      const btn = (label, cls, action) => el("button", { type: "button", class: cls, "data-action": action, onclick: (e) => decideWriteOff(a, action, e.target) }, t(label[0], label[1]));
      return el("div", { class: "actions" }, btn(["批准", "Approve"], "", "approve"), btn(["驳回", "Reject"], "secondary", "reject"));
    },
  };
  clear(document.getElementById("wo-table")).append(table([
    { label: ["仓库", "Warehouse"], value: (a) => place(a.warehouse_code) },
    { label: ["物资", "Item"], value: (a) => a.item_name },
    { label: ["批次", "Lot"], value: (a) => el("span", { class: "code" }, a.lot_no) },
    { label: ["核减数量", "Quantity"], value: (a) => `${a.delta} ${a.unit}（${a.quantity_before} → ${a.quantity_after}）`, num: true },
    { label: ["核减价值", "Value"], value: (a) => yuan(a.value_fen), num: true },
    { label: ["盘点人", "Counted by"], value: (a) => a.counted_by },
    { label: ["盘点时间", "Counted at"], value: (a) => when(a.counted_at) },
    { label: ["原因", "Reason"], value: (a) => [t(...(ADJUSTMENT_REASONS[a.reason] || [a.reason, a.reason])), a.note].filter(Boolean).join("：") },
    ...(canDecide ? [actions] : []),
  ], writeOffs, { rowClass: (a) => `wo wo-${a.id}`, empty: ["没有待审批的报损。", "No write-off awaits a decision."] }));
  document.getElementById("wo-more").classList.toggle("hidden", !writeOffCursor);
}

async function decideWriteOff(a, action, button) {
  const box = document.getElementById("wo-status");
  let body;
  if (action === "reject") {
    const reason = (prompt(t("驳回原因：", "Reason for rejecting:")) || "").trim();
    if (!reason) return;
    body = { reason };
  }
  button.disabled = true;
  const what = `${a.item_name} ${a.lot_no}`;
  try {
    await api(`${V1}/stock-adjustments/${a.id}/${action}`, {
      method: "POST", body, key: newKey(), headers: { "If-Match": `"${a.version}"` }, ...auth(),
    });
    notice(box, "ok", action === "approve"
      ? t(`${what} 报损已批准，库存核减 ${-a.delta}${a.unit}。`, `${what}: write-off approved; stock down by ${-a.delta} ${a.unit}.`)
      : t(`${what} 报损已驳回，库存不变。`, `${what}: write-off rejected; the stock stays as it is.`));
    await renderWriteOffs();
  } catch (err) {
    notice(box, "bad", refusal(err));
    button.disabled = false;
    // decided meanwhile (or gone): the list as it is now
    if (err.status === 409 || err.status === 404) await renderWriteOffs().catch(() => {});
  }
}

function setupWriteOffs() {
  document.getElementById("wo-filter").addEventListener("submit", (e) => {
    e.preventDefault();
    renderWriteOffs().catch((err) => notice(document.getElementById("wo-status"), "bad", explain(err)));
  });
  document.getElementById("wo-more").addEventListener("click", () => {
    renderWriteOffs(true).catch((err) => notice(document.getElementById("wo-status"), "bad", explain(err)));
  });
}

// --- dispatch -----------------------------------------------------------------------------

let dispatches = [];
async function renderDispatches() {
  await loadReference();
  const params = new URLSearchParams(clean(Object.fromEntries(new FormData(document.getElementById("disp-filter")).entries())));
  params.set("limit", "50");
  const page = await api(`${V1}/dispatches?${params}`, auth());
  dispatches = page.items;
  const actions = (d) => {
    const out = [];
    const btn = (label, cls, fn, action = label[1].toLowerCase()) => el("button", { type: "button", class: cls, "data-action": action, onclick: (e) => fn(d, e.target) }, t(label[0], label[1]));
    if (d.status === "requested" && may("approver") && !isMe(d.requested_by)) {
      out.push(btn(["批准", "Approve"], "", (x, b) => act(x, "approve", {}, b)));
      out.push(btn(["特批…", "Override…"], "secondary", (x) => openDialog("approve", x), "approve-override"));
      out.push(btn(["驳回", "Reject"], "secondary", (x, b) => reasonAct(x, "reject", b)));
    }
    if (d.status === "requested" && isMe(d.requested_by)) out.push(el("span", { class: "muted" }, t("待他人审批", "Awaiting another approver")));
    if (d.status === "approved" && may("warehouse")) out.push(btn(["拣货", "Pick"], "", (x, b) => act(x, "pick", {}, b)));
    if (["picked", "shipped", "delivered"].includes(d.status)) out.push(btn(["拣货单", "Pick list"], "secondary", (x) => showPickList(x)));
    if (d.status === "picked" && may("warehouse")) out.push(btn(["发运", "Ship"], "", (x) => openDialog("ship", x)));
    if (d.status === "shipped" && may("warehouse", "dispatcher")) out.push(btn(["签收", "Sign-off"], "", (x) => openDialog("deliver", x)));
    if (["requested", "approved", "picked"].includes(d.status) && may("warehouse", "dispatcher")) out.push(btn(["取消", "Cancel"], "secondary", (x, b) => reasonAct(x, "cancel", b)));
    return el("div", { class: "actions" }, out);
  };
  clear(document.getElementById("disp-table")).append(table([
    { label: ["单号", "No."], value: (d) => el("span", { class: "code" }, d.dispatch_no) },
    { label: ["目的地", "To"], value: (d) => `${d.destination.town || ""} ${d.destination.name || ""}` },
    { label: ["物资", "Goods"], value: (d) => d.lines.map((l) => `${l.item_name || l.item_code} ${l.quantity}${l.unit || ""}`).join("、") },
    { label: ["紧急", "Urgency"], value: (d) => t(...(URGENCY[d.urgency] || [d.urgency])) },
    { label: ["服务项目", "Project"], value: (d) => projectCell(d) },
    { label: ["申请人", "Requested by"], value: (d) => `${d.requested_by}${d.approved_by ? ` / ${t("审批", "approved")} ${d.approved_by}` : ""}` },
    { label: ["状态", "Status"], value: (d) => badge(DISPATCH, d.status) },
    { label: ["操作", "Actions"], value: actions },
  ], dispatches, { rowClass: (d) => `dispatch-${d.status}` }));
  document.getElementById("disp-new").classList.toggle("hidden", !may("dispatcher"));
  if (may("dispatcher")) fillProjects();
}

/** The project a dispatch serves and, when an approver let it take goods designated to another
 * project, the reason they gave. */
function projectCell(d) {
  return el("div", { class: "project" },
    d.project_code ? el("span", { class: "code" }, d.project_code) : el("span", { class: "muted" }, t("未指定", "none")),
    d.designated_override_reason
      ? el("div", { class: "override" }, t(`特批使用他项目定向物资：${d.designated_override_reason}`, `Override for designated goods: ${d.designated_override_reason}`))
      : "");
}

/** Suggestions for the project field: the projects that goods in the chosen warehouse are
 * designated to (the warehouse keeps no project list; any code of the right form is accepted). */
async function fillProjects() {
  const from = document.getElementById("q-from");
  const code = from.value;
  let found = [];
  if (code) {
    try {
      const lots = await api(`${V1}/lots?warehouse_code=${encodeURIComponent(code)}&in_stock=true&limit=100`, auth());
      found = [...new Set(lots.items.map((l) => l.designated_project).filter(Boolean))].sort();
    } catch {
      found = []; // suggestions only: the field still takes any code
    }
  }
  if (from.value !== code) return; // another warehouse was chosen meanwhile
  const list = clear(document.getElementById("q-projects"));
  for (const p of found) list.append(el("option", { value: p }));
}

async function act(d, action, body, button) {
  if (button) button.disabled = true;
  const status = document.getElementById("disp-status");
  try {
    const result = await api(`${V1}/dispatches/${d.id}/${action}`, { method: "POST", body, key: newKey(), ...auth() });
    const done = {
      approve: ["已批准。", "Approved."], reject: ["已驳回。", "Rejected."], pick: ["已按先到期先出拣货。", "Picked (first-expiry-first-out)."],
      ship: ["已发运。", "Shipped."], deliver: ["已签收，公示页将显示这次发放。", "Signed for; the public page will show it."], cancel: ["已取消。", "Cancelled."],
    }[action];
    notice(status, "ok", `${result.dispatch_no} ${t(done[0], done[1])}`);
    await renderDispatches();
    if (action === "pick") showPickList(result);
    return result;
  } catch (err) {
    notice(status, "bad", explain(err));
    if (button) button.disabled = false;
    throw err;
  }
}

async function reasonAct(d, action, button) {
  const reason = prompt(action === "reject" ? t("驳回原因：", "Reason for rejecting:") : t("取消原因：", "Reason for cancelling:"));
  if (reason) await act(d, action, { reason }, button).catch(() => {});
}

let dialogTarget = null;
function openDialog(name, d) {
  dialogTarget = d;
  const dialog = document.getElementById(`${name}-dialog`);
  dialog.querySelector("form").reset();
  if (name === "approve") {
    document.getElementById("approve-info").textContent = t(
      `${d.dispatch_no}　服务项目：${d.project_code || "未指定"}。定向捐赠给其他项目的物资，只有写明理由（记入审计）才可用于本调拨。`,
      `${d.dispatch_no}, project ${d.project_code || "none"}: goods designated to another project may go to it only with a reason (audited).`);
  }
  dialog.showModal();
}

function setupDispatch() {
  document.getElementById("disp-filter").addEventListener("submit", (e) => { e.preventDefault(); renderDispatches(); });
  const doneIn = {
    approve: ["已批准（特批使用他项目定向物资）。", "Approved, with the override for designated goods."],
    ship: ["已发运。", "Shipped."], deliver: ["已签收，公示页将显示这次发放。", "Signed for; the public page will show it."],
  };
  for (const name of ["approve", "ship", "deliver"]) {
    const dialog = document.getElementById(`${name}-dialog`);
    dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
    const form = dialog.querySelector("form");
    onSubmitOnce(form, document.getElementById(`${name}-status`), async (data, key) => {
      const body = clean(Object.fromEntries([...data.entries()].map(([k, v]) => [k, String(v).trim()])));
      if (name === "approve" && !body.designated_override_reason) {
        throw new Error(t("请填写特批理由；不特批请直接点“批准”。", "Give the reason, or use “Approve” for a plain approval."));
      }
      const result = await api(`${V1}/dispatches/${dialogTarget.id}/${name}`, { method: "POST", body, key, ...auth() });
      dialog.close();
      notice(document.getElementById("disp-status"), "ok", `${result.dispatch_no} ${t(...doneIn[name])}`);
      await renderDispatches();
      return false;
    });
  }
  document.getElementById("q-from").addEventListener("change", fillProjects);
  const form = document.getElementById("disp-form");
  onSubmitOnce(form, document.getElementById("disp-form-status"), async (data, key) => {
    const town = data.get("destination.town");
    const body = clean({
      from_warehouse_code: data.get("from_warehouse_code"),
      destination: clean({ kind: data.get("destination.kind"), name: data.get("destination.name"), town }),
      urgency: data.get("urgency"), incident_name: data.get("incident_name"),
      project_code: String(data.get("project_code") || "").trim(),
      lines: [{ item_code: data.get("lines.0.item_code"), quantity: Number(data.get("lines.0.quantity")) }],
    });
    const result = await api(`${V1}/dispatches`, { method: "POST", body, key, ...auth() });
    form.reset();
    await renderDispatches();
    return t(`已提交调拨申请 ${result.dispatch_no}，等待审批。`, `Dispatch ${result.dispatch_no} requested; awaiting approval.`);
  });
}

function showPickList(d) {
  const holder = clear(document.getElementById("picklist"));
  const names = Object.fromEntries((d.lines || []).map((l) => [l.item_code, l.item_name || l.item_code]));
  const rows = [...(d.allocations || [])].sort((a, b) => (a.expiry_date || "9999").localeCompare(b.expiry_date || "9999"));
  holder.append(
    el("h2", {}, t(`拣货单 ${d.dispatch_no}`, `Pick list ${d.dispatch_no}`)),
    el("p", {}, t(`发货仓库：${d.from_warehouse_code}　目的地：${d.destination.town || ""} ${d.destination.name || ""}　打印时间：${when(new Date().toISOString())}`,
      `From ${d.from_warehouse_code} to ${d.destination.town || ""} ${d.destination.name || ""}; printed ${when(new Date().toISOString())}`)),
    d.project_code ? el("p", {}, t(`服务项目：${d.project_code}`, `Project: ${d.project_code}`)) : "",
    d.designated_override_reason ? el("p", {}, t(`特批使用他项目定向物资（${d.approved_by || ""}）：${d.designated_override_reason}`, `Override for designated goods (${d.approved_by || ""}): ${d.designated_override_reason}`)) : "",
    el("p", { class: "muted" }, t("按先到期先出（FEFO）排列：请依次从下列批次取货。", "First-expiry-first-out: take from these lots in this order.")),
    table([
      { label: ["物资", "Item"], value: (a) => names[a.item_code] || a.item_code },
      { label: ["批次", "Lot"], value: (a) => el("span", { class: "code" }, a.lot_no) },
      { label: ["效期", "Expiry"], value: (a) => (a.expiry_date ? day(a.expiry_date) : "—") },
      { label: ["数量", "Quantity"], value: (a) => a.quantity, num: true },
      { label: ["来源", "Source"], value: (a) => (a.source_kind === "donation" ? t("捐赠", "gift") : t("采购", "purchase")) },
      { label: ["已取", "Taken"], value: () => "☐" },
    ], rows),
    el("p", { class: "sign" }, t("拣货人：__________　复核人：__________", "Picked by: __________  Checked by: __________")),
  );
  for (const s of document.querySelectorAll(".view")) s.classList.add("hidden");
  const view = document.getElementById("view-picklist");
  view.classList.remove("hidden");
  view.classList.add("printing");
  document.getElementById("pick-print").focus();
}

// --- audit --------------------------------------------------------------------------------

async function renderAudit() {
  const page = await api(`${V1}/audit-log?limit=50`, auth());
  clear(document.getElementById("audit-table")).append(table([
    { label: ["时间", "When"], value: (a) => when(a.at) },
    { label: ["操作人", "Who"], value: (a) => a.actor },
    { label: ["操作", "Action"], value: (a) => a.action },
    { label: ["对象", "What"], value: (a) => `${a.entity_type} ${a.entity_id}` },
    { label: ["详情", "Detail"], value: (a) => el("code", { class: "code" }, JSON.stringify(a.detail || {}).slice(0, 160)) },
  ], page.items));
}

// --- start --------------------------------------------------------------------------------

fillTowns();
setupReceive();
setupCount();
setupWriteOffs();
setupDispatch();
setupPreparedness();
document.getElementById("stock-form").addEventListener("submit", (e) => { e.preventDefault(); renderStock(); });
document.getElementById("pick-print").addEventListener("click", () => window.print());
const app = startConsole({
  tokenUrl: "/console/api/auth/token",
  defaultView: "stock",
  views: {
    stock: renderStock, alerts: renderAlerts, receive: renderReceive, count: renderCount,
    writeoffs: () => renderWriteOffs(), dispatch: renderDispatches, prep: renderPreparedness, audit: renderAudit,
  },
});
document.getElementById("pick-back").addEventListener("click", () => {
  document.getElementById("view-picklist").classList.remove("printing");
  app.open("dispatch");
});
