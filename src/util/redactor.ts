/**
 * The one redaction policy (--redact) for everything hotdump writes or prints about a crash: the
 * bundle's text files, meta.json, the journal, report.json and every rendering of it, --json, the
 * summary lines and the dashboard. The child's own live output is the child's and passes through
 * untouched. Cores and binaries cannot be redacted (they are the process's memory and code).
 *
 * What is masked, wherever it appears in a string:
 * - the password of a URL's userinfo (`postgres://orders:hunter2@db/orders`);
 * - the value of a key=value, `key: value` or JSON pair whose key looks secret (names.ts words);
 * - Authorization values (`Bearer …`, `Basic …`);
 * - well-known key formats: AWS access key ids, PEM private keys, JWTs;
 * - every value of the child's environment variables whose names look secret (DB_PASSWORD,
 *   STRIPE_API_KEY, …), whatever surrounds it: printed by the service, in a local, in argv.
 * Variables (locals, args) whose own name or type looks secret are masked whole by the analysers'
 * shared redactReport (analyze/redactReport.ts), so the Delve, gdb and traceback paths agree.
 */
import type { Logger } from "./log.js";
import { isSecretName } from "./secretNames.js";

export const REDACTED = "[redacted]";

/** Env values shorter than this are not hunted for: "1" or "true" would mask half a report. */
const MIN_ENV_SECRET = 6;

const KEY_WORD =
  "(?:passw(?:or)?d|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|privkey|credentials?|creds|auth(?:orization)?|session(?:[_-]?id)?|cookie|bearer|dsn)";
const KEY = `[A-Za-z0-9_.-]*${KEY_WORD}[A-Za-z0-9_-]*`;
const VALUE = `(?:(?:Bearer|Basic|Token)\\s+)?(?:\\[redacted\\]|"(?:[^"\\\\]|\\\\.)*"|'[^']*'|[^\\s,;&"'}\\])]+)`;

interface Rule {
  re: RegExp;
  to: string | ((...m: string[]) => string);
}

const RULES: Rule[] = [
  // PEM first: its body would otherwise be cut into pieces by the rules below.
  {
    re: /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|(?=["'`])|$)/g,
    to: `${REDACTED} private key`,
  },
  { re: /\beyJ[A-Za-z0-9_-]{6,}\.eyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*/g, to: `${REDACTED} JWT` },
  {
    re: /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}\b/g,
    to: `${REDACTED} AWS key`,
  },
  // scheme://user:password@host
  {
    re: /\b([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/:@"'<>]*):([^\s/@"'<>]+)@/g,
    to: (_m, head) => `${head}:${REDACTED}@`,
  },
  { re: /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]{8,}=*/g, to: (_m, scheme) => `${scheme} ${REDACTED}` },
  // key=value (argv, env, logfmt, query strings): any value.
  {
    re: new RegExp(`(?<![A-Za-z0-9_])(${KEY})(=)(${VALUE})`, "gi"),
    to: (m, k, sep, v) => (isSecretKey(k) ? `${k}${sep}${keepQuotes(v)}` : m),
  },
  // "key": "value" (JSON) and key: value (YAML, Go's %+v, Delve's struct fields). A colon must be
  // followed by a space or a quote, so `auth.go:42` keeps its line number.
  {
    re: new RegExp(`(?<![A-Za-z0-9_])("?)(${KEY})\\1(\\s*:\\s+|:(?=["']))(${VALUE})`, "gi"),
    to: (m, q, k, sep, v) => (isSecretKey(k) ? `${q}${k}${q}${sep}${keepQuotes(v)}` : m),
  },
];

/** The regexps find candidates; the words decide (`author=` is not `auth=`). */
const isSecretKey = (k: string) => isSecretName(k.replace(/^[-.]+/, "")) || /session[_-]?id$/i.test(k);

function keepQuotes(v: string): string {
  const q = v[0];
  if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) return `${q}${REDACTED}${q}`;
  if (/^(Bearer|Basic|Token)\s/i.test(v)) return `${v.split(/\s/)[0]} ${REDACTED}`;
  return v === REDACTED || v.startsWith(`${REDACTED}`) ? v : REDACTED;
}

export interface Redactor {
  readonly active: boolean;
  text(s: string): string;
  /** A copy of a JSON-shaped value with text() applied to every string in it. */
  deep<T>(v: T): T;
}

const identity: Redactor = { active: false, text: (s) => s, deep: (v) => v };

/** The values of the secret-looking variables of an environment, longest first. */
export function secretEnvValues(env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(env))
    if (v !== undefined && v.length >= MIN_ENV_SECRET && isSecretName(k)) out.add(v);
  return [...out].sort((a, b) => b.length - a.length);
}

/**
 * The redactor of one run: off unless `enabled`; `secrets` are literal values to mask wherever
 * they appear (secretEnvValues of the child's environment).
 */
export function createRedactor(enabled: boolean, secrets: readonly string[] = []): Redactor {
  if (!enabled) return identity;
  const literals = secrets.filter((s) => s.length >= MIN_ENV_SECRET);
  const text = (s: string): string => {
    if (!s) return s;
    let out = s;
    for (const lit of literals) if (out.includes(lit)) out = out.split(lit).join(REDACTED);
    for (const r of RULES) out = out.replace(r.re, r.to as (substring: string, ...args: string[]) => string);
    return out;
  };
  const deep = <T>(v: T): T => walk(v, text) as T;
  return { active: true, text, deep };
}

function walk(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === "string") return f(v);
  if (Array.isArray(v)) return v.map((x) => walk(x, f));
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, f);
    return out;
  }
  return v;
}

/**
 * What AnalyzeOptions and capture carry for --redact: the flag and the values of the child's
 * secret-looking environment variables.
 */
export interface RedactOptions {
  redact: boolean;
  secretValues?: string[];
}

export const redactOptions = (redact: boolean | undefined, env: NodeJS.ProcessEnv): RedactOptions =>
  redact ? { redact: true, secretValues: secretEnvValues(env) } : { redact: false };

export const redactorFor = (o: Partial<RedactOptions> | undefined): Redactor =>
  createRedactor(Boolean(o?.redact), o?.secretValues ?? []);

/** hotdump's own lines (info, warnings, errors) redacted; a child's lines (`line`) are the child's. */
export function redactingLogger(logger: Logger, r: Redactor): Logger {
  if (!r.active) return logger;
  return {
    get level() {
      return logger.level;
    },
    set level(l) {
      logger.level = l;
    },
    debug: (m) => logger.debug(r.text(m)),
    info: (m) => logger.info(r.text(m)),
    warn: (m) => logger.warn(r.text(m)),
    error: (m) => logger.error(r.text(m)),
    line: (source, text, stream) => logger.line(source, text, stream),
  };
}
