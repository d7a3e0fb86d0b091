// Building DOM without innerHTML: everything from the API goes in as text.

/**
 * h("button", {class: "x", dataset: {kind: "improved"}, onclick: fn}, "text", child)
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "style") Object.assign(el.style, value);
    else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A short form of a UUID for tight places (the full id goes in a title). */
export function shortId(id) {
  return String(id).slice(0, 8);
}

/** JSON for people: pretty, or a dash for nothing. */
export function pretty(value) {
  if (value === undefined || value === null) return "—";
  return JSON.stringify(value, null, 2);
}

/** One line of JSON, cut to `max` characters. */
export function preview(value, max = 90) {
  if (value === undefined || value === null) return "";
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const number = new Intl.NumberFormat("en", { maximumSignificantDigits: 3 });

/** A number with an explicit sign, as deltas read best. */
export function signed(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (value === 0) return "0";
  return `${value > 0 ? "+" : "−"}${number.format(Math.abs(value))}`;
}

export function plain(value) {
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return number.format(value);
}

export function pValue(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (value < 0.001) return "< 0.001";
  return value.toFixed(3);
}
