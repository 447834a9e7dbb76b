/**
 * --redact: cores hold secrets (a local `secret="tok-12345"` comes back from the dlvcrash
 * fixture's core: test/delve.test.ts),
 * and reports get pasted into issues. Values of locals and args whose names or types look secret
 * are masked in every output format, because every format renders the same Report.
 */
import type { Frame, Report, Variable } from "../contracts/report.js";

const SECRET =
  /(token|passw(or)?d|passwd|secret|api[_-]?key|apikey|private[_-]?key|^key$|authorization|^auth|credential|cookie|session[_-]?id)/i;

export const looksSecret = (v: Pick<Variable, "name" | "type">) => SECRET.test(v.name) || SECRET.test(v.type);

const mask = (v: Variable): Variable => (looksSecret(v) ? { ...v, value: "[redacted]", redacted: true } : v);

const maskFrame = (f: Frame): Frame => ({ ...f, args: f.args.map(mask), locals: f.locals.map(mask) });

export function redactReport(r: Report): Report {
  return r.goroutine ? { ...r, goroutine: { ...r.goroutine, frames: r.goroutine.frames.map(maskFrame) } } : r;
}
