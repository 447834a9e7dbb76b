/**
 * RLIMIT_CORE: the kernel writes no file core when the dying process's soft limit is 0 (the
 * default on these machines), and stops writing at the soft limit. Node cannot call setrlimit, so a
 * child's limit is raised by a wrapper in the argv.
 */
import { readFileSync } from "node:fs";

export type RlimitValue = bigint | "unlimited";
export interface CoreLimit {
  soft: RlimitValue;
  hard: RlimitValue;
}

/** Parse the "Max core file size" line of /proc/PID/limits (values in bytes or "unlimited"). */
export function parseCoreLimit(limitsText: string): CoreLimit | undefined {
  const line = limitsText.split("\n").find((l) => l.startsWith("Max core file size"));
  if (!line) return undefined;
  const m = /^Max core file size\s+(\S+)\s+(\S+)/.exec(line);
  if (!m) return undefined;
  const v = (s: string): RlimitValue => (s === "unlimited" ? "unlimited" : BigInt(s));
  return { soft: v(m[1]!), hard: v(m[2]!) };
}

/** The core limit of a running process (or "self"); undefined when it is gone. Read it while the child runs. */
export function coreLimitOf(pid: number | "self"): CoreLimit | undefined {
  try {
    return parseCoreLimit(readFileSync(`/proc/${pid}/limits`, "utf8"));
  } catch {
    return undefined;
  }
}

export const isZero = (v: RlimitValue | undefined) => v === 0n;

/**
 * The argv that runs `cmd args...` with the soft core limit raised to the hard limit.
 *
 * Chosen: POSIX `sh` over util-linux `prlimit`. `sh` is everywhere (busybox and distroless-ish
 * build images included) and `exec` replaces the shell, so the pid hotdump gets from spawn() is the
 * pid of the program (the kernel's %p) and signals reach it directly. `prlimit --core=unlimited`
 * would also work but is absent from minimal images. Raising soft to hard never needs privileges;
 * when the hard limit is 0 nothing can raise it (doctor reports that as a failure).
 * `$0` is cmd and `"$@"` the args, so no argument is ever re-parsed by the shell.
 */
export function raiseCoreLimitArgv(cmd: string, args: readonly string[]): [string, ...string[]] {
  return ["sh", "-c", 'ulimit -S -c "$(ulimit -H -c)" && exec "$0" "$@"', cmd, ...args];
}
