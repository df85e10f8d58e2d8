// Building the page: elements from data (never from HTML strings, so nothing a server or a user
// wrote can run as script), money and times in the reader's language, and spoken announcements.
import { lang } from "./i18n.js";

/** `h("button", { class: "primary", onclick: go }, "Pay")`: an element with its attributes,
 *  handlers (`on...`) and children (strings, elements, arrays; null and false are skipped). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces what `el` holds. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An amount in minor units (KRW has none below the won). */
export function money(minor, currency = "KRW") {
  return new Intl.NumberFormat(lang() === "ko" ? "ko-KR" : "en-US", {
    style: "currency",
    currency,
  }).format(minor);
}

export function time(iso) {
  return new Intl.DateTimeFormat(lang() === "ko" ? "ko-KR" : "en-GB", {
    dateStyle: "short",
    timeStyle: "medium",
  }).format(new Date(iso));
}

/** Tells screen-reader users what just changed on the page (an `aria-live` region). */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A new text node, so the same words twice are read twice.
  requestAnimationFrame(() => { region.textContent = text; });
}

/** A message under a form or list: `kind` is `error`, `ok` or `info`. */
export function notice(kind, text) {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** A labelled form field: the label is tied to its input for screen readers and clicks. */
let fieldCount = 0;
export function field(label, input, hint) {
  const id = input.id || `f${++fieldCount}`;
  input.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

/** Short ids for people: the first block of a UUID. */
export function shortId(uuid) {
  return uuid.split("-")[0];
}
