/** The short crash summary printed in the log by exec, dev and run. */
import { dirname, relative } from "node:path";
// The constant alone: the barrel loads the whole Delve client, which dev does not need to start.
import { DLV_INSTALL_REMEDY } from "../analyze/delve/errors.js";
import type { Captured } from "../capture/index.js";
import { headline } from "../contracts/index.js";
import { formatBytes, storeFlagFor } from "./common.js";

export function crashSummaryLines(c: Captured, opts: { cwd: string; generation?: number | null }): string[] {
  const r = c.report;
  const gen = opts.generation ? ` in generation ${opts.generation}` : "";
  const lines = [
    `crash captured${gen}: ${r.kind === "unknown" || r.kind === "signal" ? "" : `${r.kind}: `}${headline(r) || "(no message)"}`,
  ];
  if (r.value && headline(r) !== r.value) lines.push(`  value    ${r.value}`);
  if (r.culprit) {
    const file = r.culprit.file.startsWith(opts.cwd) ? relative(opts.cwd, r.culprit.file) : r.culprit.file;
    lines.push(`  culprit  ${r.culprit.function}  ${file}:${r.culprit.line}`);
  }
  if (c.core.found) {
    // Not stored (a full store): say where the kernel's file still is, so it is not lost.
    const size =
      c.core.bytes !== undefined
        ? `${formatBytes(c.core.bytes)}`
        : c.core.originalPath
          ? `not stored; left at ${relative(opts.cwd, c.core.originalPath) || c.core.originalPath}`
          : "";
    const stored = c.core.storedBytes !== undefined ? ` → ${formatBytes(c.core.storedBytes)} stored` : "";
    const proof =
      c.core.buildIdMatch === true
        ? ", build ID matches the binary"
        : c.core.buildIdMatch === false
          ? ", BUILD ID DOES NOT MATCH THE BINARY"
          : "";
    lines.push(`  core     ${size}${stored}${proof}${c.core.truncated ? " (TRUNCATED)" : ""}`);
  } else {
    lines.push(`  core     none: ${c.core.reason ?? "not found"}`);
  }
  // A core read without Delve (not installed): the report has no Go values; say how to get them.
  const delveNote = r.sources.delve.note;
  if (c.core.found && !r.sources.delve.used && delveNote?.includes(DLV_INSTALL_REMEDY))
    lines.push(
      `  delve    not found, ${r.sources.gdb.used ? "gdb read the core" : "report from the traceback"}: ${DLV_INSTALL_REMEDY}`,
    );
  if (c.bundle) {
    lines.push(`  bundle   ${relative(opts.cwd, c.bundle.dir) || c.bundle.dir}`);
    // No core (a race detector's exit): nothing for a debugger to open.
    // <store>/crashes/<id>: the store the commands below must be pointed at, unless they find it.
    const flag = storeFlagFor(dirname(dirname(c.bundle.dir)), opts.cwd);
    lines.push(
      `  next     hotdump report ${c.bundle.id}${flag}${c.core.stored ? `   |   hotdump debug ${c.bundle.id}${flag}` : ""}`,
    );
  }
  for (const p of c.problems) lines.push(`  problem  ${p.message} [${p.code}]`);
  return lines;
}
