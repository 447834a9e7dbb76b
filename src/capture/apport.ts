/**
 * Where Ubuntu's apport puts what it receives from `|/usr/share/apport/apport ...`:
 * - a report /var/crash/<exe path with '/' → '_'>.<uid>.crash, with the core compressed inside
 *   its CoreDump field (apport-unpack extracts it) — only for binaries from a distribution package
 *   unless apport is configured otherwise, so a freshly built Go binary normally gets no report;
 * - since apport 2.20.11 (Ubuntu 20.04+), a plain core
 *   /var/lib/apport/coredump/core.<exe mangled>.<uid>.<boot id>.<pid>.<time> when it writes no report
 *   and the process's RLIMIT_CORE allows a core.
 * Not tested on a machine running apport (Debian here): the paths follow apport's data/apport script.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const mangleExe = (exe: string) => exe.replaceAll("/", "_");

interface ApportFind {
  core?: string;
  report?: string;
}

export function findApportOutputs(
  exe: string,
  uid: number,
  pid: number,
  dirs = { crash: "/var/crash", coredump: "/var/lib/apport/coredump" },
): ApportFind {
  const out: ApportFind = {};
  const report = join(dirs.crash, `${mangleExe(exe)}.${uid}.crash`);
  if (existsSync(report)) out.report = report;
  try {
    const prefix = `core.${mangleExe(exe)}.${uid}.`;
    const name = readdirSync(dirs.coredump).find(
      (n) => n.startsWith(prefix) && n.slice(prefix.length).split(".")[1] === String(pid),
    );
    if (name && statSync(join(dirs.coredump, name)).isFile()) out.core = join(dirs.coredump, name);
  } catch {
    // no coredump directory
  }
  return out;
}
