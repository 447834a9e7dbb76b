/**
 * A readiness probe as the user writes it (--probe, [supervise] probe) and its timing, parsed and
 * checked before anything starts; supervise/probe.ts runs it.
 */
import { isIP } from "node:net";
import { HotdumpError } from "../errors.js";
import { parseDuration } from "./duration.js";

export type ProbeSpec =
  | { kind: "http"; url: string }
  | { kind: "tcp"; host: string; port: string }
  | { kind: "exec"; command: string }
  | { kind: "log"; pattern: RegExp }
  | { kind: "alive"; ms: number }
  /** systemd's notify protocol: READY=1 on $NOTIFY_SOCKET (notify.ts). */
  | { kind: "notify" };

export interface ProbeTiming {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

export type ProbeMode = "dev" | "run";

/**
 * dev polls every 0.1 s and trusts one pass: the reload loop is what the developer waits on.
 * run polls every 0.5 s and also switches on the first pass (issue 20): a service that answers
 * once and then falls over is caught by the bake after the switch (60 s by default), which rolls
 * back to the last good generation, instead of by a second of extra passes before it.
 */
export function probeTimingDefaults(mode: ProbeMode): ProbeTiming {
  return mode === "dev"
    ? {
        initialDelaySeconds: 0,
        periodSeconds: 0.1,
        timeoutSeconds: 1,
        successThreshold: 1,
        failureThreshold: 3,
      }
    : {
        initialDelaySeconds: 0,
        periodSeconds: 0.5,
        timeoutSeconds: 1,
        successThreshold: 1,
        failureThreshold: 3,
      };
}

const PROBE_FORMS =
  "http://HOST:{port}/PATH, tcp:HOST:PORT, exec:COMMAND, log:REGEX, alive:DURATION or notify";

export const probeSpecError = (spec: string, why: string) =>
  new HotdumpError("usage", "E_PROBE_SPEC", `--probe "${spec}": ${why}; use ${PROBE_FORMS}`);

export function parseProbeSpec(spec: string): ProbeSpec {
  const s = spec.trim();
  if (s === "") throw probeSpecError(spec, "empty probe");
  const lower = s.toLowerCase();
  if (lower.startsWith("https://"))
    throw probeSpecError(
      spec,
      "https is not supported (probe the plain-HTTP port, or use exec:curl -fsk URL)",
    );
  if (lower.startsWith("http://")) {
    let u: URL;
    try {
      u = new URL(s.replaceAll("{port}", "1"));
    } catch {
      throw probeSpecError(spec, "not a valid URL");
    }
    if (u.hostname === "") throw probeSpecError(spec, "the URL has no host");
    return { kind: "http", url: s };
  }
  if (s === "notify") return { kind: "notify" };
  const colon = s.indexOf(":");
  const kind = colon < 0 ? s : s.slice(0, colon);
  const arg = colon < 0 ? "" : s.slice(colon + 1);
  switch (kind) {
    case "tcp": {
      const body = arg.replace(/^\/\//, "");
      const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5}|\{port\})$/.exec(body);
      if (!m) throw probeSpecError(spec, "expected tcp:HOST:PORT (PORT may be {port})");
      const host = m[1] ?? (m[2] || "127.0.0.1");
      if (m[1] !== undefined && isIP(host) !== 6)
        throw probeSpecError(spec, `"${host}" is not an IPv6 address`);
      const port = m[3] as string;
      if (port !== "{port}" && (Number(port) < 1 || Number(port) > 65535))
        throw probeSpecError(spec, `port ${port} is out of range 1-65535`);
      return { kind: "tcp", host, port };
    }
    case "exec":
      if (arg.trim() === "") throw probeSpecError(spec, "exec: needs a command");
      return { kind: "exec", command: arg };
    case "log": {
      if (arg === "") throw probeSpecError(spec, "log: needs a regular expression");
      try {
        return { kind: "log", pattern: new RegExp(arg) };
      } catch (e) {
        throw probeSpecError(spec, `bad regular expression (${(e as Error).message})`);
      }
    }
    case "alive": {
      const ms = parseDuration(arg === "" ? "1s" : arg);
      if (ms instanceof Error) throw probeSpecError(spec, ms.message);
      return { kind: "alive", ms };
    }
    default:
      throw probeSpecError(spec, `unknown probe kind "${kind}"`);
  }
}
