// The rider's view: the deliveries assigned to me, live, with pickup and deliver.
import { h, fill, announce, notice, shortId, time } from "./dom.js";
import { t, statusName } from "./i18n.js";
import { post, follow, explain, FINAL } from "./api.js";

/** What the rider can do next: pick up what the shop has ready, deliver what they carry. */
function nextAction(d) {
  if (d.status === "PICKED_UP") return "deliver";
  if (d.ready_for_pickup && (d.status === "READY" || d.status === "RIDER_ASSIGNED")) return "pickup";
  return null;
}

export function show(main, _parts, me) {
  const rider = encodeURIComponent(me.subject);
  const connection = h("span", { class: "live-state", id: "live-state" });
  const open = h("ul", { class: "deliveries", id: "open-deliveries" });
  const done = h("ul", { class: "deliveries done", id: "done-deliveries" });
  const problems = new Map();
  let latest = null;
  const doneTitle = h("h2", { hidden: true }, t("rider.done"));
  fill(main, h("h1", {}, t("rider.title"), " ", connection), open, doneTitle, done);

  const render = (data) => {
    latest = data;
    const active = data.deliveries.filter((d) => !FINAL.has(d.status));
    const finished = data.deliveries.filter((d) => FINAL.has(d.status));
    fill(open, active.length ? active.map(card) : h("li", { class: "muted" }, t("rider.none")));
    doneTitle.hidden = !finished.length;
    fill(done, finished.map((d) => h("li", { "data-order": d.order_id, "data-status": d.status },
      `${t("track.title", { id: shortId(d.order_id) })} · ${statusName(d.status)} · ${time(d.updated_at)}`)));
  };
  const card = (d) => {
    const action = nextAction(d);
    const problem = problems.get(d.order_id);
    return h("li", { class: "card", "data-order": d.order_id, "data-status": d.status },
      h("h2", {}, t("track.title", { id: shortId(d.order_id) }), " · ", h("span", { class: "status" }, statusName(d.status))),
      h("dl", {},
        h("dt", {}, t("rider.pickupAt")), h("dd", {}, `${d.shop_name}, ${d.shop_address}`),
        h("dt", {}, t("rider.deliverTo")), h("dd", {}, d.delivery_address),
        h("dt", {}, t("track.order")), h("dd", {}, d.items.map((l) => `${l.name} × ${l.quantity}`).join(", "))),
      action
        ? h("form", { class: "inline", onsubmit: async (e) => {
            e.preventDefault();
            e.submitter && (e.submitter.disabled = true);
            try {
              await post(`/deliveries/${d.order_id}/${action}`, {});
              problems.delete(d.order_id);
              announce(t(`rider.${action}Done`, { id: shortId(d.order_id) }));
            } catch (err) {
              problems.set(d.order_id, explain(err));
              if (latest) render(latest);
            }
          } }, h("button", { type: "submit", class: "primary", "data-action": action }, t(`rider.${action}`)))
        : h("p", { class: "muted" }, t("rider.waiting")),
      problem ? notice("error", problem) : null);
  };
  const stream = follow(`/riders/${rider}/deliveries/events`, "deliveries", render, {
    onState: (state) => { connection.textContent = t(`live.${state}`); connection.dataset.state = state; },
    onError: (err) => fill(open, notice("error", explain(err))),
  });
  return () => stream.close();
}
