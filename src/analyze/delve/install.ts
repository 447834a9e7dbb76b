/**
 * Which Delve hotdump is built against, where `go install` puts it, and installing it on request
 * (`hotdump doctor --fix`): nothing is downloaded at npm install time or behind the user's back.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HotdumpError } from "../../errors.js";
import { runCapture } from "../../util/child.js";

/** The Delve hotdump's RPC types mirror (delveProtocol.ts); the Makefile's DLV_VERSION says the same. */
export const DELVE_VERSION = "v1.27.2";
const DELVE_PACKAGE = "github.com/go-delve/delve/cmd/dlv";
export const DELVE_INSTALL_COMMAND = `go install ${DELVE_PACKAGE}@${DELVE_VERSION}`;

let goBin: string | null | undefined;
/**
 * Where `go install` writes programs: `go env GOBIN`, else the first GOPATH entry's bin/. Asked of
 * the go command itself (not $GOPATH, often unset, nor ~/go, wrong for a GOPATH in `go env -w`).
 * null without a go command.
 */
export function goBinDir(): string | null {
  if (goBin !== undefined) return goBin;
  try {
    const [gobin = "", gopath = ""] = execFileSync("go", ["env", "GOBIN", "GOPATH"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    }).split("\n");
    const first = gopath.split(":")[0] ?? "";
    goBin = gobin.trim() || (first.trim() ? join(first.trim(), "bin") : null);
  } catch {
    goBin = null;
  }
  return goBin;
}

/** dlv in the Go bin directory, where `hotdump doctor --fix` and `make setup` install it; or null. */
export function installedDelve(): string | null {
  const dir = goBinDir();
  const path = dir ? join(dir, "dlv") : null;
  return path && existsSync(path) ? path : null;
}

/** `go install` the pinned Delve into the Go bin directory; returns its path. */
export async function installDelve(): Promise<string> {
  const r = await runCapture("go", ["install", `${DELVE_PACKAGE}@${DELVE_VERSION}`], {
    timeoutMs: 10 * 60_000,
  });
  const path = installedDelve();
  if (r.end.exitCode !== 0 || !path)
    throw new HotdumpError(
      "analyze",
      "E_DLV_INSTALL",
      `\`${DELVE_INSTALL_COMMAND}\` failed: ${(r.stderr.trim().split("\n").pop() ?? r.end.error?.message ?? "").slice(0, 300)}`,
      { cause: r.end.error },
    );
  return path;
}
