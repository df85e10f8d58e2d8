// The customer's screens: the shops, a shop's menu to order from (paid with a card), the live
// tracking page of an order, and "my orders".
import { h, fill, money, time, announce, notice, field, shortId } from "./dom.js";
import { t, lang, statusName } from "./i18n.js";
import { get, post, follow, explain, FINAL } from "./api.js";

/** Before the rider picks the order up, the customer may cancel it. */
const CANCELLABLE = new Set(["PAYMENT_PENDING", "PAID", "ACCEPTED", "RIDER_ASSIGNED", "READY"]);

export function show(main, parts, me) {
  if (parts[0] === "shops" && parts[1]) return orderForm(main, decodeURIComponent(parts[1]), me);
  if (parts[0] === "orders" && parts[1]) return tracking(main, decodeURIComponent(parts[1]), me);
  if (parts[0] === "orders") return myOrders(main, me);
  return shops(main);
}

async function shops(main) {
  fill(main, h("h1", {}, t("shops.title")), h("p", { class: "muted" }, t("loading")));
  try {
    const { shops } = await get("/shops");
    fill(main, h("h1", {}, t("shops.title")),
      h("ul", { class: "cards" }, shops.map((s) => h("li", { class: "card" },
        h("h2", {}, h("a", { href: `#/customer/shops/${encodeURIComponent(s.shop_id)}` }, s.name)),
        h("p", { class: "muted" }, `${t(`kind.${s.kind}`, {}, s.kind)} · ${s.address}`)))));
  } catch (err) {
    fill(main, h("h1", {}, t("shops.title")), notice("error", explain(err)));
  }
}

async function orderForm(main, shopId, me) {
  fill(main, h("p", { class: "muted" }, t("loading")));
  let menu;
  try {
    menu = await get(`/shops/${encodeURIComponent(shopId)}/menu`);
  } catch (err) {
    fill(main, notice("error", explain(err)));
    return;
  }
  // One key for this form: pressing Pay twice, or again after a lost answer, is one order.
  let key = crypto.randomUUID();
  const quantities = new Map();
  const total = h("output", { id: "order-total", "aria-live": "polite" }, money(0));
  const status = h("div", { class: "form-status" });
  const payButton = h("button", { type: "submit", class: "primary", id: "pay" }, t("order.pay"));

  const recount = () => {
    let sum = 0;
    for (const item of menu.items) sum += (quantities.get(item.menu_item_id) || 0) * item.price_minor;
    total.textContent = money(sum, menu.items[0]?.currency);
  };
  const lines = menu.items.map((item) => {
    const soldOut = item.stock <= 0;
    const input = h("input", {
      type: "number", inputmode: "numeric", min: 0, max: Math.min(99, Math.max(item.stock, 0)), value: 0,
      name: item.menu_item_id, "data-item": item.menu_item_id, disabled: soldOut,
      oninput: (e) => { quantities.set(item.menu_item_id, Math.max(0, parseInt(e.target.value, 10) || 0)); recount(); },
    });
    return h("li", { class: "menu-line" },
      field(`${item.name} · ${money(item.price_minor, item.currency)}`, input,
        soldOut ? t("menu.soldOut") : t("menu.inStock", { n: item.stock })));
  });
  const address = h("input", { name: "delivery_address", required: true, minlength: 5, maxlength: 200, autocomplete: "street-address" });
  const phone = h("input", { name: "phone", type: "tel", required: true, placeholder: "+821012345678", autocomplete: "tel" });
  const email = h("input", { name: "email", type: "email", required: true, autocomplete: "email" });
  const card = h("input", { name: "card_number", inputmode: "numeric", required: true, autocomplete: "cc-number", placeholder: "4242 4242 4242 4242" });
  const inputs = { delivery_address: address, phone, email, "payment.card_number": card };

  const submit = async (e) => {
    e.preventDefault();
    for (const input of Object.values(inputs)) input.removeAttribute("aria-invalid");
    const items = [...quantities].filter(([, q]) => q > 0).map(([menu_item_id, quantity]) => ({ menu_item_id, quantity }));
    if (!items.length) { fill(status, notice("error", t("order.empty"))); return; }
    payButton.disabled = true;
    fill(status, notice("info", t("order.paying")));
    try {
      const placed = await post("/orders", {
        customer_id: me.subject, shop_id: shopId, items,
        delivery_address: address.value, phone: phone.value, email: email.value,
        payment: { card_number: card.value }, language: lang(),
      }, { "Idempotency-Key": key });
      location.hash = `#/customer/orders/${placed.order_id}`;
    } catch (err) {
      payButton.disabled = false;
      fill(status, notice("error", explain(err)));
      const input = inputs[err.field];
      if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
      // A refusal that placed nothing: a corrected form is a new order.
      if (err.status === 422 || err.status === 402 || err.status === 409) key = crypto.randomUUID();
      if (err.orderId) fill(status, notice("error", explain(err)),
        h("a", { href: `#/customer/orders/${err.orderId}` }, t("order.see")));
    }
  };

  fill(main,
    h("h1", {}, menu.name),
    h("form", { class: "card order-form", onsubmit: submit, novalidate: true },
      h("fieldset", {}, h("legend", {}, t("order.items")), h("ul", { class: "menu" }, lines)),
      h("p", { class: "total" }, `${t("order.total")}: `, total),
      h("fieldset", {}, h("legend", {}, t("order.delivery")),
        field(t("order.address"), address),
        field(t("order.phone"), phone, t("order.phoneHint")),
        field(t("order.email"), email)),
      h("fieldset", {}, h("legend", {}, t("order.payment")),
        field(t("order.card"), card, t("order.cardHint"))),
      status,
      payButton));
}

function tracking(main, orderId, me) {
  const headline = h("p", { class: "status-line", id: "order-status", "aria-live": "polite" }, t("loading"));
  const connection = h("span", { class: "live-state", id: "live-state" }, "");
  const timeline = h("ol", { class: "timeline", id: "timeline" });
  const rider = h("p", { id: "rider" });
  const summary = h("div", {});
  const cancelBox = h("div", { id: "cancel-box" });
  const notifications = h("div", { id: "notifications" });
  fill(main,
    h("h1", {}, t("track.title", { id: shortId(orderId) }), " ", connection),
    headline, rider, cancelBox,
    h("section", { "aria-labelledby": "tl" }, h("h2", { id: "tl" }, t("track.timeline")), timeline),
    summary,
    h("section", { "aria-labelledby": "nl" }, h("h2", { id: "nl" }, t("track.notifications")), notifications));

  let current = null;
  let refusal = null;
  const render = (order) => {
    const changed = current?.status !== order.status;
    current = order;
    headline.textContent = statusName(order.status);
    headline.dataset.status = order.status;
    if (changed) announce(t("track.now", { status: statusName(order.status) }));
    fill(timeline, order.timeline.map((step) =>
      h("li", { "data-status": step.status }, h("strong", {}, statusName(step.status)), " ", h("time", { datetime: step.at }, time(step.at)))));
    fill(rider, order.rider ? t("track.rider", { name: order.rider.name, phone: order.rider.phone }) : t("track.noRider"));
    fill(summary,
      h("h2", {}, t("track.order")),
      h("ul", {}, order.items.map((l) => h("li", {}, `${l.name} × ${l.quantity} · ${money(l.unit_price_minor * l.quantity, order.currency)}`))),
      h("p", {}, `${t("order.total")}: ${money(order.total_minor, order.currency)}`),
      h("p", { class: "muted" }, `${t("order.address")}: ${order.delivery_address}`),
      order.reason ? h("p", { class: "notice info" }, `${t("track.reason")}: ${order.reason}`) : null);
    renderCancel();
  };
  const renderCancel = () => {
    if (!current || me.role !== "customer") return fill(cancelBox);
    if (CANCELLABLE.has(current.status)) {
      const reason = h("input", { name: "reason", maxlength: 200 });
      const button = h("button", { type: "submit", class: "danger", id: "cancel" }, t("track.cancel"));
      fill(cancelBox, h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault();
        button.disabled = true;
        try {
          await post(`/orders/${orderId}/cancel`, reason.value.trim() ? { reason: reason.value.trim() } : {});
          refusal = null;
          announce(t("track.cancelling"));
        } catch (err) {
          refusal = explain(err);
          renderCancel();
        }
      } }, field(t("track.cancelReason"), reason), button), refusal ? notice("error", refusal) : null);
    } else if (!FINAL.has(current.status) && current.status !== "CANCELLING") {
      fill(cancelBox, notice("info", t("track.noCancel")), refusal ? notice("error", refusal) : null);
    } else {
      fill(cancelBox, refusal ? notice("error", refusal) : null);
    }
  };
  const loadNotifications = async () => {
    try {
      const { notifications: log } = await get(`/orders/${orderId}/notifications`);
      fill(notifications, log.length ? h("ul", { class: "log" }, log.map((m) => h("li", { "data-state": m.state },
        h("p", {}, h("strong", {}, statusName(m.status)), ` · ${m.channel.toUpperCase()} → ${m.recipient} · `,
          h("span", { class: "state" }, t(`log.${m.state}`, {}, m.state))),
        h("p", { class: "muted" }, m.subject ? `${m.subject}: ${m.body}` : m.body))))
        : h("p", { class: "muted" }, t("log.none")));
    } catch (err) {
      fill(notifications, notice("error", explain(err)));
    }
  };
  const stream = follow(`/orders/${encodeURIComponent(orderId)}/events`, "order", (order) => {
    render(order);
    if (me.role === "customer" || me.role === "operator") loadNotifications();
  }, {
    onState: (state) => { connection.textContent = t(`live.${state}`); connection.dataset.state = state; },
    onEnd: () => { connection.textContent = t("live.ended"); connection.dataset.state = "ended"; },
    onError: (err) => { connection.textContent = ""; fill(headline, explain(err)); },
  });
  return () => stream.close();
}

async function myOrders(main, me) {
  const list = h("ul", { class: "orders", id: "my-orders" });
  const more = h("button", { type: "button", id: "more" }, t("orders.more"));
  const status = h("div");
  let cursor = null;
  const load = async () => {
    more.disabled = true;
    try {
      const query = new URLSearchParams({ limit: "10" });
      if (cursor) query.set("cursor", cursor);
      const page = await get(`/customers/${encodeURIComponent(me.subject)}/orders?${query}`);
      list.append(...page.orders.map((o) => h("li", { class: "card" },
        h("a", { href: `#/customer/orders/${o.order_id}` }, t("track.title", { id: shortId(o.order_id) })),
        " · ", h("span", { "data-status": o.status }, statusName(o.status)),
        h("p", { class: "muted" }, `${o.shop_id} · ${money(o.total_minor, o.currency)} · ${time(o.created_at)}`))));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (!list.children.length) fill(status, h("p", { class: "muted" }, t("orders.none")));
    } catch (err) {
      fill(status, notice("error", explain(err)));
    }
    more.disabled = false;
  };
  more.addEventListener("click", load);
  fill(main, h("h1", {}, t("nav.myOrders")), list, status, more);
  await load();
}
