// Donor tracking page: /track (enter a code) and /track/{code} (opened from a receipt's QR).
import { api, ApiError, clear, day, el, notice, setupLangSwitch, t, when, yuan } from "/assets/common/common.js";

const EVENTS = {
  received: ["收到捐赠", "Gift received"],
  receipted: ["开具捐赠票据", "Receipt issued"],
  receipt_voided: ["票据作废（更正）", "Receipt voided (correction)"],
  allocated: ["分配至项目", "Allocated to a project"],
  used: ["用于项目", "Used"],
  in_stock: ["物资入库", "Goods in the warehouse"],
  dispatched: ["物资出库发运", "Goods left the warehouse"],
  delivered: ["物资送达", "Goods arrived"],
  signed: ["受助方签收", "Signed for by the recipient"],
  written_off: ["物资报损核销", "Goods written off"],
  bought_in_stock: ["善款所购物资入库", "Goods bought with the gift in the warehouse"],
  bought_dispatched: ["善款所购物资发运", "Goods bought with the gift left the warehouse"],
  bought_signed: ["善款所购物资签收", "Goods bought with the gift signed for"],
  bought_written_off: ["善款所购物资报损", "Goods bought with the gift written off"],
  follow_up: ["回访", "Follow-up visit"],
  cancelled: ["捐赠已取消", "Gift cancelled"],
  refunded: ["未使用部分已退回", "Unused part refunded"],
  completed: ["已全部使用", "Fully used"],
};
const STATUS = {
  pledged: ["已认捐，待到账", "Pledged"],
  received: ["已到账", "Received"],
  receipted: ["已开票", "Receipted"],
  allocated: ["已分配至项目", "Allocated"],
  in_use: ["使用中", "In use"],
  completed: ["已全部使用", "Fully used"],
  cancelled: ["已取消", "Cancelled"],
  refunded: ["已退回", "Refunded"],
};
const CORRECTIONS = new Set(["receipt_voided", "cancelled", "refunded", "written_off", "bought_written_off"]);

let current = null;

// Order: by Shanghai date, then time; a date-only event (a follow-up visit) ends its day.
function sortKey(at) {
  if (/^\d{4}-\d{2}-\d{2}$/.test(at)) return `${at} 99:99`;
  return `${day(at)} ${when(at).slice(11)}`;
}

function fact(dt, dd) {
  return [el("dt", {}, dt), el("dd", {}, dd)];
}

function render(data) {
  const facts = clear(document.getElementById("facts"));
  const kindText = data.kind === "goods" ? t("物资", "Goods") : t("善款", "Money");
  const status = STATUS[data.status] || [data.status, data.status];
  facts.append(
    ...fact(t("查询码", "Tracking code"), data.tracking_code),
    ...fact(t("捐赠人", "Donor"), data.donor),
    ...fact(t("类型", "Kind"), kindText),
    ...fact(t("金额", "Amount"), yuan(data.amount_fen)),
    ...fact(t("状态", "Status"), t(status[0], status[1])),
    ...fact(t("项目", "Project"), data.project ? data.project.name : t("由红十字会统筹使用", "Unrestricted (used where most needed)")),
    ...fact(t("票据", "Receipt"), data.receipt ? `${data.receipt.receipt_no}（${day(data.receipt.issued_at)}）` : t("尚未开具", "Not yet issued")),
  );
  if (data.items && data.items.length) {
    facts.append(...fact(t("物资", "Goods"), data.items.map((i) => `${i.name} ${i.quantity}${i.unit}`).join("、")));
  }
  const amount = data.amount_fen || 0;
  const used = data.used_fen || 0;
  const pct = amount ? Math.min(100, Math.round((used / amount) * 100)) : 0;
  const bar = document.getElementById("used-bar");
  bar.setAttribute("aria-valuenow", String(pct));
  bar.firstElementChild.style.width = `${pct}%`;
  document.getElementById("used-text").textContent = data.kind === "goods"
    ? t(`按已签收件数计，已使用 ${yuan(used)}（${pct}%），${data.written_off_fen ? `仓库报损核销 ${yuan(data.written_off_fen)}，` : ""}尚余 ${yuan(data.remaining_fen)}；物资的去向见下方时间线。`,
      `Used ${yuan(used)} (${pct}%) by the units signed for; ${data.written_off_fen ? `${yuan(data.written_off_fen)} written off in the warehouse; ` : ""}${yuan(data.remaining_fen)} left. Where the goods went is below.`)
    : t(`已使用 ${yuan(used)}（${pct}%），尚余 ${yuan(data.remaining_fen)}${data.refunded_fen ? `，已退回 ${yuan(data.refunded_fen)}` : ""}。`,
      `Used ${yuan(used)} (${pct}%); ${yuan(data.remaining_fen)} left${data.refunded_fen ? `; ${yuan(data.refunded_fen)} refunded` : ""}.`);

  const list = clear(document.getElementById("timeline"));
  const events = [...(data.timeline || [])].sort((a, b) => sortKey(a.at).localeCompare(sortKey(b.at)));
  for (const e of events) {
    const label = EVENTS[e.event] || [e.event, e.event];
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(e.at);
    list.append(el("li", { class: CORRECTIONS.has(e.event) ? "correction" : null, dataset: { event: e.event } },
      el("time", { datetime: e.at }, dateOnly ? e.at : when(e.at)),
      el("div", { class: "what" }, t(label[0], label[1])),
      el("div", { class: "detail" }, e.text),
    ));
  }
  if (!events.length) list.append(el("li", {}, t("暂无记录。", "Nothing yet.")));
  document.getElementById("result").classList.remove("hidden");
}

// The code goes to the service as typed: it alone reads it (case, dashes, spaces, O/I/L; the
// same reading as the public feed's), answers 422 for a malformed one, and returns the
// canonical form, which becomes the page's address.
async function lookup(code) {
  const status = document.getElementById("status");
  const typed = code.trim();
  if (!typed) {
    notice(status, "bad", t("请输入查询码。", "Please enter the tracking code."));
    return;
  }
  notice(status, "info", t("正在查询…", "Searching…"));
  try {
    current = await api(`/api/v1/track/${encodeURIComponent(typed)}`);
    notice(status, "", "");
    render(current);
    const canonical = `/track/${current.tracking_code}`;
    if (location.pathname !== canonical) history.replaceState(null, "", canonical);
    document.getElementById("result-h").focus?.();
  } catch (err) {
    document.getElementById("result").classList.add("hidden");
    const answer = err instanceof ApiError ? err.status : 0;
    const text = answer === 404
      ? t("没有找到这个查询码。请核对后重试（不区分大小写）。", "No gift with this code. Please check it and retry.")
      : answer === 422
        ? t("查询码格式不正确：共 21 位（5 组 4 位加 1 位校验符），请核对后重试。",
          "This is not a complete tracking code: 21 characters (five groups of four and a check character). Please check it.")
        : answer === 429
          ? t("查询过于频繁，请稍后再试。", "Too many lookups; please wait a moment.")
          : t(`查询失败：${err.message}`, `Lookup failed: ${err.message}`);
    notice(status, "bad", text);
  }
}

async function main() {
  setupLangSwitch(() => current && render(current));
  try {
    const config = await api("/web-config.json");
    if (config.public_url) document.getElementById("public-link").href = config.public_url;
  } catch { /* keep the default link */ }
  const form = document.getElementById("lookup");
  form.noValidate = true;
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    lookup(document.getElementById("code").value);
  });
  const match = location.pathname.match(/^\/track\/([^/]+)$/);
  if (match) {
    const code = decodeURIComponent(match[1]);
    document.getElementById("code").value = code;
    await lookup(code);
  }
  document.body.dataset.ready = "1";
}

main();
