// The operator's console: stuck orders (kind, step, attempts, last error, a link to the order's
// workflow in the Temporal UI), the repair actions with a required reason, and the audit trail.
import { h, fill, time, announce, notice, field, shortId } from "./dom.js";
import { t, statusName } from "./i18n.js";
import { get, post, explain } from "./api.js";

const ACTIONS = ["retry", "restart", "cancel", "terminate", "compensate"];

export function show(main, parts) {
  if (parts[0] === "audit") return audit(main);
  return stuck(main);
}

async function stuck(main) {
  const body = h("div", { id: "stuck" });
  const refresh = h("button", { type: "button", id: "refresh", onclick: () => load() }, t("ops.refresh"));
  fill(main, h("h1", {}, t("ops.title")), h("p", {}, refresh), body);
  const load = async (message) => {
    try {
      const { orders, truncated } = await get("/admin/orders/stuck");
      fill(body, message || null,
        orders.length ? h("ul", { class: "stuck" }, orders.map((o) => row(o, load))) : h("p", { class: "muted" }, t("ops.none")),
        truncated ? notice("info", t("ops.truncated")) : null);
    } catch (err) {
      fill(body, notice("error", explain(err)));
    }
  };
  await load();
}

function row(o, reload) {
  const reason = h("textarea", { name: "reason", required: true, maxlength: 500, rows: 2 });
  const action = h("select", { name: "action" }, ACTIONS.map((a) => h("option", { value: a }, t(`ops.${a}`))));
  const status = h("div");
  const submit = async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      reason.setAttribute("aria-invalid", "true");
      fill(status, notice("error", t("ops.reasonNeeded")));
      reason.focus();
      return;
    }
    const chosen = action.value;
    try {
      const done = await post(`/admin/orders/${o.order_id}/${chosen}`, { reason: reason.value.trim() });
      announce(t("ops.sent", { action: t(`ops.${chosen}`), id: shortId(o.order_id) }));
      await reload(notice("ok", t("ops.sentAudit", { action: t(`ops.${chosen}`), id: shortId(o.order_id), audit: done.audit_id })));
    } catch (err) {
      fill(status, notice("error", explain(err)));
    }
  };
  return h("li", { class: "card", "data-order": o.order_id, "data-kind": o.kind },
    h("h2", {}, t("track.title", { id: shortId(o.order_id) }), " · ", statusName(o.status)),
    h("dl", {},
      h("dt", {}, t("ops.kind")), h("dd", {}, t(`ops.kind.${o.kind}`, {}, o.kind)),
      h("dt", {}, t("ops.step")), h("dd", {}, o.step || "–"),
      h("dt", {}, t("ops.attempts")), h("dd", {}, o.attempts ?? "–"),
      h("dt", {}, t("ops.lastError")), h("dd", { class: "error-text" }, o.last_error || "–"),
      h("dt", {}, t("ops.since")), h("dd", {}, time(o.since))),
    h("p", {}, h("a", { href: o.temporal_ui_url, target: "_blank", rel: "noopener" }, t("ops.temporal"))),
    h("form", { novalidate: true, class: "ops-action", onsubmit: submit },
      field(t("ops.action"), action), field(t("ops.reason"), reason),
      h("button", { type: "submit", class: "primary" }, t("ops.do"))),
    status);
}

async function audit(main) {
  const rows = h("tbody");
  const more = h("button", { type: "button", id: "more" }, t("orders.more"));
  const status = h("div");
  let before = null;
  const load = async () => {
    try {
      const page = await get(`/admin/audit${before ? `?before=${before}` : ""}`);
      rows.append(...page.entries.map((e) => h("tr", {},
        h("td", {}, time(e.at)), h("td", {}, e.operator), h("td", {}, t(`ops.${e.action}`, {}, e.action)),
        h("td", {}, e.order_id ? shortId(e.order_id) : "–"), h("td", {}, e.reason), h("td", {}, e.outcome))));
      before = page.next_before;
      more.hidden = !before;
    } catch (err) {
      fill(status, notice("error", explain(err)));
    }
  };
  more.addEventListener("click", load);
  fill(main, h("h1", {}, t("nav.audit")),
    h("div", { class: "scroll" }, h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, [t("audit.at"), t("audit.operator"), t("audit.action"), t("audit.order"), t("audit.reason"), t("audit.outcome")].map((c) => h("th", { scope: "col" }, c)))),
      rows)),
    status, more);
  await load();
}
