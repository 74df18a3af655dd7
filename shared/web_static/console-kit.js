// What both staff consoles share: login, role-aware menu, view switching, tables.
import {
  api, applyLang, claims, clear, el, explain, login, logout, may, notice, roleName, roles,
  setupLangSwitch, t, token,
} from "/assets/common/common.js";

export const TOWNS = ["锦屏街道", "岳林街道", "江口街道", "西坞街道", "萧王庙街道", "方桥街道", "尚田街道",
  "莼湖街道", "溪口镇", "大堰镇", "松岙镇", "裘村镇"];

/**
 * columns: [{label: [zh, en], value: row => text|Node, num?: bool}]; returns a <table> that
 * turns into labelled cards on a phone.
 */
export function table(columns, rows, { empty = ["暂无记录。", "Nothing yet."], rowClass } = {}) {
  if (!rows.length) return el("p", { class: "muted" }, t(empty[0], empty[1]));
  const head = el("tr", {}, columns.map((c) => el("th", { scope: "col", class: c.num ? "num" : null }, t(c.label[0], c.label[1]))));
  const body = rows.map((row) => el("tr", { class: rowClass ? rowClass(row) : null },
    columns.map((c) => el("td", { class: c.num ? "num" : null, "data-label": t(c.label[0], c.label[1]) }, c.value(row) ?? "—"))));
  return el("table", { class: "responsive" }, el("thead", {}, head), el("tbody", {}, body));
}

export function fillTowns(root = document) {
  for (const select of root.querySelectorAll("select.towns")) {
    for (const town of TOWNS) select.append(el("option", { value: town }, town));
  }
}

export function today() {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date());
  return parts; // YYYY-MM-DD
}

/** "12.34" yuan → 1234 fen (string-based, no float error); null when empty. */
export function fen(text) {
  if (text === null || text === undefined || String(text).trim() === "") return null;
  const [whole, frac = ""] = String(text).trim().split(".");
  return Number(whole) * 100 + Number((frac + "00").slice(0, 2)) * (whole.startsWith("-") ? -1 : 1);
}

export function clean(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) if (v !== "" && v !== null && v !== undefined) out[k] = v;
  return out;
}

/**
 * Start a console: login form (posting to `tokenUrl`), menu filtered by role, views.
 * `views` maps a view name to an async loader called when the view opens.
 */
export function startConsole({ tokenUrl, views, onLangChange, defaultView }) {
  let currentView = null;

  async function open(name) {
    currentView = name;
    for (const section of document.querySelectorAll(".view")) section.classList.add("hidden");
    for (const b of document.querySelectorAll("#menu button")) {
      if (b.dataset.view === name) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    const section = document.getElementById(`view-${name}`);
    section.classList.remove("hidden");
    notice(document.getElementById("global-status"), "", "");
    section.setAttribute("aria-busy", "true");
    try {
      await views[name]();
    } catch (err) {
      notice(document.getElementById("global-status"), "bad", explain(err));
      if (err.status === 401) signOut();
    } finally {
      section.removeAttribute("aria-busy");
    }
    applyLang(section);
    history.replaceState(null, "", `#${name}`);
  }

  function signOut() {
    logout();
    render();
  }

  function render() {
    const signedIn = Boolean(token());
    document.getElementById("login-view").classList.toggle("hidden", signedIn);
    document.getElementById("menu").classList.toggle("hidden", !signedIn);
    document.getElementById("logout").classList.toggle("hidden", !signedIn);
    const who = document.getElementById("whoami");
    if (!signedIn) {
      who.textContent = "";
      for (const section of document.querySelectorAll(".view")) section.classList.add("hidden");
      document.getElementById("username").focus();
      return;
    }
    const c = claims();
    who.textContent = `${c.name || c.sub}（${[...roles()].map(roleName).join("、")}）`;
    const allowed = [];
    for (const b of document.querySelectorAll("#menu button")) {
      const ok = may(...b.dataset.roles.split(" "));
      b.classList.toggle("hidden", !ok);
      if (ok) allowed.push(b.dataset.view);
    }
    for (const node of document.querySelectorAll("[data-needs]")) {
      node.classList.toggle("hidden", !may(...node.dataset.needs.split(" ")));
    }
    const wanted = location.hash.slice(1);
    const first = allowed.includes(wanted) ? wanted : allowed.includes(defaultView) ? defaultView : allowed[0];
    if (first) open(first);
    else notice(document.getElementById("global-status"), "warn", t("您的角色在此没有可用的功能。", "Your role has nothing to do here."));
  }

  setupLangSwitch(() => {
    render();
    if (onLangChange) onLangChange();
  });
  // An initial password (new account, or reset by an admin) gets no token: the holder sets
  // their own first (POST …/auth/password with the old one), then is logged in with it.
  const changeView = document.getElementById("pwchange-view");
  let pending = null;
  const form = document.getElementById("login-form");
  form.noValidate = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("login-status");
    const data = new FormData(form);
    if (!data.get("username") || !data.get("password")) {
      notice(status, "bad", t("请输入用户名和密码。", "Enter your user name and password."));
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await login(tokenUrl, data.get("username"), data.get("password"));
      notice(status, "", "");
      form.reset();
      render();
    } catch (err) {
      if (err.code === "password_change_required" && changeView) {
        pending = { username: data.get("username"), password: data.get("password") };
        form.reset();
        notice(status, "", "");
        changeView.classList.remove("hidden");
        document.getElementById("login-view").classList.add("hidden");
        changeView.querySelector("input[type=password]").focus();
        return;
      }
      notice(status, "bad", err.status === 401 || err.status === 400
        ? t("用户名或密码不正确。", "Wrong user name or password.")
        : err.code === "password_change_required" ? err.message : explain(err));
    } finally {
      button.disabled = false;
    }
  });
  if (changeView) {
    const changeForm = document.getElementById("pwchange-form");
    const changeStatus = document.getElementById("pwchange-status");
    changeForm.noValidate = true;
    const leave = () => {
      pending = null;
      changeForm.reset();
      notice(changeStatus, "", "");
      changeView.classList.add("hidden");
      render();
    };
    document.getElementById("pwchange-cancel").addEventListener("click", leave);
    changeForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(changeForm);
      if (!pending) return leave();
      if (String(data.get("new_password")).length < 10) {
        notice(changeStatus, "bad", t("新密码至少 10 个字符。", "A password has at least 10 characters."));
        return;
      }
      if (data.get("new_password") !== data.get("again")) {
        notice(changeStatus, "bad", t("两次输入的新密码不一致。", "The two new passwords differ."));
        return;
      }
      const button = changeForm.querySelector("button[type=submit]");
      button.disabled = true;
      try {
        await api(tokenUrl.replace(/\/token$/, "/password"), {
          method: "POST",
          body: { username: pending.username, old_password: pending.password, new_password: data.get("new_password") },
        });
        await login(tokenUrl, pending.username, data.get("new_password"));
        leave();
      } catch (err) {
        notice(changeStatus, "bad", err.status === 401
          ? t("原密码已失效，请重新登录。", "The old password no longer works; log in again.")
          : explain(err));
      } finally {
        button.disabled = false;
      }
    });
  }
  document.getElementById("logout").addEventListener("click", signOut);
  for (const b of document.querySelectorAll("#menu button")) b.addEventListener("click", () => open(b.dataset.view));
  render();
  document.body.dataset.ready = "1";
  return { open, reload: () => currentView && open(currentView), render };
}

export { api, clear, el, may, notice, t };
