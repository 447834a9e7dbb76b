/**
 * The kernel's global core settings, read from /proc/sys/kernel. They are read when a child dies,
 * not cached: `hotdump doctor --fix`, apport or systemd can change them at any time.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { coreSettingsUnreadable } from "./errors.js";

export interface CoreSettings {
  /** core_pattern as the kernel holds it (at most 127 characters, see corePattern.ts). */
  pattern: string;
  /** core_uses_pid: append ".PID" to a file pattern without %p. */
  usesPid: boolean;
  /** core_pipe_limit: 0 = unlimited parallel pipe handlers and the dying task does not wait for them. */
  pipeLimit?: number;
}

/** `procSys` lets tests point at a copy; the default is the live kernel. */
export function readCoreSettings(procSys = "/proc/sys/kernel"): CoreSettings {
  const read = (name: string) => {
    const path = join(procSys, name);
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      throw coreSettingsUnreadable(path, e);
    }
  };
  // The sysctl prints the pattern followed by one newline; a pattern may legitimately end in
  // spaces (harmless in a pipe command), so strip only that newline.
  const pattern = read("core_pattern").replace(/\n$/, "");
  const usesPid = read("core_uses_pid").trim() !== "0";
  let pipeLimit: number | undefined;
  try {
    pipeLimit = Number(readFileSync(join(procSys, "core_pipe_limit"), "utf8").trim());
  } catch {
    // Absent on very old kernels; only informative.
  }
  return { pattern, usesPid, ...(pipeLimit === undefined || Number.isNaN(pipeLimit) ? {} : { pipeLimit }) };
}
