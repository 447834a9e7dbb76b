/**
 * Retrieving a core from systemd-coredump through coredumpctl.
 *
 * mirrors systemd src/coredump/coredumpctl.c (v252, Debian 12; same columns in v257): `list` builds
 * a table "time pid uid gid sig corefile exe size"; with --json=short it prints one JSON array of
 * objects with those keys: time = realtime microseconds, sig = number, corefile = "present" |
 * "missing" | "inaccessible" | "error" | "journal" | "truncated" | "none" (Storage=none or the core
 * was over ProcessSizeMax/ExternalSizeMax), size = bytes or null. With no match it prints
 * "No coredumps found." on stderr and exits non-zero.
 * The helper runs after the process is gone (the kernel starts it and the dying task only waits
 * for it to read stdin when core_pipe_limit > 0), and then journald must index the entry, so the
 * entry appears with a delay: poll.
 */
import { runCapture } from "../util/child.js";

export interface CoredumpEntry {
  /** ms since the epoch. */
  time: number;
  pid: number;
  uid: number;
  gid: number;
  sig: number | string;
  corefile: string | null;
  exe: string | null;
  size: number | null;
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));

/** Parse `coredumpctl --json=short list` output; tolerate a string `sig` (newer versions may print names). */
export function parseCoredumpctlList(json: string): CoredumpEntry[] {
  const text = json.trim();
  if (text === "") return [];
  const data: unknown = JSON.parse(text);
  const rows = Array.isArray(data) ? data : [data];
  return rows
    .filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null)
    .map((r) => ({
      time: Math.floor(num(r.time) / 1000),
      pid: num(r.pid),
      uid: num(r.uid),
      gid: num(r.gid),
      sig: typeof r.sig === "string" ? r.sig : num(r.sig),
      corefile: typeof r.corefile === "string" ? r.corefile : null,
      exe: typeof r.exe === "string" ? r.exe : null,
      size: r.size === null || r.size === undefined ? null : num(r.size),
    }));
}

export type CoredumpctlOutcome =
  | { ok: true; path: string; entry: CoredumpEntry; truncated: boolean; waitedMs: number }
  | {
      ok: false;
      code: "coredumpctl-missing" | "coredumpctl-none" | "coredumpctl-timeout" | "coredumpctl-failed";
      message: string;
      entry?: CoredumpEntry;
    };

interface CoredumpctlOptions {
  pid: number;
  /** ms since the epoch: only entries after this (the child's start). */
  since: number;
  /** Where to write the core. */
  dest: string;
  timeoutMs?: number;
  pollMs?: number;
  /** The coredumpctl binary (tests pass a fake); default "coredumpctl" from PATH. */
  bin?: string;
}

export async function retrieveFromCoredumpctl(o: CoredumpctlOptions): Promise<CoredumpctlOutcome> {
  const bin = o.bin ?? "coredumpctl";
  const t0 = Date.now();
  const deadline = t0 + (o.timeoutMs ?? 10_000);
  // systemd.time(7): "@SECONDS" is a UNIX time; one second earlier absorbs the truncation.
  const since = `@${Math.floor(o.since / 1000) - 1}`;
  const base = ["--no-pager", "--no-legend", `--since=${since}`];
  for (;;) {
    const r = await runCapture(bin, [...base, "--json=short", "list", String(o.pid)], { timeoutMs: 10_000 });
    if (r.end.error?.code === "ENOENT")
      return {
        ok: false,
        code: "coredumpctl-missing",
        message: `core_pattern pipes cores to systemd-coredump but coredumpctl is not installed: apt-get install systemd-coredump, or set core_pattern to a path (hotdump doctor --fix)`,
      };
    let entry: CoredumpEntry | undefined;
    if (r.end.exitCode === 0) {
      try {
        entry = parseCoredumpctlList(r.stdout)
          .filter((e) => e.pid === o.pid)
          .sort((a, b) => b.time - a.time)[0];
      } catch (e) {
        return {
          ok: false,
          code: "coredumpctl-failed",
          message: `unexpected coredumpctl output: ${String(e)}`,
        };
      }
    }
    if (entry) {
      if (entry.corefile === "none" || entry.corefile === "missing" || entry.corefile === "inaccessible")
        return {
          ok: false,
          code: "coredumpctl-none",
          entry,
          message: `systemd-coredump recorded the crash of pid ${o.pid} but its core is ${entry.corefile}${
            entry.corefile === "none"
              ? " (Storage=none, or the core exceeded ProcessSizeMax/ExternalSizeMax in /etc/systemd/coredump.conf)"
              : ""
          }`,
        };
      const d = await runCapture(bin, [...base, "dump", String(o.pid), "-o", o.dest], { timeoutMs: 120_000 });
      if (d.end.exitCode !== 0)
        return {
          ok: false,
          code: "coredumpctl-failed",
          entry,
          message: `coredumpctl dump ${o.pid} failed: ${d.stderr.trim().split("\n").pop() ?? ""}`,
        };
      return {
        ok: true,
        path: o.dest,
        entry,
        truncated: entry.corefile === "truncated",
        waitedMs: Date.now() - t0,
      };
    }
    if (Date.now() >= deadline)
      return {
        ok: false,
        code: "coredumpctl-timeout",
        message: `systemd-coredump did not record pid ${o.pid} within ${Math.round((Date.now() - t0) / 1000)} s (is systemd-coredump.socket running? \`coredumpctl list ${o.pid}\`)`,
      };
    await new Promise((res) => setTimeout(res, o.pollMs ?? 250));
  }
}
