/**
 * Starting a Go program under crash capture. Its soft RLIMIT_CORE must be at the hard limit
 * (Debian's default soft limit is 0, `ulimit -c` in a login shell: a child gets no core
 * otherwise): hotdump raises its own around the spawn (setrlimit through koffi), or, without the
 * FFI, starts it through `sh -c`, which raises it and then `exec`s the program, keeping the pid.
 * A shell also exports LISTEN_PID=$$ for socket activation, since go-systemd's
 * activation.Listeners() ignores inherited sockets whose LISTEN_PID is not its own pid.
 */
import type { StdioOptions } from "node:child_process";
import { type Child, startChild, withParentDeathSignal } from "../util/child.js";
import { withCoreLimitRaised } from "../util/native.js";

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

const CORE_PRELUDE = 'ulimit -S -c "$(ulimit -H -c)" 2>/dev/null';

/** The environment a Go program gets for crash capture: GOTRACEBACK=crash unless the user chose. */
function captureEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GOTRACEBACK: env.GOTRACEBACK ?? "crash" };
}

export function launchService(o: LaunchOptions): Child {
  const stdio: StdioOptions = [o.stdin ?? "ignore", "pipe", "pipe", ...(o.extraFds ?? [])];
  const start = (argv: string[]) =>
    startChild(argv[0]!, argv.slice(1), {
      cwd: o.cwd,
      env: captureEnv(o.env),
      detached: o.detached ?? false,
      stdio,
      ...(o.tailBytes !== undefined ? { tailBytes: o.tailBytes } : {}),
      ...(o.onStdout ? { onStdout: o.onStdout } : {}),
      ...(o.onStderr ? { onStderr: o.onStderr } : {}),
    });
  // The tracer (container capture) goes before the service; setpriv before both.
  const wrap = (argv: string[]) => {
    const full = [...(o.wrap ?? []), ...argv];
    return o.dieWithParent ? withParentDeathSignal(full, o.deathSignal ?? "KILL") : full;
  };
  const shell = (prelude: string[]) => [
    "/bin/sh",
    "-c",
    `${prelude.join("; ")}; exec "$0" "$@"`,
    o.command,
    ...o.args,
  ];
  const listenPid = o.listenFds ? ["LISTEN_PID=$$; export LISTEN_PID"] : [];
  // The core limit raised around the spawn (fork copies it): no shell in between unless
  // LISTEN_PID needs one. The shell's `$(ulimit -H -c)` forks a subshell: 15 ms of a start on a
  // loaded 2-CPU machine (bench/dev-latency.mjs).
  const direct = withCoreLimitRaised(() =>
    start(wrap(listenPid.length ? shell(listenPid) : [o.command, ...o.args])),
  );
  return direct ?? start(wrap(shell([CORE_PRELUDE, ...listenPid])));
}
