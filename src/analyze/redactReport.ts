/**
 * --redact for a Report, whichever analyser made it (Delve, gdb, the traceback): cores hold
 * secrets (a local `secret="tok-12345"` comes back from the dlvcrash fixture's core:
 * test/delve.test.ts), and reports get pasted into issues. Two steps, the same on every path:
 * variables (locals, args) whose name or type looks secret are masked whole, then the text policy
 * (util/redactor.ts) runs over every string of the report (message, values, argv, warnings, ...).
 * Every format renders the same Report, so all of them agree.
 */
import type { Frame, Report, Variable } from "../contracts/index.js";
import { REDACTED, type Redactor } from "../util/redactor.js";
import { isSecretName, isSecretType } from "../util/secretNames.js";

const looksSecret = (v: Pick<Variable, "name" | "type">) => isSecretName(v.name) || isSecretType(v.type);

const mask = (v: Variable): Variable => (looksSecret(v) ? { ...v, value: REDACTED, redacted: true } : v);

const maskFrame = (f: Frame): Frame => ({ ...f, args: f.args.map(mask), locals: f.locals.map(mask) });

/** Said in every redacted report: what --redact cannot reach. */
const REDACTION_NOTE =
  "redacted (--redact): secret-looking values are masked in this report and the bundle's text files; the core and the binary cannot be redacted and still hold every secret: share neither";

export function redactReport(r: Report, redactor: Redactor): Report {
  const masked: Report = {
    ...r,
    ...(r.goroutine ? { goroutine: { ...r.goroutine, frames: r.goroutine.frames.map(maskFrame) } } : {}),
  };
  const out = redactor.deep(masked);
  if (!out.warnings.includes(REDACTION_NOTE)) out.warnings = [...out.warnings, REDACTION_NOTE];
  return out;
}
