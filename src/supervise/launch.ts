/**
 * Starting a Go program under crash capture. Node cannot call setrlimit, so the child starts
 * through `sh -c`, which raises its soft RLIMIT_CORE to the hard limit (Debian's default soft
 * limit is 0, `ulimit -c` in a login shell: a child gets no core otherwise) and then `exec`s the program, keeping
 * the pid. The same prelude exports LISTEN_PID=$$ for socket activation, since go-systemd's
 * activation.Listeners() ignores inherited sockets whose LISTEN_PID is not its own pid.
 */
import type { StdioOptions } from "node:child_process";
import { type Child, startChild, withParentDeathSignal } from "../util/child.js";

export interface LaunchOptions {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Own process group, so stopping kills helpers the service started too (dev, run). */
  detached?: boolean;
  /**
   * Die with hotdump, even when hotdump is SIGKILLed: util-linux `setpriv --pdeathsig KILL` sets
   * PR_SET_PDEATHSIG, which survives the execs that follow (it is cleared only for set-user-ID
   * programs), so the kernel kills the service when the Node thread that started it dies.
   */
  dieWithParent?: boolean;
  /**
   * The signal for dieWithParent (default KILL). TERM where a dump must survive hotdump's death:
   * a SIGKILL cuts a core dump short (the kernel stops at a pending fatal signal), while other
   * signals are not delivered to a process that is dumping.
   */
  deathSignal?: "KILL" | "TERM";
  /** Number of inherited listening sockets at fd 3, 4, ... (socket activation). */
  listenFds?: number;
  stdin?: "inherit" | "ignore";
  extraFds?: number[];
  tailBytes?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Words before the service's own start (capture's tracer: launchCapture.ts), after any setpriv. */
  wrap?: readonly string[];
}

export const CORE_PRELUDE = 'ulimit -S -c "$(ulimit -H -c)" 2>/dev/null';

/** The environment a Go program gets for crash capture: GOTRACEBACK=crash unless the user chose. */
export function captureEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GOTRACEBACK: env.GOTRACEBACK ?? "crash" };
}

export function launchService(o: LaunchOptions): Child {
  const prelude = [CORE_PRELUDE];
  if (o.listenFds) prelude.push("LISTEN_PID=$$; export LISTEN_PID");
  const script = `${prelude.join("; ")}; exec "$0" "$@"`;
  const stdio: StdioOptions = [o.stdin ?? "ignore", "pipe", "pipe", ...(o.extraFds ?? [])];
  const sh = [...(o.wrap ?? []), "/bin/sh", "-c", script, o.command, ...o.args];
  const argv = o.dieWithParent ? withParentDeathSignal(sh, o.deathSignal ?? "KILL") : sh;
  return startChild(argv[0]!, argv.slice(1), {
    cwd: o.cwd,
    env: captureEnv(o.env),
    detached: o.detached ?? false,
    stdio,
    ...(o.tailBytes !== undefined ? { tailBytes: o.tailBytes } : {}),
    ...(o.onStdout ? { onStdout: o.onStdout } : {}),
    ...(o.onStderr ? { onStderr: o.onStderr } : {}),
  });
}
