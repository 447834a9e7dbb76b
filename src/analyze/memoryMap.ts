/**
 * The memory map of a crashed process, as `/proc/PID/maps` would have shown it, rebuilt from the
 * core: every PT_LOAD segment (address range, permissions) with the file NT_FILE says was mapped
 * there. Anonymous segments (heap, goroutine stacks) have no file.
 */

import type { Mapping } from "../contracts/index.js";
import type { Core } from "../elf/index.js";

const hex = (n: bigint) => `0x${n.toString(16)}`;

export function memoryMapOf(core: Pick<Core, "segments" | "files">): Mapping[] {
  return core.segments.map((s) => {
    const file = core.files.find((f) => s.vaddr >= f.start && s.vaddr < f.end);
    const perms = `${s.flags & 4 ? "r" : "-"}${s.flags & 2 ? "w" : "-"}${s.flags & 1 ? "x" : "-"}`;
    return {
      start: hex(s.vaddr),
      end: hex(s.end),
      perms,
      ...(file ? { file: file.path, offset: hex(file.fileOffset + (s.vaddr - file.start)) } : {}),
    };
  });
}
