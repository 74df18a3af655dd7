// 阳光红会 Sunshine — helpers every page uses (plain ES module, no build step).
// zh-CN first; English through t(zh, en) and data-en attributes. Dates in Asia/Shanghai.

const LANG_KEY = "sunshine.lang";
export const TZ = "Asia/Shanghai";

export function lang() {
  return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";
}

export function t(zh, en) {
  return lang() === "en" && en ? en : zh;
}

/** Swap every [data-en] text (and data-en-placeholder / data-en-label attributes). */
export function applyLang(root = document) {
  const en = lang() === "en";
  document.documentElement.lang = en ? "en" : "zh-CN";
  for (const node of root.querySelectorAll("[data-en]")) {
    if (node.dataset.zh === undefined) node.dataset.zh = node.textContent;
    node.textContent = en ? node.dataset.en : node.dataset.zh;
  }
  for (const attr of ["placeholder", "label", "title"]) {
    for (const node of root.querySelectorAll(`[data-en-${attr}]`)) {
      const target = attr === "label" ? "aria-label" : attr;
      const keep = `zh${attr[0].toUpperCase()}${attr.slice(1)}`;
      if (node.dataset[keep] === undefined) node.dataset[keep] = node.getAttribute(target) || "";
      node.setAttribute(target, en ? node.getAttribute(`data-en-${attr}`) : node.dataset[keep]);
    }
  }
}

/** Wire the language button; `onChange` re-renders what JavaScript wrote. */
export function setupLangSwitch(onChange) {
  const button = document.getElementById("lang-switch");
  const label = () => {
    button.textContent = lang() === "en" ? "中文" : "English";
    button.setAttribute("aria-label", lang() === "en" ? "切换到中文" : "Switch to English");
  };
  applyLang();
  if (!button) return;
  label();
  button.addEventListener("click", () => {
    localStorage.setItem(LANG_KEY, lang() === "en" ? "zh" : "en");
    applyLang();
    label();
    if (onChange) onChange();
  });
}

// --- formatting --------------------------------------------------------------------------

export function yuan(fen) {
  if (fen === null || fen === undefined || Number.isNaN(Number(fen))) return "—";
  const n = Number(fen) / 100;
  return "¥" + n.toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export function bigYuan(fen) {
  const n = Number(fen || 0) / 100;
  if (lang() === "zh" && Math.abs(n) >= 10000) {
    return "¥" + (n / 10000).toLocaleString("zh-CN", { maximumFractionDigits: 2 }) + " 万";
  }
  return "¥" + n.toLocaleString("zh-CN", { maximumFractionDigits: 0 });
}

const dateTimeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hour12: false,
});
const dateFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
});

/** "2026-11-29 08:06" in Asia/Shanghai. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const parts = Object.fromEntries(dateTimeFormat.formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

export function day(iso) {
  if (!iso) return "—";
  const d = new Date(iso.length === 10 ? iso + "T00:00:00+08:00" : iso);
  const parts = Object.fromEntries(dateFormat.formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

// --- DOM ---------------------------------------------------------------------------------

/** Build an element; text children are text nodes (never HTML), so data cannot inject markup. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function notice(container, kind, text) {
  clear(container);
  if (text) container.append(el("div", { class: `notice ${kind}`, role: kind === "bad" ? "alert" : "status" }, text));
}

// --- API calls ---------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || "http_error";
    this.details = error.details;
  }
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export async function api(url, { method = "GET", body, token, key, form, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (key) init.headers["Idempotency-Key"] = key;
  if (form) {
    init.body = new URLSearchParams(form);
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { error: { code: "network", message: t("网络连接失败，请检查网络后重试。", "Network error; please retry.") } });
  }
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json().catch(() => null) : await response.text();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// --- field-level errors in Chinese ------------------------------------------------------

const MESSAGES = {
  missing: ["此项必填", "Required"],
  value_missing: ["此项必填", "Required"],
  string_too_short: ["内容太短", "Too short"],
  string_too_long: ["内容太长", "Too long"],
  greater_than: ["数值必须大于 {gt}", "Must be greater than {gt}"],
  greater_than_equal: ["数值不能小于 {ge}", "Must be at least {ge}"],
  less_than_equal: ["数值不能大于 {le}", "Must be at most {le}"],
  int_parsing: ["请输入整数", "Enter a whole number"],
  int_type: ["请输入整数", "Enter a whole number"],
  decimal_parsing: ["请输入数字", "Enter a number"],
  float_parsing: ["请输入数字", "Enter a number"],
  enum: ["请选择列表中的一项", "Choose one of the options"],
  literal_error: ["请选择列表中的一项", "Choose one of the options"],
  date_from_datetime_parsing: ["日期格式不正确", "Invalid date"],
  date_parsing: ["日期格式不正确", "Invalid date"],
  datetime_parsing: ["日期时间格式不正确", "Invalid date/time"],
  string_pattern_mismatch: ["格式不正确", "Invalid format"],
  value_error: ["内容无效", "Invalid value"],
  uuid_parsing: ["编号格式不正确", "Invalid id"],
  type_mismatch: ["格式不正确", "Invalid format"],
  range_underflow: ["数值太小", "Value too small"],
  range_overflow: ["数值太大", "Value too large"],
};

function message(type, ctx = {}) {
  const pair = MESSAGES[type] || ["内容无效", "Invalid value"];
  return t(pair[0], pair[1]).replace(/\{(\w+)\}/g, (_, k) => (ctx[k] ?? ""));
}

function fieldNode(form, name) {
  if (!name) return null;
  const candidates = [name, name.split(".").slice(-1)[0], name.replace(/\./g, "_")];
  for (const n of candidates) {
    const node = form.querySelector(`[name="${CSS.escape(n)}"]`);
    if (node) return node;
  }
  return null;
}

function setFieldError(node, text) {
  const field = node.closest(".field") || node.parentElement;
  let slot = field.querySelector(".error");
  if (!slot) {
    slot = el("div", { class: "error", id: `${node.id || node.name}-error`, "aria-live": "polite" });
    field.append(slot);
  }
  slot.textContent = text;
  if (text) {
    node.setAttribute("aria-invalid", "true");
    node.setAttribute("aria-describedby", slot.id);
  } else {
    node.removeAttribute("aria-invalid");
  }
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  for (const slot of form.querySelectorAll(".field .error")) slot.textContent = "";
}

/** Check the form's own constraints (required, min, max, pattern) with Chinese messages. */
export function validate(form) {
  clearErrors(form);
  let first = null;
  for (const node of form.querySelectorAll("input, select, textarea")) {
    if (node.disabled || node.type === "hidden" || node.closest(".hidden")) continue;
    const v = node.validity;
    if (v.valid) continue;
    let text;
    if (v.valueMissing) text = message("missing");
    else if (v.rangeUnderflow) text = message("greater_than_equal", { ge: node.min });
    else if (v.rangeOverflow) text = message("less_than_equal", { le: node.max });
    else if (v.stepMismatch || v.badInput) text = message("int_parsing");
    else if (v.tooLong) text = message("string_too_long");
    else if (v.tooShort) text = message("string_too_short");
    else text = node.dataset.errPattern ? t(node.dataset.errPattern, node.dataset.errPatternEn) : message("type_mismatch");
    setFieldError(node, text);
    first = first || node;
  }
  if (first) first.focus();
  return !first;
}

/** Show an API error next to its fields (422 details), or as a notice. */
export function showError(form, statusBox, err) {
  let shown = 0;
  if (err instanceof ApiError && Array.isArray(err.details)) {
    for (const problem of err.details) {
      const node = fieldNode(form, problem.field || "");
      if (node) {
        setFieldError(node, message(problem.type, problem.ctx || {}));
        shown += 1;
      }
    }
  }
  const text = shown
    ? t("请更正标出的字段后重试。", "Please correct the marked fields.")
    : explain(err);
  notice(statusBox, "bad", text);
}

export function explain(err) {
  if (!(err instanceof ApiError)) return String(err && err.message ? err.message : err);
  if (err.status === 401) return t("登录已过期，请重新登录。", "Your session expired; please log in again.");
  if (err.status === 403) return t("您的角色无权执行此操作。", "Your role may not do this.");
  return err.message;
}

/**
 * Submit a form at most once per intent: the button is disabled while the request runs and the
 * same Idempotency-Key is reused until the call succeeds, so a double click or a retry after a
 * network error has one effect.
 */
export function onSubmitOnce(form, statusBox, handler) {
  form.noValidate = true;
  form.dataset.key = newKey();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.dataset.busy === "1") return;
    if (!validate(form)) {
      notice(statusBox, "bad", t("请更正标出的字段后重试。", "Please correct the marked fields."));
      return;
    }
    form.dataset.busy = "1";
    const buttons = form.querySelectorAll("button[type=submit]");
    buttons.forEach((b) => (b.disabled = true));
    notice(statusBox, "info", t("正在提交…", "Submitting…"));
    try {
      const result = await handler(new FormData(form), form.dataset.key);
      form.dataset.key = newKey();
      if (result !== false) notice(statusBox, "ok", typeof result === "string" ? result : t("已保存。", "Saved."));
    } catch (err) {
      showError(form, statusBox, err);
    } finally {
      form.dataset.busy = "0";
      buttons.forEach((b) => (b.disabled = false));
    }
  });
}

// --- staff session -----------------------------------------------------------------------

const TOKEN_KEY = "sunshine.token";

export function token() {
  const value = sessionStorage.getItem(TOKEN_KEY);
  if (!value) return null;
  const c = decodeClaims(value);
  if (!c || (c.exp && c.exp * 1000 < Date.now())) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return value;
}

export function decodeClaims(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

export function claims() {
  const value = token();
  return value ? decodeClaims(value) : null;
}

/** The comparison key of a staff subject, as the services compare them for the four-eyes
 * rule (shared/subjects.py): NFKC, case folded (upper then lower case: ß is ss), trimmed. */
const subjectKey = (subject) =>
  String(subject).normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC").trim();

/** Is `subject` (who entered or requested something) the signed-in person? */
export function isMe(subject) {
  const c = claims();
  return Boolean(c && c.sub != null && subject != null && subjectKey(subject) === subjectKey(c.sub));
}

export function roles() {
  const c = claims();
  return new Set((c && c.roles) || []);
}

/** Does the signed-in person hold any of `wanted` (admins hold every role)? */
export function may(...wanted) {
  const r = roles();
  return r.has("admin") || wanted.some((w) => r.has(w));
}

export async function login(tokenUrl, username, password) {
  const data = await api(tokenUrl, { method: "POST", form: { username, password } });
  sessionStorage.setItem(TOKEN_KEY, data.access_token);
  return data;
}

export function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export const ROLE_NAMES = {
  admin: ["管理员", "Administrator"],
  finance: ["财务", "Finance"],
  warehouse: ["仓管员", "Warehouse keeper"],
  dispatcher: ["调度员", "Dispatcher"],
  approver: ["审批人", "Approver"],
  auditor: ["审计（只读）", "Auditor (read-only)"],
};

export function roleName(role) {
  const pair = ROLE_NAMES[role];
  return pair ? t(pair[0], pair[1]) : role;
}

/** Load ECharts from our own server; null (and a visible note) when it is not installed. */
let echartsPromise = null;
export function loadECharts() {
  if (!echartsPromise) {
    echartsPromise = import("/assets/vendor/echarts.esm.min.mjs").catch(() => null);
  }
  return echartsPromise;
}

export function chartsUnavailable(container) {
  clear(container);
  container.classList.remove("chart");
  container.append(
    el("p", { class: "notice warn" },
      t("图表组件暂不可用（前端资源未安装），下方表格仍显示全部数据。",
        "Charts are unavailable (front-end assets not installed); the data are still shown as text.")),
  );
}
