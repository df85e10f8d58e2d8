// Talking to Courier's REST API as any client does: JSON with the bearer token of the role this
// tab signed in as, errors in the API's shape, and live streams (server-sent events) read with
// fetch, because a browser's EventSource cannot send an Authorization header.

import { t } from "./i18n.js";

const TOKEN = "courier.token";

/** The statuses an order ends in (`OrderStatus::is_final` on the server). */
export const FINAL = new Set(["PAYMENT_DECLINED", "OUT_OF_STOCK", "PAYMENT_FAILED", "DELIVERED", "REJECTED", "CANCELLED"]);

/** The signed-in caller of this tab: `{ token, role, subject }`, or null. Each tab keeps its own
 *  (sessionStorage), so a customer, a shop and a rider can work side by side in one browser. */
export function session() {
  const token = sessionStorage.getItem(TOKEN);
  if (!token) return null;
  const claims = readClaims(token);
  if (!claims || (claims.exp && claims.exp * 1000 < Date.now())) return null;
  return { token, role: claims.role, subject: claims.sub };
}

/** What a token says of its caller (the server verifies it; the page only reads it). */
export function readClaims(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload));
    return typeof claims.role === "string" && typeof claims.sub === "string" ? claims : null;
  } catch {
    return null;
  }
}

export function signIn(token) {
  const claims = readClaims(token.trim());
  if (!claims) return null;
  sessionStorage.setItem(TOKEN, token.trim());
  return session();
}

export function signOut() {
  sessionStorage.removeItem(TOKEN);
}

/** A refusal of the API: `status`, and its body's `code`, `message` and `field`. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = error?.code || "unknown";
    this.field = error?.field;
    this.orderId = error?.order_id;
  }
}

function headers(extra = {}) {
  const out = { Accept: "application/json", ...extra };
  const me = session();
  if (me) out.Authorization = `Bearer ${me.token}`;
  return out;
}

/** `await call("POST", "/orders", body, { "Idempotency-Key": key })`: the JSON answer (with its
 *  `status` kept as `answer.httpStatus` when it is not 200), or an ApiError. */
export async function call(method, path, body, extra = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? extra : { "Content-Type": "application/json", ...extra }),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { code: "offline", message: "Courier cannot be reached" });
  }
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new Event("courier:unauthorized"));
    throw new ApiError(response.status, json?.error);
  }
  if (json && typeof json === "object") json.httpStatus = response.status;
  return json;
}

export const get = (path) => call("GET", path);
export const post = (path, body, extra) => call("POST", path, body ?? {}, extra);

/**
 * Follows a live stream: `onData(data)` for each `event` of that name. It opens the stream again
 * after a dropped connection (waiting longer each time, up to 10 s) until the server says `end`,
 * sends `error` (then `onError(apiError)`), or `close()` is called (leaving the page).
 */
export function follow(path, event, onData, { onError, onEnd, onState } = {}) {
  const controller = new AbortController();
  let closed = false;
  let backoff = 500;
  const stop = () => { closed = true; controller.abort(); };

  (async () => {
    while (!closed) {
      try {
        const response = await fetch(path, { headers: headers({ Accept: "text/event-stream" }), signal: controller.signal });
        if (!response.ok) {
          let body = null;
          try { body = await response.json(); } catch { body = null; }
          closed = true;
          onError?.(new ApiError(response.status, body?.error));
          return;
        }
        onState?.("live");
        backoff = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const message = parse(block);
            if (!message) continue;
            if (message.event === event) onData(JSON.parse(message.data));
            else if (message.event === "end") { closed = true; onEnd?.(); return; }
            else if (message.event === "error") {
              closed = true;
              const error = JSON.parse(message.data);
              onError?.(new ApiError(error.status, { code: error.code, message: error.code }));
              return;
            }
          }
        }
      } catch (err) {
        if (closed) return;
      }
      if (closed) return;
      onState?.("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, backoff));
      backoff = Math.min(backoff * 2, 10_000);
    }
  })();
  return { close: stop };
}

function parse(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue; // a keep-alive comment
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event = value;
    else if (name === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

/** A refusal in the reader's language, with the server's own words. */
export function explain(err) {
  if (!(err instanceof ApiError)) return t("error.unknown");
  const known = t(`error.${err.code}`, {}, null);
  return known ? `${known} (${err.message})` : err.message;
}
