/**
 * gdb as a user's debugger on a stored crash, as good as Delve where it is the fallback: Go's
 * runtime-gdb.py loaded from the binary's own GOROOT (goroutine helpers: `info goroutines`,
 * `$len`, pretty printers), the culprit frame selected, and no false "core file may not match".
 */
import { existsSync, linkSync, mkdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { openElf } from "../../elf/index.js";

/**
 * The runtime-gdb.py the binary names in .debug_gdb_scripts (the GOROOT it was built with: the
 * script must match that runtime's structures), when this machine has it; else the local Go's.
 */
export async function runtimeGdbScript(
  binary: string,
  localGoroot?: string | null,
): Promise<{ path: string; named: boolean } | null> {
  try {
    const f = await openElf(binary);
    try {
      const s = f.section(".debug_gdb_scripts");
      if (s) {
        // Entries: a kind byte (1: a script file name) then a NUL-terminated path (gdb docs,
        // "The .debug_gdb_scripts section").
        const text = (await f.readSection(s)).toString("utf8");
        for (const m of text.matchAll(/\x01([^\x00]+)\x00/g))
          if (m[1]?.endsWith("runtime-gdb.py") && existsSync(m[1])) return { path: m[1], named: true };
      }
    } finally {
      await f.close();
    }
  } catch {
    // Not an ELF file we can read: the local Go's script below.
  }
  const local = localGoroot ? join(localGoroot, "src/runtime/runtime-gdb.py") : null;
  return local && existsSync(local) ? { path: local, named: false } : null;
}

/**
 * gdb checks a core against its executable by comparing the core's process name (pr_fname, 15
 * characters) with the executable's file name when no GNU build ID is there to compare (bfd/elf.c
 * _bfd_elf_core_file_matches_executable_p; Go links none by default). The store keeps binaries
 * under their SHA-256, so gdb warns "core file may not match specified executable file" although
 * hotdump proved the Go build IDs match. A hard link under the process's own name (a symbolic
 * link is resolved by gdb and warns again, checked with gdb 13.1) keeps the check true.
 */
export function binaryUnderProcessName(binary: string, processName: string, dir: string): string {
  const name = basename(processName).slice(0, 15);
  if (!name || name === basename(binary)) return binary;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const linked = join(dir, name);
  rmSync(linked, { force: true });
  try {
    linkSync(binary, linked);
    return linked;
  } catch {
    // Another filesystem: the stored path, and gdb's warning with it.
    return binary;
  }
}

export interface GdbSessionOptions {
  binary: string;
  core: string;
  /** `named`: the script the binary names, which gdb auto-loads once allowed. */
  script: { path: string; named: boolean } | null;
  /** The culprit's function: gdb opens on its innermost frame (`frame function`, gdb >= 8.3). */
  culprit?: string | undefined;
}

/** gdb's argv for an interactive session on a core. */
export function interactiveGdbArgs(o: GdbSessionOptions): string[] {
  return [
    "-q",
    // Allow exactly Go's script, which the binary's .debug_gdb_scripts asks gdb to auto-load,
    // rather than `source` it after a "declined" warning.
    ...(o.script?.named ? ["-iex", `add-auto-load-safe-path ${o.script.path}`] : []),
    o.binary,
    o.core,
    ...(o.script && !o.script.named ? ["-ex", `source ${o.script.path}`] : []),
    ...(o.culprit ? ["-ex", `frame function ${o.culprit}`] : []),
  ];
}
