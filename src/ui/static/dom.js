// DOM and data helpers shared by the dashboard's modules. Every value from a report is
// attacker-controlled text (a panic message can hold markup), so elements are built with
// createElement/textContent only: no module of the dashboard assigns innerHTML.

/** @typedef {Record<string, unknown> | null | undefined} Attrs */
/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** @typedef {Leaf | Children} Child */
/** @typedef {Child[]} Children */

const SVG = "http://www.w3.org/2000/svg";

/**
 * createElement with attributes, event handlers (on*) and children (strings become text nodes).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} attrs
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * The same for SVG elements.
 * @param {string} tag
 * @param {Attrs} attrs
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function s(tag, attrs, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * @param {Element} el
 * @param {Attrs} attrs
 */
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
export function append(el, children) {
  for (const c of /** @type {Leaf[]} */ (/** @type {unknown[]} */ (children).flat(Infinity))) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

/**
 * GET a JSON API path of this server; a failure carries the server's one-line message.
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function api(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => null);
  if (!res.ok)
    throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { status: res.status });
  return body;
}

/** @returns {HTMLElement} */
export const main = () => /** @type {HTMLElement} */ (document.getElementById("main"));

/**
 * Replace the page's content (replaceChildren would print a null child as the text "null").
 * @param {...Child} children
 */
export const mount = (...children) => {
  main().replaceChildren();
  append(main(), children);
};

/**
 * @param {string} text
 * @param {boolean} [live]
 */
export const setStatus = (text, live = false) => {
  const el = /** @type {HTMLElement} */ (document.getElementById("status"));
  el.textContent = text;
  el.classList.toggle("live", live);
};

/** @param {string | null | undefined} ts */
export const time = (ts) => (ts ? new Date(ts).toLocaleTimeString([], { hour12: false }) : "");
/** @param {string | null | undefined} ts */
export const dateTime = (ts) => (ts ? new Date(ts).toLocaleString([], { hour12: false }) : "");
/** @param {{ file: string, line: number }} l */
export const where = (l) => (l.line > 0 ? `${l.file}:${l.line}` : l.file || "?");
/** @param {string} file */
export const short = (file) => file.split("/").slice(-2).join("/");

/**
 * A definition list of the pairs that have a value.
 * @param {[string, Child][]} pairs
 */
export function factList(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs
      .filter(([, v]) => v !== null && v !== undefined && v !== "")
      .map(([k, v]) => [h("dt", null, k), h("dd", null, v)]),
  );
}

/**
 * @param {string} id
 * @param {string} title
 * @param {...Child} children
 */
export function section(id, title, ...children) {
  return h("section", { "aria-labelledby": `${id}-h`, id }, h("h2", { id: `${id}-h` }, title), ...children);
}
