// 阳光红会 transparency page: totals and charts from /summary, the live feed (SSE), filters,
// open-data links and the in-browser verify panel.
import {
  api, applyLang, bigYuan, chartsUnavailable, clear, el, loadECharts, notice, setupLangSwitch, t,
  when, yuan,
} from "/assets/common/common.js";
import { verifyConsistency, verifyHead, verifyInclusion, webCryptoAvailable } from "./verify.js";

const API = "/api/v1/public";
const LAST_HEAD = "sunshine.lastVerifiedHead";
const TOWNS = ["锦屏街道", "岳林街道", "江口街道", "西坞街道", "萧王庙街道", "方桥街道", "尚田街道",
  "莼湖街道", "溪口镇", "大堰镇", "松岙镇", "裘村镇"];
const KINDS = {
  "donation.received": ["收到捐赠", "Gift received", "ok"],
  "donation.receipted": ["开具票据", "Receipt issued", "info"],
  "donation.allocated": ["分配至项目", "Allocated", "info"],
  "donation.refunded": ["退还", "Refunded", "warn"],
  correction: ["更正", "Correction", "warn"],
  "funds.disbursed": ["资金拨付", "Funds used", "ok"],
  "goods.dispatched": ["物资发出", "Goods sent", "info"],
  "goods.delivered": ["物资签收", "Goods delivered", "ok"],
  "project.opened": ["项目启动", "Project opened", "info"],
  "project.closed": ["项目结项", "Project closed", "info"],
  "project.remainder": ["结余处理", "Remainder", "info"],
  "project.remainder_transferred": ["结余转入其他项目", "Remainder moved", "info"],
  follow_up: ["回访", "Follow-up", "info"],
};

const CATEGORIES = {
  shelter: ["帐篷与住所", "Shelter"], food: ["食品", "Food"], water: ["饮用水", "Water"],
  medical: ["医疗急救", "Medical"], lighting_power: ["照明与电力", "Lighting & power"],
  clothing_bedding: ["衣被类", "Clothing & bedding"], hygiene: ["卫生用品", "Hygiene"],
  uncategorised: ["未分类", "Uncategorised"],
};

const state = {
  filters: {},
  entries: new Map(), // id → feed item, for the verify panel
  shown: [],
  cursor: null,
  selected: null,
  summary: null,
  projects: new Map(), // code → name
  charts: [],
  lastSeq: 0,
};

function kindBadge(kind) {
  const [zh, en, tone] = KINDS[kind] || [kind, kind, "info"];
  return el("span", { class: `badge ${tone}` }, t(zh, en));
}

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...state.filters, ...extra })) if (v) params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : "";
}

// --- feed --------------------------------------------------------------------------------

function feedItem(item, isNew = false) {
  const amount = item.data && Number.isInteger(item.data.amount_fen) ? yuan(item.data.amount_fen) : null;
  const where = [item.project_code && (state.projects.get(item.project_code) || item.project_code), item.town]
    .filter(Boolean).join(" · ");
  return el("li", { class: isNew ? "new" : null, dataset: { id: item.id, seq: item.seq } },
    el("div", {},
      el("div", { class: "title" }, item.title),
      el("div", { class: "meta" },
        el("time", { datetime: item.occurred_at }, when(item.occurred_at)), " ", kindBadge(item.kind),
        where ? ` ${where}` : ""),
    ),
    el("div", { class: "side" },
      amount ? el("strong", {}, amount) : "",
      el("button", {
        type: "button", class: "secondary verify-btn",
        "aria-label": t(`核验：${item.title}`, `Verify: ${item.title}`),
        onclick: () => selectEntry(item.id, true),
      }, t("核验", "Verify")),
    ),
  );
}

function renderFeed() {
  const list = document.getElementById("feed");
  clear(list);
  if (!state.shown.length) {
    list.append(el("li", { class: "muted" }, t("暂无公示信息。", "No entries yet.")));
  }
  for (const item of state.shown) list.append(feedItem(item));
  document.getElementById("more").classList.toggle("hidden", !state.cursor);
}

async function loadFeed(append = false) {
  const extra = append && state.cursor ? { cursor: state.cursor } : {};
  const list = document.getElementById("feed");
  list.setAttribute("aria-busy", "true"); // until the page asked for is shown
  try {
    const page = await api(`${API}/feed${query({ limit: 20, ...extra })}`);
    if (!append) state.shown = [];
    for (const item of page.items) {
      state.entries.set(item.id, item);
      state.shown.push(item);
      state.lastSeq = Math.max(state.lastSeq, item.seq);
    }
    state.cursor = page.next_cursor;
    renderFeed();
  } finally {
    list.removeAttribute("aria-busy");
  }
}

function matchesFilters(item) {
  const f = state.filters;
  if (f.kind && item.kind !== f.kind) return false;
  if (f.project && item.project_code !== f.project) return false;
  if (f.town && item.town !== f.town) return false;
  if (f.period) {
    const d = when(item.occurred_at).slice(0, 7);
    if (d !== f.period) return false;
  }
  return true;
}

function setLive(kind) {
  const badge = document.getElementById("live");
  const [zh, en, tone] = {
    live: ["实时", "live", "ok"],
    connecting: ["连接中", "connecting", "info"],
    down: ["已断开，正在重连", "reconnecting", "warn"],
  }[kind];
  badge.className = `badge ${tone}`;
  badge.textContent = t(zh, en);
  badge.dataset.state = kind;
}

let summaryTimer = null;
function connectStream() {
  const source = new EventSource(`${API}/stream?after=${state.lastSeq}`);
  source.addEventListener("open", () => setLive("live"));
  source.addEventListener("error", () => setLive(source.readyState === EventSource.CLOSED ? "down" : "connecting"));
  source.addEventListener("entry", (event) => {
    const item = JSON.parse(event.data);
    state.entries.set(item.id, item);
    if (item.kind === "project.opened" && item.data && item.data.name) state.projects.set(item.project_code || item.data.project_code, item.data.name);
    if (item.seq <= state.lastSeq) return;
    state.lastSeq = item.seq;
    if (!matchesFilters(item)) return;
    state.shown.unshift(item);
    const list = document.getElementById("feed");
    const empty = list.querySelector("li.muted");
    if (empty) empty.remove();
    list.prepend(feedItem(item, true));
    clearTimeout(summaryTimer);
    summaryTimer = setTimeout(loadSummary, 800);
  });
}

// --- totals and charts -------------------------------------------------------------------

function sumBy(rows, key, value) {
  return (rows || []).filter((r) => r[key] === value).reduce((n, r) => n + r.amount_fen, 0);
}

function renderTotals(s) {
  const received = s.received || {};
  const used = s.used || {};
  document.getElementById("t-received").textContent = bigYuan(sumBy(received.by_kind, "kind", "money"));
  document.getElementById("t-used").textContent = bigYuan(used.total_fen || 0);
  document.getElementById("t-goods-in").textContent = bigYuan(sumBy(received.by_kind, "kind", "goods"));
  const pieces = (s.goods_distributed || []).reduce((n, g) => n + g.quantity, 0);
  document.getElementById("t-goods-out").textContent = pieces.toLocaleString("zh-CN");
}

const RED = "#b0102a";
const GREY = "#5b6770";
const PALETTE = [RED, "#1a5fb4", "#1a6e35", "#7a4a00", "#6b2d8c", GREY, "#0e6b6b", "#a34d00"];

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

async function renderCharts(s) {
  const echarts = await loadECharts();
  const ids = ["chart-month", "chart-project", "chart-goods"];
  if (!echarts) {
    ids.forEach((id) => chartsUnavailable(document.getElementById(id)));
  }
  const received = s.received || {};
  const used = s.used || {};
  const yuanOf = (fen) => Math.round(fen) / 100;

  // received vs used by month
  const months = [...new Set([...(received.by_month || []), ...(used.by_month || [])].map((r) => r.month))].sort();
  const inByMonth = months.map((m) => yuanOf(sumBy(received.by_month, "month", m)));
  const outByMonth = months.map((m) => yuanOf(sumBy(used.by_month, "month", m)));
  setText("c-month-text", months.map((m, i) => `${m}: ${t("收到", "received")} ¥${inByMonth[i]}, ${t("使用", "used")} ¥${outByMonth[i]}`).join("; "));

  // by project
  const projects = [...new Set([...(received.by_project || []), ...(used.by_project || [])].map((r) => r.project).filter(Boolean))];
  const projName = (code) => state.projects.get(code) || code;
  const inByProject = projects.map((p) => yuanOf(sumBy(received.by_project, "project", p)));
  const outByProject = projects.map((p) => yuanOf(sumBy(used.by_project, "project", p)));
  setText("c-project-text", projects.map((p, i) => `${projName(p)}: ¥${inByProject[i]} / ¥${outByProject[i]}`).join("; "));

  // goods by town and category
  const goods = s.goods_distributed || [];
  const towns = [...new Set(goods.map((g) => g.town || t("其他", "other")))];
  const categories = [...new Set(goods.map((g) => g.category))];
  setText("c-goods-text", goods.map((g) => `${g.town}: ${g.item} ${g.quantity}${g.unit}`).join("; "));
  if (!echarts) return;

  const base = {
    color: PALETTE,
    textStyle: { fontFamily: "system-ui, 'Noto Sans CJK SC', 'PingFang SC', sans-serif", color: "#1a1a1a" },
    tooltip: { trigger: "axis", valueFormatter: (v) => `¥${Number(v).toLocaleString("zh-CN")}` },
    legend: { top: 0 },
    grid: { left: 8, right: 12, bottom: 8, top: 36, containLabel: true },
    aria: { enabled: true },
    animation: false,
  };
  const empty = (n) => (n ? {} : { graphic: { type: "text", left: "center", top: "middle", style: { text: t("暂无数据", "No data yet"), fill: "#555", fontSize: 15 } } });
  const options = [
    {
      ...base, ...empty(months.length),
      xAxis: { type: "category", data: months },
      yAxis: { type: "value", axisLabel: { formatter: (v) => (v >= 10000 ? `${v / 10000}万` : v) } },
      series: [
        { name: t("收到", "Received"), type: "bar", data: inByMonth },
        { name: t("使用", "Used"), type: "bar", data: outByMonth, itemStyle: { color: GREY } },
      ],
    },
    {
      ...base, ...empty(projects.length),
      xAxis: { type: "value", axisLabel: { formatter: (v) => (v >= 10000 ? `${v / 10000}万` : v) } },
      yAxis: { type: "category", data: projects.map(projName), axisLabel: { width: 110, overflow: "truncate" } },
      series: [
        { name: t("收到", "Received"), type: "bar", data: inByProject },
        { name: t("使用", "Used"), type: "bar", data: outByProject, itemStyle: { color: GREY } },
      ],
    },
    {
      ...base, ...empty(goods.length),
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: towns, axisLabel: { interval: 0, rotate: towns.length > 4 ? 30 : 0 } },
      yAxis: { type: "value", name: t("件", "pcs") },
      series: categories.map((c) => ({
        name: t(...(CATEGORIES[c] || [c, c])),
        type: "bar", stack: "goods",
        data: towns.map((town) => goods.filter((g) => (g.town || t("其他", "other")) === town && g.category === c).reduce((n, g) => n + g.quantity, 0)),
      })),
    },
  ];
  ids.forEach((id, i) => {
    const node = document.getElementById(id);
    const chart = echarts.getInstanceByDom(node) || echarts.init(node, null, { renderer: "svg" });
    chart.setOption(options[i], true);
    state.charts[i] = chart;
  });
}

async function loadProjects() {
  try {
    const page = await api(`${API}/feed?kind=project.opened&limit=100`);
    for (const item of page.items) {
      const code = item.project_code || (item.data && item.data.project_code);
      if (code) state.projects.set(code, (item.data && item.data.name) || code);
    }
  } catch { /* names are a nicety */ }
  const select = document.getElementById("f-project");
  for (const [code, name] of state.projects) select.append(el("option", { value: code }, name));
}

async function loadSummary() {
  try {
    state.summary = await api(`${API}/summary`);
  } catch (err) {
    return;
  }
  renderTotals(state.summary);
  await renderCharts(state.summary);
  const select = document.getElementById("f-project");
  const known = new Set([...select.options].map((o) => o.value));
  for (const row of state.summary.received.by_project || []) {
    if (row.project && !known.has(row.project)) {
      select.append(el("option", { value: row.project }, state.projects.get(row.project) || row.project));
      known.add(row.project);
    }
  }
}

// --- verify panel ------------------------------------------------------------------------

function step(ok, zh, en, detail) {
  const steps = document.getElementById("v-steps");
  steps.append(el("li", {}, `${ok === null ? "…" : ok ? "✔" : "✘"} ${t(zh, en)}`, detail ? el("br") : "", detail ? el("code", {}, detail) : ""));
}

function selectEntry(id, run) {
  state.selected = id;
  const item = state.entries.get(id);
  const label = document.getElementById("v-entry");
  label.removeAttribute("data-en");
  delete label.dataset.zh;
  label.textContent = item ? item.title : id;
  if (run) {
    document.getElementById("verify").scrollIntoView({ behavior: "smooth", block: "start" });
    runVerify();
  }
}

async function runVerify() {
  const result = document.getElementById("v-result");
  clear(document.getElementById("v-steps"));
  if (!webCryptoAvailable()) {
    notice(result, "warn", t("此浏览器在当前连接下无法使用 Web Crypto（需要 HTTPS 或本机访问），无法核验。",
      "Web Crypto is unavailable on this connection (needs HTTPS or localhost)."));
    return;
  }
  notice(result, "info", t("正在核验…", "Verifying…"));
  result.dataset.outcome = "running";
  try {
    const [key, head] = await Promise.all([api(`${API}/log-key`), api(`${API}/tree-head`)]);
    const headCheck = await verifyHead(head, key);
    step(headCheck.ok, `签名树头（共 ${head.tree_size} 条，${when(new Date(head.timestamp).toISOString())}）由密钥 ${key.key_id.slice(0, 16)}… 签名`,
      `Signed tree head (${head.tree_size} entries) signed by key ${key.key_id.slice(0, 16)}…`, `root ${head.root_hash}`);
    if (!headCheck.ok) {
      const why = headCheck.reason === "no_ed25519"
        ? t("此浏览器不支持 Ed25519 签名核验，请使用新版 Chrome、Edge 或 Firefox。", "This browser cannot verify Ed25519 signatures.")
        : t("核验失败：公示日志的签名不正确。这些数据可能被篡改过，请勿轻信，并联系红十字会监事会。",
          "Verification FAILED: the log's signature is wrong. The data may have been altered.");
      finish(false, why);
      return;
    }
    const seen = JSON.parse(localStorage.getItem(LAST_HEAD) || "null");
    step(true, "签名密钥指纹（可与红十字会公布的指纹比对）", "Signing key fingerprint (compare with the published one)", key.key_id);
    if (seen && seen.key_id !== head.key_id) {
      step(false, `签名密钥与您上次核验时（${seen.key_id.slice(0, 16)}…）不同`, `The signing key differs from your last check (${seen.key_id.slice(0, 16)}…)`);
      finish(false, t("核验失败：公示日志换了签名密钥。除非红十字会公告过更换密钥，否则请勿轻信。",
        "Verification FAILED: the log's signing key changed; do not trust it unless the Red Cross announced a new key."));
      return;
    }
    if (seen && seen.tree_size >= 1 && seen.tree_size <= head.tree_size) {
      let consistent;
      if (seen.tree_size === head.tree_size) {
        consistent = seen.root_hash === head.root_hash;
      } else {
        const proof = await api(`${API}/proofs/consistency?first=${seen.tree_size}&second=${head.tree_size}`);
        consistent = await verifyConsistency(seen.tree_size, head.tree_size, seen.root_hash, head.root_hash, proof.consistency_path);
      }
      step(consistent, `自您上次核验（${seen.tree_size} 条）以来，日志只有新增、未被改写`,
        `Since your last check (${seen.tree_size} entries) the log was only appended to, never rewritten`);
      if (!consistent) {
        finish(false, t("核验失败：公示日志与您上次核验时不一致，已公布的记录被改写过。请联系红十字会监事会。",
          "Verification FAILED: the log differs from your last check; published records were rewritten."));
        return;
      }
    }
    if (seen && seen.tree_size > head.tree_size) {
      step(false, `日志比您上次核验时（${seen.tree_size} 条）更短`, `The log is shorter than at your last check (${seen.tree_size})`);
      finish(false, t("核验失败：公示日志比您上次核验时更短，已公布的记录可能被删除。", "Verification FAILED: the log shrank since your last check."));
      return;
    }
    localStorage.setItem(LAST_HEAD, JSON.stringify({ tree_size: head.tree_size, root_hash: head.root_hash, key_id: head.key_id }));
    if (!state.selected) {
      finish(true, t(`核验通过：公示日志由红十字会签名，共 ${head.tree_size} 条。点击任一条目旁的“核验”可检查该条目。`,
        `Verified: the log is signed by the Red Cross and holds ${head.tree_size} entries. Press “Verify” next to an entry to check it.`));
      return;
    }
    const item = state.entries.get(state.selected) || (await api(`${API}/entries/${state.selected}`));
    if (item.leaf_index === null || item.leaf_index === undefined || item.leaf_index >= head.tree_size) {
      finish(null, t("该条目刚刚公示，尚未纳入最新的签名（每隔几秒签名一次）。稍后将自动重试。",
        "This entry is new and not yet in the latest signed head (signed every few seconds). Retrying shortly."));
      setTimeout(async () => {
        try {
          const fresh = await api(`${API}/entries/${state.selected}`);
          state.entries.set(fresh.id, { ...fresh, entry: item.entry });
        } catch { /* keep what we had */ }
        runVerify();
      }, 4000);
      return;
    }
    const proof = await api(`${API}/proofs/inclusion?entry=${encodeURIComponent(item.id)}&tree_size=${head.tree_size}`);
    const paths = proof.audit_path || [];
    const inc = await verifyInclusion(item.entry, item.leaf_index, head.tree_size, paths, head.root_hash);
    step(inc.ok, `条目（第 ${item.leaf_index} 号叶子）的内容哈希与签名树根一致（${paths.length} 步证明）`,
      `Entry (leaf ${item.leaf_index}) hashes up to the signed root (${paths.length}-step proof)`, `leaf ${inc.leaf}`);
    if (inc.ok) {
      finish(true, t("核验通过：这条公示与红十字会签名发布的记录完全一致，未被改动。",
        "Verified: this entry is exactly as the Red Cross signed and published it, unchanged."));
    } else {
      finish(false, t("核验失败：页面显示的这条公示与签名发布的记录不一致，可能被篡改。请勿轻信，并联系红十字会监事会。",
        "Verification FAILED: this entry differs from what was signed and published; it may have been altered."));
    }
  } catch (err) {
    finish(false, t(`无法完成核验：${err.message}`, `Could not verify: ${err.message}`));
  }
}

function finish(ok, text) {
  const result = document.getElementById("v-result");
  notice(result, ok === null ? "warn" : ok ? "ok" : "bad", text);
  result.dataset.outcome = ok === null ? "pending" : ok ? "ok" : "failed";
}

// --- filters -----------------------------------------------------------------------------

function updateDownloads() {
  const q = query();
  document.getElementById("dl-csv").href = `${API}/export.csv${q}`;
  document.getElementById("dl-json").href = `${API}/export.json${q}`;
}

function setupFilters() {
  const form = document.getElementById("filters");
  const town = document.getElementById("f-town");
  for (const name of TOWNS) town.append(el("option", { value: name }, name));
  const apply = async () => {
    const data = new FormData(form);
    state.filters = Object.fromEntries([...data.entries()].filter(([, v]) => v));
    updateDownloads();
    await loadFeed();
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
  form.addEventListener("reset", () => setTimeout(apply, 0));
}

async function main() {
  setupLangSwitch(() => {
    renderFeed();
    if (state.summary) { renderTotals(state.summary); renderCharts(state.summary); }
    setLive(document.getElementById("live").dataset.state || "connecting");
  });
  setupFilters();
  api("/web-config.json").then((c) => { if (c.track_url) document.getElementById("track-link").href = c.track_url; }).catch(() => {});
  document.getElementById("more").addEventListener("click", () => loadFeed(true));
  document.getElementById("v-run").addEventListener("click", runVerify);
  document.getElementById("v-forget").addEventListener("click", () => {
    localStorage.removeItem(LAST_HEAD);
    notice(document.getElementById("v-result"), "info", t("已清除；下次核验将以当前密钥和日志为起点。", "Forgotten; the next check starts from the current key and log."));
  });
  window.addEventListener("resize", () => state.charts.forEach((c) => c && c.resize()));
  await loadProjects();
  try {
    const top = await api(`${API}/feed?limit=1`);
    if (top.items.length) state.lastSeq = top.items[0].seq;
  } catch { /* the stream starts from now */ }
  await Promise.all([loadFeed().catch((err) => notice(document.getElementById("feed"), "bad", err.message)), loadSummary()]);
  connectStream();
  applyLang();
  document.body.dataset.ready = "1";
}

main();
