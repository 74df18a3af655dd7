// Donation console: record gifts, receipts (printable, with QR), projects, disbursements with
// four-eyes approval, follow-ups, reports (chart + CSV), audit log, the organisations, staff
// accounts (admins). Role-aware menus.
import {
  ApiError, api, chartsUnavailable, claims, clear, clearErrors, day, el, explain, isMe, loadECharts, may, newKey,
  notice, onSubmitOnce, roleName, roles, t, token, when, yuan,
} from "/assets/common/common.js";
import { clean, fen, fillTowns, startConsole, table, today } from "/assets/common/console-kit.js";

const V1 = "/api/v1";
const auth = () => ({ token: token() });

const STATUS = {
  pledged: ["已认捐", "Pledged", "info"], received: ["已到账", "Received", "info"],
  receipted: ["已开票", "Receipted", "ok"], allocated: ["已分配", "Allocated", "ok"],
  in_use: ["使用中", "In use", "ok"], completed: ["已用完", "Fully used", "ok"],
  cancelled: ["已取消", "Cancelled", "bad"], refunded: ["已退回", "Refunded", "warn"],
  pending: ["待审批", "Pending", "warn"], approved: ["已批准", "Approved", "ok"], rejected: ["已驳回", "Rejected", "bad"],
  open: ["进行中", "Open", "ok"], closed: ["已结项", "Closed", "info"],
};
function badge(status) {
  const [zh, en, tone] = STATUS[status] || [status, status, "info"];
  return el("span", { class: `badge ${tone}` }, t(zh, en));
}

let projects = [];
async function loadProjects() {
  const page = await api(`${V1}/projects?limit=100`, auth());
  projects = page.items;
  for (const select of document.querySelectorAll("#r-project, select.projects")) {
    const keep = select.value;
    for (const o of [...select.options]) if (o.value) o.remove();
    for (const p of projects.filter((x) => x.status === "open")) select.append(el("option", { value: p.code }, `${p.name}（${p.code}）`));
    select.value = keep;
  }
}

// --- record a gift ------------------------------------------------------------------------

function setupRecord() {
  const form = document.getElementById("record-form");
  const status = document.getElementById("record-status");
  const syncKind = () => {
    const goods = form.kind.value === "goods";
    form.querySelectorAll(".goods-only").forEach((n) => n.classList.toggle("hidden", !goods));
    form.querySelectorAll(".money-only").forEach((n) => n.classList.toggle("hidden", goods));
  };
  form.querySelectorAll("input[name=kind]").forEach((r) => r.addEventListener("change", syncKind));
  syncKind();
  onSubmitOnce(form, status, async (data, key) => {
    const goods = data.get("kind") === "goods";
    const body = clean({
      kind: data.get("kind"),
      channel: data.get("channel"),
      project_code: data.get("project_code"),
      display: data.get("display"),
      note: data.get("note"),
      donor: clean({
        name: data.get("donor.name"), phone: data.get("donor.phone"), email: data.get("donor.email"),
        donor_type: data.get("donor.donor_type"),
      }),
    });
    if (goods) {
      body.items = [clean({
        item_code: data.get("items.0.item_code"), name: data.get("items.0.name"),
        quantity: Number(data.get("items.0.quantity")), unit: data.get("items.0.unit"),
        value_fen: fen(data.get("items.0.value_fen")), expiry_date: data.get("items.0.expiry_date"),
      })];
    } else {
      body.amount_fen = fen(data.get("amount_fen"));
    }
    const gift = await api(`${V1}/donations`, { method: "POST", body, key, ...auth() });
    let receipt = null;
    if (data.get("with_receipt")) {
      receipt = await api(`${V1}/donations/${gift.id}/receipt`, { method: "POST", body: {}, key: `${key}-receipt`, ...auth() });
    }
    form.reset();
    syncKind();
    clear(status).append(el("div", { class: "notice ok", role: "status" },
      t(`已登记：${gift.display_name} ${yuan(gift.amount_fen)}，查询码 `, `Recorded: ${gift.display_name} ${yuan(gift.amount_fen)}, tracking code `),
      el("strong", { class: "code", id: "new-tracking-code" }, gift.tracking_code),
      receipt ? " · " : "",
      receipt ? el("button", { type: "button", class: "link", onclick: () => showReceipt(gift, receipt) }, t(`打印票据 ${receipt.receipt_no}`, `Print receipt ${receipt.receipt_no}`)) : "",
    ));
    return false;
  });
}

// --- gifts and receipts -------------------------------------------------------------------

let giftCursor = null;
let gifts = [];
async function loadGifts(more = false) {
  const q = more && giftCursor ? `&cursor=${encodeURIComponent(giftCursor)}` : "";
  const page = await api(`${V1}/donations?limit=20${q}`, auth());
  gifts = more ? gifts.concat(page.items) : page.items;
  giftCursor = page.next_cursor;
  renderGifts();
}

function renderGifts() {
  const canWrite = may("finance");
  const holder = clear(document.getElementById("gifts-table"));
  holder.append(table([
    { label: ["到账时间", "Received"], value: (g) => when(g.received_at) },
    { label: ["捐赠人", "Donor"], value: (g) => `${g.donor.name}（${t("公示", "shown as")} ${g.display_name}）` },
    { label: ["金额", "Amount"], value: (g) => yuan(g.amount_fen), num: true },
    { label: ["项目", "Project"], value: (g) => g.project_code || t("不定向", "unrestricted") },
    { label: ["状态", "Status"], value: (g) => badge(g.status) },
    { label: ["票据", "Receipt"], value: (g) => g.receipt_no || "—" },
    { label: ["查询码", "Tracking code"], value: (g) => el("a", { class: "code", href: `/track/${g.tracking_code}`, target: "_blank", rel: "noopener" }, g.tracking_code) },
    { label: ["操作", "Actions"], value: (g) => el("div", { class: "actions" },
      g.receipt_no ? el("button", { type: "button", class: "secondary", onclick: () => openReceipt(g) }, t("打印票据", "Print receipt")) : "",
      canWrite && !g.receipt_no && !["pledged", "cancelled", "refunded"].includes(g.status)
        ? el("button", { type: "button", onclick: (e) => issueReceipt(g, e.target) }, t("开具票据", "Issue receipt")) : "",
      canWrite && g.receipt_no ? el("button", { type: "button", class: "secondary", onclick: (e) => voidReceipt(g, e.target) }, t("作废票据", "Void receipt")) : "",
    ) },
  ], gifts));
  document.getElementById("gifts-more").classList.toggle("hidden", !giftCursor);
}

async function issueReceipt(gift, button) {
  button.disabled = true;
  const key = button.dataset.key || (button.dataset.key = newKey());
  try {
    const receipt = await api(`${V1}/donations/${gift.id}/receipt`, { method: "POST", body: {}, key, ...auth() });
    notice(document.getElementById("gifts-status"), "ok", t(`已开具票据 ${receipt.receipt_no}`, `Receipt ${receipt.receipt_no} issued`));
    await loadGifts();
  } catch (err) {
    notice(document.getElementById("gifts-status"), "bad", explain(err));
    button.disabled = false;
  }
}

async function voidReceipt(gift, button) {
  const reason = prompt(t("作废原因（将作为更正公示）：", "Reason (published as a correction):"));
  if (!reason) return;
  button.disabled = true;
  try {
    await api(`${V1}/donations/${gift.id}/receipt/void`, { method: "POST", body: { reason }, key: newKey(), ...auth() });
    notice(document.getElementById("gifts-status"), "ok", t("票据已作废。", "Receipt voided."));
    await loadGifts();
  } catch (err) {
    notice(document.getElementById("gifts-status"), "bad", explain(err));
    button.disabled = false;
  }
}

async function openReceipt(gift) {
  const receipts = await api(`${V1}/donations/${gift.id}/receipts`, auth());
  const receipt = receipts.find((r) => !r.voided_at) || receipts[receipts.length - 1];
  showReceipt(gift, receipt);
}

async function showReceipt(gift, receipt) {
  const url = `${location.origin}/track/${gift.tracking_code}`;
  const holder = clear(document.getElementById("receipt"));
  let qrImage = el("p", { class: "muted" }, url);
  try {
    const { default: qrcode } = await import("/assets/vendor/qrcode.mjs");
    const qr = qrcode(0, "M");
    qr.addData(url);
    qr.make();
    qrImage = el("img", { src: qr.createDataURL(4, 2), alt: t(`二维码：${url}`, `QR code: ${url}`), id: "receipt-qr" });
  } catch { /* QR library not installed: the URL is printed instead */ }
  holder.append(
    receipt.voided_at ? el("div", { class: "void" }, t("已作废", "VOID")) : "",
    el("h2", {}, "公益事业捐赠票据"),
    el("p", { class: "no" }, `No. ${receipt.receipt_no}`),
    el("dl", {},
      el("dt", {}, t("捐赠人", "Donor")), el("dd", {}, receipt.anonymous ? t("匿名", "Anonymous") : (receipt.payer_name || gift.donor.name)),
      el("dt", {}, t("金额", "Amount")), el("dd", {}, yuan(receipt.amount_fen)),
      el("dt", {}, t("捐赠类型", "Kind")), el("dd", {}, gift.kind === "goods" ? t("物资（按估值）", "Goods (valued)") : t("货币", "Money")),
      el("dt", {}, t("定向项目", "Project")), el("dd", {}, gift.project_code || t("不定向", "Unrestricted")),
      el("dt", {}, t("开具日期", "Issued on")), el("dd", {}, day(receipt.issued_at)),
      el("dt", {}, t("开具单位", "Issued by")), el("dd", {}, "宁波市奉化区红十字会"),
    ),
    el("div", { class: "qr" }, qrImage, el("div", {},
      el("strong", {}, t("扫码查看这笔捐赠的去向", "Scan to see where this gift goes")),
      el("p", { class: "code" }, t("查询码：", "Tracking code: "), gift.tracking_code))),
  );
  for (const s of document.querySelectorAll(".view")) s.classList.add("hidden");
  const view = document.getElementById("view-receipt");
  view.classList.remove("hidden");
  view.classList.add("printing");
  document.getElementById("receipt-print").focus();
}

// --- projects ----------------------------------------------------------------------------

async function renderProjects() {
  await loadProjects();
  const holder = clear(document.getElementById("projects-table"));
  holder.append(table([
    { label: ["编号", "Code"], value: (p) => el("span", { class: "code" }, p.code) },
    { label: ["名称", "Name"], value: (p) => p.name },
    { label: ["镇街", "Town"], value: (p) => p.town },
    { label: ["状态", "Status"], value: (p) => badge(p.status) },
    { label: ["定向收入", "Designated"], value: (p) => yuan(p.figures?.designated_fen), num: true },
    { label: ["已使用", "Used"], value: (p) => yuan(p.figures?.used_fen), num: true },
    { label: ["可用", "Available"], value: (p) => yuan(p.figures?.available_fen), num: true },
    { label: ["待审批", "Pending"], value: (p) => yuan(p.figures?.pending_fen), num: true },
  ], projects));
  document.getElementById("project-new").classList.toggle("hidden", !may("finance"));
}

function setupProjectForm() {
  const form = document.getElementById("project-form");
  form.starts_on.value = today();
  onSubmitOnce(form, document.getElementById("project-status"), async (data, key) => {
    const body = clean(Object.fromEntries(data.entries()));
    if (body.budget_fen) body.budget_fen = fen(body.budget_fen);
    const project = await api(`${V1}/projects`, { method: "POST", body, key, ...auth() });
    form.reset();
    form.starts_on.value = today();
    await renderProjects();
    return t(`项目 ${project.name} 已新建。`, `Project ${project.name} opened.`);
  });
}

// --- disbursements (four eyes) ------------------------------------------------------------

async function renderDisbursements() {
  await loadProjects();
  const page = await api(`${V1}/disbursements?limit=50`, auth());
  const canApprove = may("approver", "finance");
  const holder = clear(document.getElementById("disb-table"));
  holder.append(table([
    { label: ["日期", "Date"], value: (d) => d.disbursed_on },
    { label: ["项目", "Project"], value: (d) => d.project_code },
    { label: ["金额", "Amount"], value: (d) => yuan(d.amount_fen), num: true },
    { label: ["用途", "Purpose"], value: (d) => d.purpose },
    { label: ["受助方", "Recipient"], value: (d) => d.recipient_display || d.recipient_name },
    { label: ["录入/审批", "Entered/approved"], value: (d) => `${d.entered_by}${d.approved_by ? ` / ${d.approved_by}` : ""}` },
    { label: ["状态", "Status"], value: (d) => badge(d.status) },
    { label: ["操作", "Actions"], value: (d) => (d.status === "pending" && canApprove && !isMe(d.entered_by)
      ? el("div", { class: "actions" },
        el("button", { type: "button", class: "approve", onclick: (e) => decide(d, "approve", e.target) }, t("批准", "Approve")),
        el("button", { type: "button", class: "secondary", onclick: (e) => decide(d, "reject", e.target) }, t("驳回", "Reject")))
      : d.status === "pending" && isMe(d.entered_by) ? el("span", { class: "muted" }, t("待他人审批", "Awaiting another approver")) : "") },
  ], page.items));
  document.getElementById("disb-new").classList.toggle("hidden", !may("finance"));
}

async function decide(d, action, button) {
  let body = {};
  if (action === "reject") {
    const reason = prompt(t("驳回原因：", "Reason for rejecting:"));
    if (!reason) return;
    body = { reason };
  }
  button.disabled = true;
  try {
    await api(`${V1}/disbursements/${d.id}/${action}`, { method: "POST", body, key: newKey(), ...auth() });
    notice(document.getElementById("disb-status"), "ok", action === "approve" ? t("已批准，资金使用将公示。", "Approved; the use will be published.") : t("已驳回。", "Rejected."));
    await renderDisbursements();
  } catch (err) {
    notice(document.getElementById("disb-status"), "bad", explain(err));
    button.disabled = false;
  }
}

function setupDisbursementForm() {
  const form = document.getElementById("disb-form");
  form.disbursed_on.value = today();
  onSubmitOnce(form, document.getElementById("disb-form-status"), async (data, key) => {
    const body = clean(Object.fromEntries(data.entries()));
    const code = body.project_code;
    delete body.project_code;
    body.amount_fen = fen(body.amount_fen);
    await api(`${V1}/projects/${encodeURIComponent(code)}/disbursements`, { method: "POST", body, key, ...auth() });
    form.reset();
    form.disbursed_on.value = today();
    await renderDisbursements();
    return t("已提交，等待另一位审批人批准。", "Submitted; another approver must approve it.");
  });
}

// --- follow-ups ---------------------------------------------------------------------------

async function renderFollowUps() {
  const [page, disb] = await Promise.all([
    api(`${V1}/follow-ups?limit=50`, auth()),
    api(`${V1}/disbursements?status=approved&limit=100`, auth()),
  ]);
  const select = clear(document.getElementById("f-disb"));
  for (const d of disb.items) select.append(el("option", { value: d.id }, `${d.disbursed_on} ${d.project_code} ${yuan(d.amount_fen)} ${d.purpose}`));
  clear(document.getElementById("fu-table")).append(table([
    { label: ["日期", "Date"], value: (f) => f.visited_on },
    { label: ["项目", "Project"], value: (f) => f.project_code },
    { label: ["镇街", "Town"], value: (f) => f.town },
    { label: ["回访人", "Visitor"], value: (f) => f.visitor },
    { label: ["情况", "Summary"], value: (f) => f.summary },
  ], page.items));
  document.getElementById("fu-new").classList.toggle("hidden", !may("finance", "approver", "dispatcher"));
}

function setupFollowUpForm() {
  const form = document.getElementById("fu-form");
  form.visited_on.value = today();
  onSubmitOnce(form, document.getElementById("fu-status"), async (data, key) => {
    await api(`${V1}/follow-ups`, { method: "POST", body: clean(Object.fromEntries(data.entries())), key, ...auth() });
    form.reset();
    form.visited_on.value = today();
    await renderFollowUps();
    return t("回访已记录并将公示。", "Follow-up recorded; it will be published.");
  });
}

// --- reports ------------------------------------------------------------------------------

function reportQuery(format) {
  const form = document.getElementById("rep-form");
  const params = new URLSearchParams(clean(Object.fromEntries(new FormData(form).entries())));
  if (format) params.set("format", format);
  return params.toString();
}

let reportChart = null;
async function renderReports() {
  const report = await api(`${V1}/reports/totals?${reportQuery()}`, auth());
  const rows = report.rows || [];
  clear(document.getElementById("rep-table")).append(table([
    { label: ["分组", "Group"], value: (r) => r.key ?? "—" },
    { label: ["笔数", "Gifts"], value: (r) => r.gifts, num: true },
    { label: ["收到", "Received"], value: (r) => yuan(r.received_fen), num: true },
    { label: ["已分配", "Allocated"], value: (r) => yuan(r.allocated_fen), num: true },
    { label: ["已使用", "Used"], value: (r) => yuan(r.used_fen), num: true },
    { label: ["结余", "Remaining"], value: (r) => yuan(r.remaining_fen), num: true },
  ], report.total ? rows.concat([report.total]) : rows));
  const echarts = await loadECharts();
  const node = document.getElementById("rep-chart");
  if (!echarts) {
    chartsUnavailable(node);
    return;
  }
  reportChart = echarts.getInstanceByDom(node) || echarts.init(node, null, { renderer: "svg" });
  reportChart.setOption({
    color: ["#b0102a", "#5b6770"], animation: false, aria: { enabled: true },
    tooltip: { trigger: "axis" }, legend: { top: 0 },
    grid: { left: 8, right: 12, bottom: 8, top: 36, containLabel: true },
    xAxis: { type: "category", data: rows.map((r) => String(r.key)) },
    yAxis: { type: "value" },
    series: [
      { name: t("收到（元）", "Received (¥)"), type: "bar", data: rows.map((r) => r.received_fen / 100) },
      { name: t("已使用（元）", "Used (¥)"), type: "bar", data: rows.map((r) => r.used_fen / 100) },
    ],
  }, true);
}

/** Download the server's CSV with the token, showing progress as it arrives. */
async function exportCsv() {
  const bar = document.getElementById("rep-progress");
  const fill = bar.firstElementChild;
  const status = document.getElementById("rep-status");
  bar.classList.remove("hidden");
  fill.style.width = "5%";
  notice(status, "info", t("正在导出…", "Exporting…"));
  try {
    const response = await fetch(`${V1}/reports/totals?${reportQuery("csv")}`, { headers: { Authorization: `Bearer ${token()}` } });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    const total = Number(response.headers.get("content-length")) || 0;
    const reader = response.body.getReader();
    const chunks = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.length;
      fill.style.width = total ? `${Math.round((received / total) * 100)}%` : "60%";
    }
    fill.style.width = "100%";
    const blob = new Blob(chunks, { type: "text/csv;charset=utf-8" });
    const a = el("a", { href: URL.createObjectURL(blob), download: `sunshine-report-${document.getElementById("rep-group").value}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    notice(status, "ok", t("已导出。", "Exported."));
  } catch (err) {
    notice(status, "bad", explain(err));
  } finally {
    setTimeout(() => bar.classList.add("hidden"), 800);
  }
}

// --- audit log ----------------------------------------------------------------------------

let auditCursor = null;
let audit = [];
async function renderAudit(more = false) {
  const form = document.getElementById("audit-form");
  const params = new URLSearchParams(clean(Object.fromEntries(new FormData(form).entries())));
  params.set("limit", "50");
  if (more && auditCursor) params.set("cursor", auditCursor);
  const page = await api(`${V1}/audit?${params}`, auth());
  audit = more ? audit.concat(page.items) : page.items;
  auditCursor = page.next_cursor;
  clear(document.getElementById("audit-table")).append(table([
    { label: ["时间", "When"], value: (a) => when(a.at) },
    { label: ["操作人", "Who"], value: (a) => a.actor },
    { label: ["操作", "Action"], value: (a) => a.action },
    { label: ["对象", "What"], value: (a) => `${a.entity} ${a.entity_id}` },
    { label: ["变更", "Change"], value: (a) => el("code", { class: "code" }, JSON.stringify(a.after ?? a.before ?? {}).slice(0, 160)) },
  ], audit));
  document.getElementById("audit-more").classList.toggle("hidden", !auditCursor);
}

// --- reconciliation (对账) ------------------------------------------------------------------

const CHANNEL = { wechat_pay: ["微信支付", "WeChat Pay"], alipay: ["支付宝", "Alipay"] };
const FINDING = {
  paid_no_gift: ["已收款无捐赠记录", "Paid, no gift"],
  gift_not_paid: ["有捐赠记录、对账单无此笔", "Gift not on the statement"],
  amount_differs: ["金额不一致", "Amounts differ"],
  refund_unmatched: ["退款未对上", "Refund not matched"],
};
const label = (map, key) => (map[key] ? t(map[key][0], map[key][1]) : key);
const money = (value) => (value === null || value === undefined ? "—" : yuan(value));

async function renderReconciliation() {
  const [findings, runs] = await Promise.all([
    api(`${V1}/reconciliation/findings?status=open&limit=100`, auth()),
    api(`${V1}/reconciliation/runs?limit=20`, auth()),
  ]);
  const canResolve = may("finance");
  clear(document.getElementById("rec-findings")).append(table([
    { label: ["日期", "Day"], value: (f) => f.day },
    { label: ["渠道", "Channel"], value: (f) => label(CHANNEL, f.channel) },
    { label: ["差异", "Finding"], value: (f) => label(FINDING, f.kind) },
    { label: ["商户订单号", "Order no."], value: (f) => el("span", { class: "code" }, f.out_trade_no) },
    { label: ["对账单金额", "Statement"], value: (f) => money(f.statement_fen), num: true },
    { label: ["我方金额", "Our books"], value: (f) => money(f.our_fen), num: true },
    { label: ["操作", "Actions"], value: (f) => (canResolve
      ? el("button", { type: "button", class: "secondary", onclick: (e) => resolveFinding(f, e.target) }, t("处理", "Resolve"))
      : "") },
  ], findings.items, { empty: ["没有待处理的差异。", "No open findings."] }));
  clear(document.getElementById("rec-runs")).append(table([
    { label: ["日期", "Day"], value: (r) => r.day },
    { label: ["渠道", "Channel"], value: (r) => label(CHANNEL, r.channel) },
    { label: ["对账单笔数", "Lines"], value: (r) => r.lines, num: true },
    { label: ["一致", "Matched"], value: (r) => r.matched, num: true },
    { label: ["差异", "Findings"], value: (r) => r.findings, num: true },
    { label: ["执行", "Run by"], value: (r) => `${r.run_by} ${r.finished_at ? when(r.finished_at) : ""}` },
  ], runs.items));
  document.getElementById("rec-form").classList.toggle("hidden", !may("finance"));
}

async function resolveFinding(f, button) {
  const resolution = prompt(t(`处理说明（${label(FINDING, f.kind)} ${f.out_trade_no}）：`, `Resolution note (${label(FINDING, f.kind)} ${f.out_trade_no}):`));
  if (!resolution || !resolution.trim()) return;
  button.disabled = true;
  try {
    await api(`${V1}/reconciliation/findings/${f.id}/resolve`, { method: "POST", body: { resolution: resolution.trim().slice(0, 500) }, ...auth() });
    notice(document.getElementById("rec-status"), "ok", t("差异已处理。", "Finding resolved."));
    await renderReconciliation();
  } catch (err) {
    notice(document.getElementById("rec-status"), "bad", explain(err));
    button.disabled = false;
  }
}

function setupReconciliationForm() {
  const form = document.getElementById("rec-form");
  form.day.value = today();
  form.day.max = today();
  onSubmitOnce(form, document.getElementById("rec-form-status"), async (data) => {
    const run = await api(`${V1}/reconciliation/runs`, { method: "POST", body: { channel: data.get("channel"), day: data.get("day") }, ...auth() });
    await renderReconciliation();
    return t(`${run.day} ${label(CHANNEL, run.channel)}：对账单 ${run.lines} 笔，一致 ${run.matched} 笔，差异 ${run.findings} 条。`,
      `${run.day} ${label(CHANNEL, run.channel)}: ${run.lines} lines, ${run.matched} matched, ${run.findings} findings.`);
  });
}

// --- organisations and staff accounts -------------------------------------------------------

let organisations = [];
async function loadOrganisations() {
  organisations = (await api(`${V1}/organisations`, auth())).items;
  return organisations;
}

const ORG_KIND = { district: ["区红十字会", "District branch"], town: ["镇（街道）红十字会", "Town branch"] };

async function renderOrganisations() {
  await loadOrganisations();
  clear(document.getElementById("orgs-table")).append(table([
    { label: ["代码", "Code"], value: (o) => el("span", { class: "code" }, o.code) },
    { label: ["名称", "Name"], value: (o) => o.name },
    { label: ["级别", "Level"], value: (o) => t(...ORG_KIND[o.kind]) },
    { label: ["所在镇街", "Town"], value: (o) => o.town || "—" },
    { label: ["在用账号", "Active accounts"], value: (o) => o.accounts, num: true },
    { label: ["状态", "Status"], value: (o) => (o.active
      ? el("span", { class: "badge ok" }, t("在用", "Active"))
      : el("span", { class: "badge bad" }, t("已停用", "Deactivated"))) },
    { label: ["操作", "Actions"], value: (o) => (districtAdmin() && o.kind === "town"
      ? el("div", { class: "actions" },
        el("button", { type: "button", class: "secondary", onclick: (e) => renameOrganisation(o, e.target) }, t("改名", "Rename")),
        el("button", { type: "button", class: "secondary", onclick: (e) => toggleOrganisation(o, e.target) }, o.active ? t("停用", "Deactivate") : t("启用", "Activate")))
      : "") },
  ], organisations, { rowClass: (o) => `org-${o.code}` }));
  document.getElementById("org-new").classList.toggle("hidden", !districtAdmin());
}

function districtAdmin() {
  const c = claims();
  return roles().has("admin") && (c.org || "FH") === "FH";
}

async function patchOrganisation(o, changes, button, done) {
  button.disabled = true;
  try {
    await api(`${V1}/organisations/${encodeURIComponent(o.code)}`, { method: "PATCH", body: { ...changes, version: o.version }, ...auth() });
    notice(document.getElementById("orgs-status"), "ok", done);
    await renderOrganisations();
  } catch (err) {
    notice(document.getElementById("orgs-status"), "bad", explain(err));
    button.disabled = false;
  }
}

function renameOrganisation(o, button) {
  const name = prompt(t("新名称：", "New name:"), o.name);
  if (!name || name === o.name) return;
  patchOrganisation(o, { name }, button, t(`已改名为 ${name}。`, `Renamed to ${name}.`));
}

function toggleOrganisation(o, button) {
  patchOrganisation(o, { active: !o.active }, button, o.active ? t(`${o.name} 已停用。`, `${o.name} deactivated.`) : t(`${o.name} 已启用。`, `${o.name} activated.`));
}

function setupOrganisationForm() {
  const form = document.getElementById("org-form");
  onSubmitOnce(form, document.getElementById("org-form-status"), async (data, key) => {
    const body = { ...clean(Object.fromEntries(data.entries())), kind: "town" };
    const org = await api(`${V1}/organisations`, { method: "POST", body, key, ...auth() });
    form.reset();
    await renderOrganisations();
    return t(`已登记 ${org.name}。`, `${org.name} registered.`);
  });
}

let accounts = [];
/** The organisations an admin may put an account in: every active one for the district
 * admin, their own for a town admin; `current` (an account's organisation, deactivated
 * since) is kept as a choice so an editor shows what the account has. */
function fillOrgChoices(select, current = null) {
  clear(select);
  const c = claims();
  const mine = c.org || "FH";
  const choices = organisations.filter((x) => x.active && (mine === "FH" || x.code === mine));
  if (current && !choices.some((o) => o.code === current)) {
    const o = organisations.find((x) => x.code === current);
    choices.push({ code: current, name: o ? `${o.name}${o.active ? "" : t("，已停用", ", deactivated")}` : current });
  }
  for (const o of choices) select.append(el("option", { value: o.code }, `${o.name}（${o.code}）`));
}
function accountStatus(a) {
  if (!a.active) return el("span", { class: "badge bad" }, t("已停用", "Disabled"));
  if (a.must_change_password) return el("span", { class: "badge warn" }, t("待改初始密码", "Initial password"));
  return el("span", { class: "badge ok" }, t("在用", "Active"));
}

async function renderAccounts() {
  const [page] = await Promise.all([api(`${V1}/staff`, auth()), loadOrganisations()]);
  accounts = page.items;
  const select = document.getElementById("s-org");
  const keep = select.value;
  fillOrgChoices(select);
  if (keep) select.value = keep;
  clear(document.getElementById("accounts-table")).append(table([
    { label: ["用户名", "User name"], value: (a) => el("span", { class: "code" }, a.username) },
    { label: ["姓名", "Name"], value: (a) => a.display_name },
    { label: ["所属组织", "Organisation"], value: (a) => a.org_name },
    { label: ["角色", "Roles"], value: (a) => a.roles.map(roleName).join("、") },
    { label: ["状态", "Status"], value: accountStatus },
    { label: ["操作", "Actions"], value: (a) => (isMe(a.username) ? el("span", { class: "muted" }, t("本人", "You")) : el("div", { class: "actions" },
      el("button", { type: "button", class: "secondary edit", onclick: () => editAccount(a) }, t("编辑", "Edit")),
      el("button", { type: "button", class: "secondary", onclick: (e) => accountAction(a, "password-reset", e.target) }, t("重置密码", "Reset password")),
      el("button", { type: "button", class: "secondary", onclick: (e) => accountAction(a, a.active ? "disable" : "enable", e.target) }, a.active ? t("停用", "Disable") : t("启用", "Enable")),
      el("button", { type: "button", class: "secondary", onclick: (e) => accountAction(a, "unlock", e.target) }, t("解除锁定", "Lift lockout")))) },
  ], accounts, { rowClass: (a) => `account-${a.username.replace(/[^a-z0-9-]/g, "_")}` }));
}

const DONE = {
  "password-reset": ["密码已重置，初始密码：", "Password reset; initial password: "],
  disable: ["账号已停用，其登录已失效。", "Account disabled; its sessions have ended."],
  enable: ["账号已启用。", "Account enabled."],
  unlock: ["已解除登录锁定。", "Login lockout lifted."],
};

async function accountAction(a, action, button) {
  let body;
  if (action === "disable") {
    const reason = prompt(t(`停用 ${a.display_name}（${a.username}）的原因：`, `Why disable ${a.username}?`));
    if (reason === null) return;
    body = clean({ reason });
  }
  if (action === "password-reset" && !confirm(t(`重置 ${a.username} 的密码？将生成新的初始密码。`, `Reset the password of ${a.username}? A new initial password is generated.`))) return;
  button.disabled = true;
  const status = document.getElementById("accounts-status");
  try {
    const result = await api(`${V1}/staff/${encodeURIComponent(a.username)}/${action}`, { method: "POST", body, key: newKey(), ...auth() });
    const [zh, en] = DONE[action];
    if (result.initial_password) {
      clear(status).append(el("div", { class: "notice ok", role: "status" }, t(zh, en), el("strong", { class: "code", id: "issued-password" }, result.initial_password)));
    } else {
      notice(status, "ok", t(zh, en));
    }
    await renderAccounts();
  } catch (err) {
    notice(status, "bad", explain(err));
    button.disabled = false;
  }
}

function setupAccountForm() {
  const form = document.getElementById("account-form");
  const status = document.getElementById("account-form-status");
  onSubmitOnce(form, status, async (data, key) => {
    const body = clean({
      username: data.get("username"), display_name: data.get("display_name"), org_code: data.get("org_code"),
      password: data.get("password"), roles: data.getAll("roles"),
    });
    if (!body.roles.length) throw new Error(t("请至少选择一个角色。", "Choose at least one role."));
    const account = await api(`${V1}/staff`, { method: "POST", body, key, ...auth() });
    form.reset();
    await renderAccounts();
    clear(status).append(el("div", { class: "notice ok", role: "status" },
      t(`已新建账号 ${account.username}（${account.org_name}），首次登录须修改密码。`, `Account ${account.username} (${account.org_name}) created; the password must be changed at the first login.`),
      account.initial_password ? el("span", {}, " ", t("初始密码：", "Initial password: "), el("strong", { class: "code", id: "new-initial-password" }, account.initial_password)) : ""));
    return false;
  });
}

// --- edit an account (roles, organisation, display name) ---------------------------------

let editing = null; // the account as the editor read it: its version goes in If-Match
const sortedRoles = (list) => [...list].sort();

function fillAccountEditor(a) {
  const form = document.getElementById("account-edit-form");
  editing = a;
  form.reset();
  clearErrors(form);
  document.getElementById("account-edit-user").textContent = a.username;
  form.display_name.value = a.display_name;
  fillOrgChoices(form.org_code, a.org_code);
  form.org_code.value = a.org_code;
  for (const box of form.querySelectorAll("input[name=roles]")) box.checked = a.roles.includes(box.value);
}

function editAccount(a) {
  fillAccountEditor(a);
  notice(document.getElementById("account-edit-status"), "", "");
  document.getElementById("account-edit-dialog").showModal();
  document.getElementById("e-name").focus();
}

function setupAccountEditor() {
  const dialog = document.getElementById("account-edit-dialog");
  const form = document.getElementById("account-edit-form");
  const status = document.getElementById("account-edit-status");
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  onSubmitOnce(form, status, async (data, key) => {
    const before = editing;
    const chosen = sortedRoles(data.getAll("roles"));
    if (!chosen.length) throw new Error(t("请至少选择一个角色。", "Choose at least one role."));
    const changes = {};
    const name = String(data.get("display_name")).trim();
    if (name !== before.display_name) changes.display_name = name;
    if (data.get("org_code") !== before.org_code) changes.org_code = data.get("org_code");
    if (chosen.join() !== sortedRoles(before.roles).join()) changes.roles = chosen;
    if (!Object.keys(changes).length) {
      notice(status, "info", t("没有修改。", "Nothing changed."));
      return false;
    }
    let saved;
    try {
      saved = await api(`${V1}/staff/${encodeURIComponent(before.username)}`, {
        method: "PATCH", body: changes, key, headers: { "If-Match": `"${before.version}"` }, ...auth(),
      });
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 412) throw err;
      // changed by someone else since the editor opened: nothing was saved; show it as it is now
      const fresh = await api(`${V1}/staff/${encodeURIComponent(before.username)}`, auth());
      await renderAccounts();
      fillAccountEditor(fresh);
      throw new Error(t(
        `未保存：在您编辑期间，账号 ${fresh.username} 已被他人修改。已载入最新内容，请核对后重新修改并保存。`,
        `Not saved: someone else changed the account ${fresh.username} while you were editing it. Its current details are loaded; check them, make your change again and save.`,
      ));
    }
    dialog.close();
    const ended = saved.org_code !== before.org_code || sortedRoles(saved.roles).join() !== sortedRoles(before.roles).join();
    const summary = t(
      `已保存 ${saved.display_name}（${saved.username}）：${saved.org_name}，角色 ${saved.roles.map(roleName).join("、")}。`,
      `Saved ${saved.display_name} (${saved.username}): ${saved.org_name}, roles ${saved.roles.map(roleName).join(", ")}.`,
    );
    await renderAccounts();
    notice(document.getElementById("accounts-status"), "ok", ended
      ? summary + t("角色或所属组织已变更，该账号在各服务的登录已失效，本人须重新登录。", " Its roles or organisation changed: its sessions on every service have ended; its holder logs in again.")
      : summary);
    return false;
  });
}

// --- start --------------------------------------------------------------------------------

fillTowns();
setupRecord();
setupProjectForm();
setupDisbursementForm();
setupFollowUpForm();
setupOrganisationForm();
setupAccountForm();
setupAccountEditor();
setupReconciliationForm();
document.getElementById("gifts-more").addEventListener("click", () => loadGifts(true));
document.getElementById("audit-more").addEventListener("click", () => renderAudit(true));
document.getElementById("audit-form").addEventListener("submit", (e) => { e.preventDefault(); renderAudit(); });
document.getElementById("rep-form").addEventListener("submit", (e) => { e.preventDefault(); renderReports().catch((err) => notice(document.getElementById("rep-status"), "bad", explain(err))); });
document.getElementById("rep-csv").addEventListener("click", exportCsv);
document.getElementById("receipt-print").addEventListener("click", () => window.print());
const consoleApp = startConsole({
  tokenUrl: `${V1}/auth/token`,
  defaultView: "gifts",
  views: {
    record: async () => loadProjects(),
    gifts: async () => loadGifts(),
    projects: renderProjects,
    disbursements: renderDisbursements,
    followups: renderFollowUps,
    reports: renderReports,
    audit: () => renderAudit(),
    reconcile: renderReconciliation,
    orgs: renderOrganisations,
    accounts: renderAccounts,
  },
});
document.getElementById("receipt-back").addEventListener("click", () => {
  document.getElementById("view-receipt").classList.remove("printing");
  consoleApp.open("gifts");
});
