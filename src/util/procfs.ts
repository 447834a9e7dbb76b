/**
 * Small /proc files read on a hot path (the descendant tracker's passes, twice a second for as long
 * as a service runs). /proc files report a size of 0, so readFileSync reads them through a fresh
 * 64 KiB buffer each time: two passes a second of a dozen such reads was 2 % of a CPU, nearly all
 * garbage collection (bench/watch-idle.mjs, idle CPU). One buffer, reused, grown when a file fills it.
 */
import { closeSync, openSync, readSync } from "node:fs";

let buf = Buffer.allocUnsafe(4096);

/** The whole file as latin1 text; throws as readFileSync does (ENOENT, ESRCH, …). */
export function readProcText(path: string): string {
  const fd = openSync(path, "r");
  try {
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    return buf.toString("latin1", 0, len);
  } finally {
    closeSync(fd);
  }
}
