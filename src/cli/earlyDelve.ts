/**
 * `hotdump analyze --binary B --core C` starts dlv before the command tree loads: dlv opening the
 * core (~0.3 s) is most of an analysis, and commander and the analysis's modules took another
 * 0.03-0.1 s of a loaded machine before the action could start it. main.ts calls
 * startEarlyDelve first; the analyze action takes the session when it was started on the same
 * binary and core, and closes it when the pair is refused.
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { DelveSession } from "../analyze/delve/client.js";

let early: { binary: string; core: string; session: Promise<DelveSession> } | undefined;

/** The value of `--name X` or `--name=X` in argv. */
function flag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === name) return argv[i + 1];
    if (a.startsWith(`${name}=`)) return a.slice(name.length + 1);
  }
  return undefined;
}

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/**
 * Starts dlv on argv's binary and core when argv is a plain analysis that will use Delve; anything
 * else (--crash, --no-delve, --help, a FIFO or a missing file, which the action reports) starts
 * nothing.
 */
export async function startEarlyDelve(argv: readonly string[]): Promise<void> {
  if (argv.find((a) => !a.startsWith("-")) !== "analyze") return;
  if (argv.some((a) => a === "--no-delve" || a === "--help" || a === "-h" || a.startsWith("--crash"))) return;
  const b = flag(argv, "--binary");
  const c = flag(argv, "--core");
  if (!b || !c) return;
  const binary = resolve(b);
  const core = resolve(c);
  if (!isFile(binary) || !isFile(core)) return;
  const { createDelveSession } = await import("../analyze/delve/client.js");
  const session = createDelveSession({ binary, core });
  session.catch(() => undefined);
  early = { binary, core, session };
}

/** The session started early on this binary and core, once (the caller closes it). */
export function takeEarlyDelve(binary: string, core: string): Promise<DelveSession> | undefined {
  const e = early;
  if (!e || e.binary !== binary || e.core !== core) return undefined;
  early = undefined;
  return e.session;
}

/** Closes a session started early that nobody took (a usage error before the action). */
export async function closeEarlyDelve(): Promise<void> {
  const e = early;
  early = undefined;
  await e?.session.then(
    (s) => s.close(),
    () => undefined,
  );
}
