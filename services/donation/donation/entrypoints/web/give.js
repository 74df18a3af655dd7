// Online giving: /give and /give/{project_code} (the form), then pay (a WeChat QR code on a
// desktop, else the gateway's page), then /give/result/{out_trade_no}, which polls until the
// gift exists. A closed tab loses nothing: the gateway's notification alone creates the gift.
import { api, ApiError, clear, el, notice, onSubmitOnce, setupLangSwitch, t, when, yuan } from "/assets/common/common.js";

const V1 = "/api/v1/giving";
const POLL_MS = 2000;
const CHANNELS = { wechat_pay: ["微信支付", "WeChat Pay"], alipay: ["支付宝", "Alipay"] };

/** "12.5" → 1250: whole yuan and up to two decimals, never through a float. */
export function toFen(text) {
  const m = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

function show(id) {
  for (const view of document.querySelectorAll("main > section")) view.classList.toggle("hidden", view.id !== id);
}

async function renderForm(projectCode) {
  show("view-form");
  const form = document.getElementById("give-form");
  const options = await api(`${V1}/options`);
  const select = form.project_code;
  for (const p of options.projects) select.append(el("option", { value: p.code }, p.town ? `${p.name}（${p.town}）` : p.name));
  if (projectCode) {
    if (options.projects.some((p) => p.code === projectCode)) select.value = projectCode;
    else notice(document.getElementById("give-status"), "warn", t("该项目已结束或不存在，您可选择其他项目或非定向捐赠。", "That project is closed or unknown; choose another or give unrestricted."));
  }
  const presets = clear(document.getElementById("presets"));
  for (const fen of options.presets_fen) {
    const button = el("button", { type: "button", class: "secondary preset", "data-fen": String(fen) }, yuan(fen));
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", () => {
      form.amount.value = (fen / 100).toFixed(2);
      markPreset();
    });
    presets.append(button);
  }
  // the preset whose amount is in the box is shown as chosen (also when typed by hand)
  const markPreset = () => {
    const typed = toFen(form.amount.value);
    for (const b of presets.querySelectorAll("button.preset")) b.setAttribute("aria-pressed", String(Number(b.dataset.fen) === typed));
  };
  form.amount.addEventListener("input", markPreset);
  const channels = clear(document.getElementById("channels"));
  if (!options.channels.length) {
    notice(document.getElementById("give-status"), "warn", t("网上捐赠暂未开通。", "Online giving is not open yet."));
    form.querySelector("button[type=submit]").disabled = true;
  }
  options.channels.forEach((c, i) => {
    const input = el("input", { type: "radio", name: "channel", value: c, required: "" });
    if (i === 0) input.checked = true;
    const names = CHANNELS[c] || [c, c];
    channels.append(el("label", {}, input, " ", t(names[0], names[1])));
  });
  const orgOnly = document.getElementById("org-only");
  for (const radio of form.querySelectorAll("input[name=donor_type]")) {
    radio.addEventListener("change", () => orgOnly.classList.toggle("hidden", form.donor_type.value !== "organization"));
  }
  onSubmitOnce(form, document.getElementById("give-status"), async (data) => {
    const fen = toFen(data.get("amount"));
    if (fen === null || fen < options.min_fen || fen > options.max_fen) {
      const text = t(`金额应在 ${yuan(options.min_fen)} 至 ${yuan(options.max_fen)} 之间。`, `The amount must be ${yuan(options.min_fen)} to ${yuan(options.max_fen)}.`);
      // next to the field, as the form's own checks are (the notice below says it too)
      form.amount.closest(".field").querySelector(".error").textContent = text;
      form.amount.setAttribute("aria-invalid", "true");
      form.amount.focus();
      throw new Error(text);
    }
    const body = {
      channel: data.get("channel"),
      amount_fen: fen,
      display: data.get("display"),
      donor_type: data.get("donor_type"),
      want_receipt: data.get("want_receipt") === "on",
    };
    for (const name of ["project_code", "name", "phone", "email"]) if (data.get(name)) body[name] = data.get(name);
    if (body.donor_type === "organization" && data.get("credit_code")) body.credit_code = data.get("credit_code");
    if (body.channel === "wechat_pay") body.scene = isPhone() ? "h5" : "native";
    else body.scene = isPhone() ? "wap" : "page";
    const order = await api(`${V1}/orders`, { method: "POST", body });
    sessionStorage.setItem("sunshine.give.last", order.out_trade_no);
    if (order.show_as_qr) {
      renderQr(order);
      return false;
    }
    window.location.assign(order.pay_url);
    return t("正在前往支付页面…", "Opening the payment page…");
  });
}

function isPhone() {
  return window.matchMedia("(max-width: 700px), (pointer: coarse)").matches;
}

function resultPath(order) {
  return `/give/result/${encodeURIComponent(order.out_trade_no)}`;
}

function renderQr(order) {
  show("view-pay");
  document.getElementById("pay-amount").textContent = yuan(order.amount_fen);
  document.getElementById("pay-qr").src = order.qr_url;
  document.getElementById("pay-result").href = resultPath(order);
  document.getElementById("pay-h").focus();
  const poll = async () => {
    try {
      const now = await api(`${V1}/orders/${encodeURIComponent(order.out_trade_no)}`);
      if (now.status !== "pending") {
        window.location.assign(resultPath(order));
        return;
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return;
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

function fact(dt, dd) {
  return [el("dt", {}, dt), el("dd", {}, dd)];
}

async function renderResult(outTradeNo) {
  show("view-result");
  const status = document.getElementById("result-status");
  notice(status, "info", t("正在确认付款结果…", "Confirming your payment…"));
  let order;
  try {
    order = await api(`${V1}/orders/${encodeURIComponent(outTradeNo)}`);
  } catch (err) {
    notice(status, "bad", err instanceof ApiError && err.status === 404 ? t("订单不存在。", "No such order.") : String(err.message || err));
    return;
  }
  const facts = clear(document.getElementById("result-facts"));
  facts.append(
    ...fact(t("金额", "Amount"), yuan(order.amount_fen)),
    ...fact(t("项目", "Project"), order.project_name || t("非定向（由红十字会统筹使用）", "Unrestricted")),
    ...fact(t("订单号", "Order"), el("span", { class: "code" }, order.out_trade_no)),
  );
  const actions = clear(document.getElementById("result-actions"));
  if (order.status === "paid") {
    facts.append(
      ...fact(t("付款时间", "Paid at"), when(order.paid_at)),
      ...fact(t("查询码", "Tracking code"), el("span", { class: "code", id: "tracking-code" }, order.tracking_code)),
      ...fact(t("捐赠票据", "Receipt"), order.receipt_no || t("未申请", "Not requested")),
    );
    notice(status, "ok", t("感谢您的爱心！捐赠已到账，请保存查询码，随时查看善款去向。", "Thank you! Your gift arrived. Keep the tracking code to see where it goes."));
    actions.append(el("a", { class: "button", href: `/track/${encodeURIComponent(order.tracking_code)}` }, t("查看捐赠去向", "Follow my gift")));
    if (order.receipt_no) {
      actions.append(el("a", { class: "button secondary", href: `/api/v1/receipts/${encodeURIComponent(order.tracking_code)}.pdf` }, t("下载电子票据", "Download the receipt")));
    }
    document.getElementById("result-h").focus();
    return;
  }
  if (order.status === "closed") {
    notice(status, "warn", t("订单已关闭，未付款。您可以重新发起捐赠。", "The order was closed unpaid. You may start again."));
    actions.append(el("a", { class: "button", href: order.project_code ? `/give/${encodeURIComponent(order.project_code)}` : "/give" }, t("重新捐赠", "Give again")));
    return;
  }
  notice(status, "info", t(`等待付款确认…（订单 ${when(order.expires_at)} 前有效）`, `Waiting for the payment… (the order is open until ${when(order.expires_at)})`));
  if (order.pay_url && !order.show_as_qr) actions.append(el("a", { class: "button secondary", href: order.pay_url }, t("继续付款", "Continue paying")));
  setTimeout(() => renderResult(outTradeNo), POLL_MS);
}

function start() {
  setupLangSwitch(() => window.location.reload());
  const parts = window.location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[1] === "result" && parts[2]) renderResult(parts[2]);
  else renderForm(parts[1] || null).catch((err) => notice(document.getElementById("give-status"), "bad", String(err.message || err)));
}

start();
