// The shell: sign-in, the menu of the signed-in role, the language switch, and the router that
// shows one screen at a time (`#/customer/orders/<id>`, `#/shop`, ...). Each screen returns what
// stops it (its live streams) when the reader leaves it.
import { h, fill, announce } from "./dom.js";
import { t, lang, setLang } from "./i18n.js";
import { session, signIn, signOut } from "./api.js";
import * as customer from "./customer.js";
import * as shop from "./shop.js";
import * as rider from "./rider.js";
import * as operator from "./operator.js";

const screens = { customer, shop, rider, operator };
const main = document.getElementById("main");
let leave = null;
let shown = false;

/** Where each role starts, and its menu. */
const menus = {
  customer: [["#/customer", "nav.shops"], ["#/customer/orders", "nav.myOrders"]],
  shop: [["#/shop", "nav.board"], ["#/shop/menu", "nav.menu"]],
  rider: [["#/rider", "nav.deliveries"]],
  operator: [["#/operator", "nav.stuck"], ["#/operator/audit", "nav.audit"]],
};

function route() {
  leave?.();
  leave = null;
  const hash = location.hash || "#/";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);

  if (parts[0] === "signin") {
    // A sign-in link (`#/signin?token=...`, printed by scripts/run): keep the token for this tab
    // and take it out of the address bar and the history.
    const token = params.get("token");
    if (token && signIn(token)) {
      history.replaceState(null, "", location.pathname + `#/${session().role}`);
      return route();
    }
  }
  const me = session();
  renderHeader(me);
  if (!me) return renderSignIn(params.get("token") ? t("signin.bad") : null);
  if (parts[0] !== me.role) {
    history.replaceState(null, "", location.pathname + `#/${me.role}`);
    return route();
  }
  // Each screen draws into a view of its own: a screen left before its data arrived draws into
  // a view no longer on the page, never over the next screen.
  const view = h("div", { class: "view" });
  fill(main, view);
  const stop = screens[me.role].show(view, parts.slice(1), me);
  leave = typeof stop === "function" ? stop : null;
  // After a move within the app, the reader (and a screen reader) starts at the new screen; on
  // the first load, the first Tab reaches the skip link as on any page.
  if (shown) main.focus({ preventScroll: true });
  shown = true;
  main.dataset.route = location.hash;
  markCurrent();
}

function renderHeader(me) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  fill(nav, me
    ? h("ul", {}, menus[me.role].map(([href, key]) => h("li", {}, h("a", { href }, t(key)))))
    : null);
  fill(who, me
    ? [h("span", { class: "who" }, `${t(`role.${me.role}`)} · ${me.subject}`),
       h("button", { type: "button", class: "link", onclick: () => { signOut(); location.hash = "#/"; route(); } }, t("signout"))]
    : null);
  const switcher = document.getElementById("lang");
  switcher.value = lang();
  document.documentElement.lang = lang();
  document.title = t("title");
  document.getElementById("brand").textContent = t("brand");
  document.getElementById("lang-label").textContent = t("language");
  document.getElementById("skip").textContent = t("skip");
}

function markCurrent() {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === location.hash) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function renderSignIn(problem) {
  const input = h("textarea", { id: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false" });
  const status = h("div", { "aria-live": "polite" }, problem ? h("p", { class: "notice error", role: "alert" }, problem) : null);
  const form = h("form", {
    class: "card", onsubmit: (e) => {
      e.preventDefault();
      const me = signIn(input.value);
      if (!me) { fill(status, h("p", { class: "notice error", role: "alert" }, t("signin.bad"))); return; }
      location.hash = `#/${me.role}`;
    },
  },
    h("h1", {}, t("signin.title")),
    h("p", {}, t("signin.help")),
    h("div", { class: "field" }, h("label", { for: "token" }, t("signin.token")), input),
    status,
    h("button", { type: "submit", class: "primary" }, t("signin.submit")));
  fill(main, form);
}

document.getElementById("lang").addEventListener("change", (e) => {
  setLang(e.target.value);
  announce(t("language.changed"));
  route();
});
window.addEventListener("hashchange", route);
window.addEventListener("courier:unauthorized", () => {
  // An expired or revoked token: back to sign-in.
  leave?.();
  leave = null;
  signOut();
  renderHeader(null);
  renderSignIn(t("signin.expired"));
});
route();
