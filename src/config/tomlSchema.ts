/**
 * The shape of hotdump.toml as written (snake_case keys, durations as Go-style strings). Every
 * table is strict so a typo is an error with a suggestion rather than a silently ignored key.
 * Value checks that can fail (durations, signals, probe specs) live here so their issues carry the
 * key path and so the line they came from.
 */
import { constants as osConstants } from "node:os";
import { z } from "zod";
import { parseDuration, parseSize } from "./duration.js";

const MAX_DURATION_MS = 24 * 3_600_000;

const duration = (opts: { allowZero?: boolean } = {}) =>
  z.union([z.string(), z.number()]).superRefine((v, ctx) => {
    if (typeof v === "number") {
      ctx.addIssue({
        code: "custom",
        message: `durations are strings with a unit, e.g. "${v}ms" or "${v}s"`,
      });
      return;
    }
    const ms = parseDuration(v);
    if (ms instanceof Error) ctx.addIssue({ code: "custom", message: ms.message });
    else if (ms > MAX_DURATION_MS) ctx.addIssue({ code: "custom", message: `duration "${v}" is over 24h` });
    else if (ms === 0 && !opts.allowZero)
      ctx.addIssue({ code: "custom", message: "duration must be more than 0" });
  });

const size = z.union([z.string(), z.number()]).superRefine((v, ctx) => {
  const b = parseSize(v);
  if (b instanceof Error) ctx.addIssue({ code: "custom", message: b.message });
});

const envMap = z.record(
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "environment variable names are letters, digits and _" }),
  z.string({ error: 'environment values are strings: quote them (PORT = "8080")' }),
);

const strings = z.array(z.string());

export function normalizeSignal(name: string): NodeJS.Signals | undefined {
  const up = name.toUpperCase();
  const full = up.startsWith("SIG") ? up : `SIG${up}`;
  return full in osConstants.signals ? (full as NodeJS.Signals) : undefined;
}

/** Listen address: ":8080", "127.0.0.1:8080", "[::1]:8080", "localhost:0". */
export function checkListen(addr: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]*):(\d{1,5})$/.exec(addr);
  if (!m) return `listen address "${addr}" is not HOST:PORT (e.g. ":8080" or "127.0.0.1:8080")`;
  if (Number(m[2]) > 65535) return `port ${m[2]} is over 65535`;
  return undefined;
}

/** Probe spec syntax of the supervisor: http://HOST:{port}/PATH, tcp:HOST:PORT, exec:CMD, log:REGEX, alive:DURATION. */
function checkProbe(spec: string): string | undefined {
  if (/^https?:\/\//.test(spec) || spec === "notify") return undefined;
  const m = /^(tcp|exec|log|alive):(.*)$/s.exec(spec);
  if (!m)
    return `probe "${spec}" is not one of http://HOST:{port}/PATH, tcp:HOST:PORT, exec:COMMAND, log:REGEX, alive:DURATION, notify`;
  const [, kind, rest = ""] = m;
  if (rest === "") return `probe "${spec}" has nothing after "${kind}:"`;
  if (kind === "log") {
    try {
      new RegExp(rest);
    } catch (e) {
      return `probe regex is invalid: ${(e as Error).message}`;
    }
  }
  if (kind === "alive") {
    const d = parseDuration(rest);
    if (d instanceof Error) return d.message;
  }
  return undefined;
}

const withCheck = (check: (s: string) => string | undefined) =>
  z.string().superRefine((v, ctx) => {
    const msg = check(v);
    if (msg) ctx.addIssue({ code: "custom", message: msg });
  });

const buildSchema = z.strictObject({
  package: z.string().min(1).optional(),
  flags: strings.optional(),
  gcflags: z.string().optional(),
  ldflags: z.string().optional(),
  tags: strings.optional(),
  env: envMap.optional(),
  go: z.string().min(1).optional(),
});

const watchSchema = z.strictObject({
  include_ext: strings.optional(),
  exclude_dir: strings.optional(),
  include: strings.optional(),
  exclude: strings.optional(),
  exclude_regex: z
    .array(
      z.string().superRefine((v, ctx) => {
        try {
          new RegExp(v);
        } catch (e) {
          ctx.addIssue({ code: "custom", message: `invalid regex: ${(e as Error).message}` });
        }
      }),
    )
    .optional(),
  gitignore: z.boolean().optional(),
  debounce: duration({ allowZero: true }).optional(),
  poll: z.boolean().optional(),
  poll_interval: duration().optional(),
  follow_symlinks: z.boolean().optional(),
});

/** Signals that leave a process running: a stop_signal of SIGSTOP made every stop wait out stop_timeout. */
const CANNOT_STOP = new Set([
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGCONT",
  "SIGCHLD",
  "SIGWINCH",
  "SIGURG",
]);

const runSchema = z.strictObject({
  command: strings.optional(),
  args: strings.optional(),
  env: envMap.optional(),
  cwd: z.string().optional(),
  stop_signal: z
    .string()
    .superRefine((v, ctx) => {
      const sig = normalizeSignal(v);
      if (!sig) ctx.addIssue({ code: "custom", message: `unknown signal "${v}" (e.g. "SIGTERM", "SIGINT")` });
      else if (CANNOT_STOP.has(sig))
        ctx.addIssue({
          code: "custom",
          message: `signal ${sig} does not end a process (it ${sig === "SIGSTOP" || sig === "SIGTSTP" || sig === "SIGTTIN" || sig === "SIGTTOU" ? "pauses it" : "is ignored by default, or used by the Go runtime"}): use SIGTERM, SIGINT, SIGQUIT or SIGHUP`,
        });
    })
    .optional(),
  stop_timeout: duration().optional(),
});

const superviseSchema = z.strictObject({
  listen: z.array(withCheck(checkListen)).optional(),
  probe: withCheck(checkProbe).optional(),
  ready_timeout: duration().optional(),
  drain: duration({ allowZero: true }).optional(),
  /** Probation after a switch: a crash or a liveness failure within it rolls back ("0s": off). */
  bake: duration({ allowZero: true }).optional(),
  bake_hold_old: z.boolean().optional(),
  /** systemd's WATCHDOG_USEC: the service sends WATCHDOG=1 at least this often. */
  watchdog: duration({ allowZero: true }).optional(),
  /** Kubernetes' livenessProbe: the probe and its timing (defaults 10s, 1s, 3). */
  liveness: z
    .strictObject({
      probe: withCheck(checkLivenessProbe),
      initial_delay: duration({ allowZero: true }).optional(),
      period: duration().optional(),
      timeout: duration().optional(),
      failure_threshold: z.number().int().min(1).optional(),
    })
    .optional(),
});

/** Liveness repeats a probe while the generation serves: an event kind (log, alive) cannot. */
function checkLivenessProbe(spec: string): string | undefined {
  if (/^(log|alive):/.test(spec) || spec === "notify")
    return `liveness probe "${spec}": use http://, tcp: or exec: (log and alive say when a generation starts, not that it still answers; for notify's watchdog set WATCHDOG_USEC through [run] env or the service's own sd_notify)`;
  return checkProbe(spec);
}

const storeSchema = z.strictObject({
  dir: z.string().min(1).optional(),
  max_use: size.optional(),
  keep_free: size.optional(),
});

/** [fleet]: where this host's crashes go (environment variables win, see src/fleet/settings.ts). */
const fleetSchema = z.strictObject({
  s3: z.string().regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, {
    error: 's3 is "s3://bucket" or "s3://bucket/prefix"',
  }),
  endpoint: z.url().optional(),
  region: z.string().min(1).optional(),
  pg: z.string().regex(/^postgres(ql)?:\/\//, { error: 'pg is a "postgres://..." connection URL' }),
  host: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  root: z.string().optional(),
  build: buildSchema.optional(),
  watch: watchSchema.optional(),
  run: runSchema.optional(),
  supervise: superviseSchema.optional(),
  store: storeSchema.optional(),
  fleet: fleetSchema.optional(),
});

/** hotdump.toml as written, after validation. */
export type RawConfig = z.infer<typeof configSchema>;

/** The known keys of the table at `path` ([] for the top level), for "did you mean". */
export function knownKeys(path: readonly PropertyKey[]): string[] {
  let s: z.ZodType = configSchema;
  for (const seg of path) {
    while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
    if (!(s instanceof z.ZodObject)) return [];
    const next = (s.shape as Record<string, z.ZodType>)[String(seg)];
    if (!next) return [];
    s = next;
  }
  while (s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}
