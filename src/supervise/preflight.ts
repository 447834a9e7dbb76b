/**
 * Before any new binary starts under `run`: refuse what cannot run here or could not be debugged
 * later, each with its reason. A binary whose SHA-256 differs from --sha256 (or from the
 * `BINARY.sha256` file beside it, sha256sum's format) is never started.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  statSync,
} from "node:fs";
import { basename } from "node:path";
import { type BinaryIdentity, readBinaryIdentity } from "../elf/index.js";
import { HotdumpError } from "../errors.js";
import { isPackageDirectory } from "./resolveCommand.js";

const refuse = (code: string, msg: string) => new HotdumpError("supervise", code, msg);

/**
 * What `run` starts: a Go program (checked in full before it starts), or a launcher, a `#!` script
 * or a shell (`sh -c '...'`), whose Go program is known only once it runs.
 */
export type StartKind =
  | { kind: "go"; identity: BinaryIdentity }
  | { kind: "script"; interpreter: string }
  | { kind: "shell" };

/**
 * Programs that only start others: a shell given `-c`, or `env NAME=VALUE ./svc`. Any other
 * ELF that is not Go is refused, as before (it would run, but nothing it does could be analysed).
 */
const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "env"]);

function shebang(path: string): string | null {
  const buf = Buffer.alloc(256);
  let n = 0;
  const fd = openSync(path, "r");
  try {
    n = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  const head = buf.subarray(0, n).toString("latin1");
  return head.startsWith("#!") ? head.slice(2).split("\n")[0]!.trim() : null;
}

export async function preflightStart(path: string): Promise<StartKind> {
  if (!existsSync(path)) throw refuse("E_PREFLIGHT_MISSING", `${path} does not exist`);
  if (statSync(path).isDirectory()) throw isPackageDirectory(path, "E_PREFLIGHT_NOT_A_FILE", "supervise");
  const interpreter = shebang(path);
  if (interpreter !== null) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw refuse("E_PREFLIGHT_NOT_EXECUTABLE", `${path} is a script but not executable (chmod +x ${path})`);
    }
    return { kind: "script", interpreter };
  }
  const id = await readBinaryIdentity(path);
  if (id.isElf && !id.goVersion && (SHELLS.has(basename(path)) || SHELLS.has(basename(realpathSync(path)))))
    return { kind: "shell" };
  return { kind: "go", identity: await preflightBinary(path) };
}

async function preflightBinary(path: string): Promise<BinaryIdentity> {
  if (!existsSync(path)) throw refuse("E_PREFLIGHT_MISSING", `${path} does not exist`);
  if (statSync(path).isDirectory()) throw isPackageDirectory(path, "E_PREFLIGHT_NOT_A_FILE", "supervise");
  const id = await readBinaryIdentity(path);
  if (!id.isElf)
    throw refuse("E_PREFLIGHT_NOT_ELF", `${path} is not an ELF executable: refusing to start it`);
  if (id.machine !== "x86-64")
    throw refuse(
      "E_PREFLIGHT_ARCH",
      `${path} is built for ${id.machine}, not this machine (x86-64): refusing to start it`,
    );
  if (id.type !== "exec" && id.type !== "dyn")
    throw refuse("E_PREFLIGHT_NOT_EXECUTABLE", `${path} is an ELF ${id.type} file, not a program`);
  if (!id.goVersion)
    throw refuse(
      "E_PREFLIGHT_NOT_GO",
      `${path} is not a Go program (no Go build info): hotdump supervises Go services, or a script or sh -c that starts one`,
    );
  return id;
}

/**
 * A stripped binary (-ldflags='-s -w') runs, and its crashes are still explained: the traceback
 * Go prints names every frame (function, file, line) without DWARF; only the core's locals and
 * decoded values are out of reach. Said once, not refused (`exec` never refused one either).
 */
export const strippedNote = (path: string) =>
  `${path} has no DWARF (built with -ldflags='-s -w'): crash reports will come from the traceback, without locals from the core (rebuild without -s -w for those; --allow-stripped silences this)`;

/** The expected checksum: the flag, else `<binary>.sha256` beside it, else none. */
export function expectedSha256(path: string, flag?: string): string | null {
  if (flag) {
    if (!/^[0-9a-fA-F]{64}$/.test(flag))
      throw refuse("E_BAD_SHA256", `--sha256 must be 64 hex digits, got ${JSON.stringify(flag)}`);
    return flag.toLowerCase();
  }
  const file = `${path}.sha256`;
  if (!existsSync(file)) return null;
  const m = readFileSync(file, "utf8").match(/^([0-9a-fA-F]{64})\b/);
  if (!m) throw refuse("E_BAD_CHECKSUM_FILE", `${file} does not start with a SHA-256 (sha256sum's format)`);
  return m[1]!.toLowerCase();
}

export const checksumMismatch = (path: string, want: string, got: string) =>
  refuse(
    "E_CHECKSUM_MISMATCH",
    `${path} has SHA-256 ${got.slice(0, 12)}…, expected ${want.slice(0, 12)}…: refusing to start it`,
  );
