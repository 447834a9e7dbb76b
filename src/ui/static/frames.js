// Stack frames on the crash page: the service's own frames open, runtime and standard-library
// runs folded.
import { h, where } from "./dom.js";

/** @typedef {import("./types.js").Frame} Frame */
/** @typedef {import("./types.js").Variable} Variable */
/** @typedef {import("./types.js").Location} Location */

/**
 * Whether a frame is shown open: the service's own code and C code, as the report classified them
 * (src/analyze/frames.ts); the one place the dashboard decides it. Reports written before frames
 * carried a class fall back to `runtime`.
 * @param {Frame} f
 */
export function isAppFrame(f) {
  const cls = f.class ?? (f.runtime ? "runtime" : "user");
  return cls === "user" || cls === "c";
}

/**
 * @param {string} title
 * @param {Variable[] | undefined} list
 */
export function vars(title, list) {
  if (!list?.length) return null;
  return [
    h("p", { class: "muted" }, title),
    h(
      "dl",
      { class: "vars" },
      list.map((v) => [
        h("dt", null, v.name, v.type ? h("span", { class: "muted" }, ` ${v.type}`) : null),
        h(
          "dd",
          { class: v.unreadable ? "muted" : undefined },
          // Every nil field is not called out (the report's `nil` names the one that crashed).
          v.redacted ? "<redacted>" : v.unreadable ? `<unreadable: ${v.unreadable}>` : v.value,
        ),
      ]),
    ),
  ];
}

/** @param {Frame | null | undefined | false} frame */
export function sourceBlock(frame) {
  const source = frame ? frame.source : undefined;
  if (!frame || !source) return null;
  return h(
    "pre",
    { class: "src", "aria-label": `source of ${frame.file}` },
    source.lines.map((text, i) => {
      const n = source.startLine + i;
      return h(
        "span",
        { class: n === frame.line ? "hit" : undefined },
        h("span", { class: "ln" }, String(n)),
        text,
      );
    }),
  );
}

/**
 * @param {Frame} f
 * @param {Location | null} culprit
 * @param {number} [index] the frame's number, as the report and `eval --frame` count
 */
export function frameItem(f, culprit, index) {
  const isCulprit =
    culprit && f.function === culprit.function && f.file === culprit.file && f.line === culprit.line;
  const app = isAppFrame(f);
  return h(
    "li",
    { class: app ? "app" : "lib" },
    h(
      "details",
      { open: app, "data-function": f.function },
      h(
        "summary",
        null,
        index !== undefined ? h("span", { class: "num muted" }, `#${index} `) : null,
        h("span", { class: "fn" }, f.function),
        h("span", { class: "muted" }, ` ${where(f)}`),
        isCulprit ? h("span", { class: "culpritmark" }, "← culprit") : null,
      ),
      h(
        "div",
        { class: "frame-body" },
        vars("Arguments", f.args),
        vars("Locals", f.locals),
        f.rawArgs ? h("p", { class: "mono muted" }, `raw args: ${f.rawArgs}`) : null,
        f.pc ? h("p", { class: "mono muted" }, `pc ${f.pc}`) : null,
        sourceBlock(f),
        !f.args?.length && !f.locals?.length && !f.source && !f.pc
          ? h("p", { class: "muted" }, "No variables recorded for this frame.")
          : null,
      ),
    ),
  );
}

/**
 * In-app frames open; runs of runtime and standard-library frames folded into one disclosure.
 * @param {Frame[]} frames
 * @param {Location | null} culprit
 * @param {string | null} [id]
 */
export function stack(frames, culprit, id = "stack") {
  /** @type {HTMLLIElement[]} */
  const out = [];
  /** @type {[Frame, number][]} */
  let run = [];
  const flush = () => {
    if (!run.length) return;
    const n = run.length;
    const first = run[0]?.[1] ?? 0;
    out.push(
      h(
        "li",
        { class: "folded-run" },
        h(
          "details",
          { class: "folded" },
          h(
            "summary",
            null,
            `${n === 1 ? `#${first}` : `#${first}-#${first + n - 1}`} ${n} runtime / standard-library frame${n === 1 ? "" : "s"}`,
          ),
          h(
            "ol",
            { class: "stack" },
            run.map(([f, i]) => frameItem(f, culprit, i)),
          ),
        ),
      ),
    );
    run = [];
  };
  frames.forEach((f, i) => {
    if (isAppFrame(f)) {
      flush();
      out.push(frameItem(f, culprit, i));
    } else run.push([f, i]);
  });
  flush();
  return h("ol", id ? { class: "stack", id } : { class: "stack" }, out);
}
