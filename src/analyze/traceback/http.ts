/**
 * Panics net/http recovered. conn.serve's deferred recover logs
 * `http: panic serving ADDR: VALUE\n` + runtime.Stack (net/http/server.go, and `http2: ...` from the
 * bundled h2 server) and the service keeps serving: not a crash, but an event worth recording.
 */
import { culpritOf, parseDump, splitLines } from "./parseTraceback.js";
import type { RecoveredHttpPanic } from "./tracebackTypes.js";

const MARKERS = ["http: panic serving ", "http2: panic serving "];

export function findRecoveredHttpPanics(text: string): RecoveredHttpPanic[] {
  const out: RecoveredHttpPanic[] = [];
  const lines = splitLines(text);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    let at = -1;
    let marker = "";
    for (const m of MARKERS) {
      at = line.indexOf(m);
      if (at >= 0) {
        marker = m;
        break;
      }
    }
    if (at < 0) continue;
    const rest = line.slice(at + marker.length);
    // ADDR is host:port (IPv6 in brackets), so the first ": " ends it.
    const sep = rest.indexOf(": ");
    const entry: RecoveredHttpPanic = {
      server: marker.slice(0, marker.indexOf(":")),
      remoteAddr: sep < 0 ? rest : rest.slice(0, sep),
      message: sep < 0 ? "" : rest.slice(sep + 2),
      goroutine: null,
      culprit: null,
      logLine: line,
      line: i,
    };
    // A multi-line panic value runs on until the stack's `goroutine N [running]:` header.
    let j = i + 1;
    const extra: string[] = [];
    while (j < lines.length && j - i <= 50 && !(lines[j] as string).startsWith("goroutine "))
      extra.push(lines[j++] as string);
    if (j < lines.length && j - i <= 50) {
      if (extra.length > 0) entry.message += `\n${extra.join("\n")}`;
      const dump = parseDump(lines, j, 1);
      const g = dump.goroutines[0];
      if (g) {
        entry.goroutine = g;
        entry.culprit = culpritOf(g.frames, { afterPanic: true });
        i = dump.end;
      }
    }
    out.push(entry);
  }
  return out;
}
