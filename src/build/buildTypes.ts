import type { BinaryIdentity } from "../elf/index.js";
/** What a build produces: a value either way; a compile error is a result, never a throw. */
import type { BuildDiagnostic } from "./diagnostics.js";

interface BuildCommon {
  /** The exact `go build` argv (after "go"), for logs and bundle metadata. */
  args: string[];
  durationMs: number;
  /** stderr then stdout of go build (bounded). */
  output: string;
  /** Root-relative paths whose change caused this build ([] for the first build). */
  changedFiles: string[];
}

export interface BuildSuccess extends BuildCommon {
  ok: true;
  /** The linked program, complete (go build exited 0, an ELF file): start it from here at once. */
  program: string;
  /**
   * The hash and identity are being read from the moment of the link; this moves the program into
   * the store once they are and `after` has settled (start it from `program` before). Call once.
   */
  store(after?: Promise<unknown>): Promise<StoredBinary>;
}

export interface StoredBinary {
  /** `<store>/binaries/<sha256>`, mode 0500: the same inode as `program` (still `program` when the store refused it). */
  binaryPath: string;
  sha256: string;
  goBuildId: string | null;
  gnuBuildId: string | null;
  /** An identical binary was already in the store (an unchanged rebuild). */
  reused: boolean;
  /** The stored binary's identity, null when its notes could not be read (it still runs). */
  identity: BinaryIdentity | null;
  /** Why the store refused the binary (it then stays at `program`). */
  storeError?: Error;
}

export interface BuildFailure extends BuildCommon {
  ok: false;
  /** compile: positioned diagnostics; go: a go-command error (no main package, bad module...); killed: timed out. */
  kind: "compile" | "go" | "killed";
  diagnostics: BuildDiagnostic[];
  /** One line for people: the first diagnostic or go's first message. */
  summary: string;
  exitCode: number | null;
}

export type BuildResult = BuildSuccess | BuildFailure;
