// The shop's console: the live board of paid orders (accept, reject with a reason, ready), with a
// visual and sound cue when a new order arrives, and the menu's stock.
import { h, fill, money, time, announce, notice, field, shortId } from "./dom.js";
import { t, statusName } from "./i18n.js";
import { get, post, follow, explain } from "./api.js";

/** What the shop can do with an order now. */
function actionsFor(o) {
  if (o.status === "PAID") return ["accept", "reject"];
  if ((o.status === "ACCEPTED" || o.status === "RIDER_ASSIGNED") && !o.ready_for_pickup) return ["ready"];
  return [];
}

export function show(main, parts, me) {
  if (parts[0] === "menu") return menu(main, me);
  return board(main, me);
}

function board(main, me) {
  const shop = encodeURIComponent(me.subject);
  const connection = h("span", { class: "live-state", id: "live-state" });
  const counter = h("p", { id: "new-orders", class: "badge", hidden: true, "aria-live": "polite" });
  const list = h("ul", { class: "board", id: "board" });
  const problems = new Map();
  fill(main, h("h1", {}, t("board.title"), " ", connection), counter, list);

  let known = null;
  let fresh = 0;
  let latest = null;
  const render = (data) => {
    latest = data;
    const arrived = known ? data.orders.filter((o) => !known.has(o.order_id) && o.status === "PAID") : [];
    known = new Set(data.orders.map((o) => o.order_id));
    if (arrived.length) {
      fresh += arrived.length;
      counter.hidden = false;
      counter.textContent = t("board.new", { n: fresh });
      announce(t("board.new", { n: arrived.length }));
      chime();
      document.title = `(${fresh}) ${t("title")}`;
    }
    const newIds = new Set(arrived.map((o) => o.order_id));
    fill(list, data.orders.length ? data.orders.map((o) => ticket(o, newIds.has(o.order_id))) : h("li", { class: "muted" }, t("board.empty")));
  };
  const ticket = (o, isNew) => {
    const actions = actionsFor(o).map((action) => actionForm(o, action));
    const problem = problems.get(o.order_id);
    return h("li", { class: `card ticket${isNew ? " new" : ""}`, "data-order": o.order_id, "data-status": o.status },
      h("h2", {}, t("track.title", { id: shortId(o.order_id) }), " · ", h("span", { class: "status" }, statusName(o.status))),
      h("ul", {}, o.items.map((l) => h("li", {}, `${l.name} × ${l.quantity}`))),
      h("p", { class: "muted" }, `${money(o.total_minor, o.currency)} · ${time(o.created_at)}`),
      actions.length ? h("div", { class: "actions" }, actions) : null,
      problem ? notice("error", problem) : null);
  };
  const actionForm = (o, action) => {
    const path = `/shops/${shop}/orders/${o.order_id}/${action}`;
    const label = t(`board.${action}`);
    const act = async (e, body) => {
      e.preventDefault();
      e.submitter && (e.submitter.disabled = true);
      try {
        await post(path, body);
        problems.delete(o.order_id);
        announce(t("board.done", { action: label, id: shortId(o.order_id) }));
      } catch (err) {
        problems.set(o.order_id, explain(err));
        if (latest) render(latest);
      }
    };
    if (action === "reject") {
      const reason = h("input", { name: "reason", required: true, maxlength: 200 });
      return h("form", { novalidate: true, class: "inline", onsubmit: (e) => {
        if (!reason.value.trim()) { e.preventDefault(); reason.setAttribute("aria-invalid", "true"); reason.focus(); return; }
        act(e, { reason: reason.value.trim() });
      } }, field(t("board.rejectReason"), reason), h("button", { type: "submit", class: "danger", "data-action": action }, label));
    }
    return h("form", { class: "inline", onsubmit: (e) => act(e, {}) },
      h("button", { type: "submit", class: "primary", "data-action": action }, label));
  };
  counter.addEventListener("click", () => { fresh = 0; counter.hidden = true; document.title = t("title"); });
  const stream = follow(`/shops/${shop}/orders/events`, "board", render, {
    onState: (state) => { connection.textContent = t(`live.${state}`); connection.dataset.state = state; },
    onError: (err) => fill(list, notice("error", explain(err))),
  });
  return () => { stream.close(); document.title = t("title"); };
}

/** A short two-tone chime for a new order (browsers play it once the page was interacted with). */
function chime() {
  try {
    const audio = new AudioContext();
    [880, 1320].forEach((hz, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.15, audio.currentTime + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + i * 0.18 + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(audio.currentTime + i * 0.18);
      osc.stop(audio.currentTime + i * 0.18 + 0.17);
    });
  } catch {
    // No sound: the visual cue and the announcement remain.
  }
}

async function menu(main, me) {
  const shop = encodeURIComponent(me.subject);
  const body = h("div");
  fill(main, h("h1", {}, t("menu.title")), body);
  const load = async (message) => {
    try {
      const data = await get(`/shops/${shop}/menu`);
      fill(body, message || null, h("table", { id: "stock" },
        h("thead", {}, h("tr", {}, [t("menu.item"), t("menu.price"), t("menu.stock"), t("menu.change")].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.items.map((item) => stockRow(item, load)))));
    } catch (err) {
      fill(body, notice("error", explain(err)));
    }
  };
  const stockRow = (item, reload) => {
    const amount = h("input", { type: "number", inputmode: "numeric", min: 0, max: 1000000, required: true, name: "amount", "aria-label": t("menu.amount", { item: item.name }) });
    const change = async (e, how) => {
      e.preventDefault();
      const n = parseInt(amount.value, 10);
      if (!Number.isFinite(n)) { amount.setAttribute("aria-invalid", "true"); amount.focus(); return; }
      try {
        await post(`/shops/${shop}/menu/${encodeURIComponent(item.menu_item_id)}/stock`, { [how]: n });
        await reload(notice("ok", t("menu.saved", { item: item.name })));
      } catch (err) {
        await reload(notice("error", explain(err)));
      }
    };
    return h("tr", { "data-item": item.menu_item_id },
      h("th", { scope: "row" }, item.name),
      h("td", {}, money(item.price_minor, item.currency)),
      h("td", { class: "stock" }, String(item.stock)),
      h("td", {}, h("form", { novalidate: true, class: "inline", onsubmit: (e) => change(e, "set") }, amount,
        h("button", { type: "submit", "data-how": "set" }, t("menu.set")),
        h("button", { type: "button", "data-how": "add", onclick: (e) => change(e, "add") }, t("menu.add")))));
  };
  await load();
}
