/**
 * Recognisers for single lines of a Go traceback. Plain string scanning, no regular expressions on
 * the per-frame paths: a 100,000-goroutine dump is ~600,000 lines and each is looked at once.
 */
import { isRuntimeFunction } from "../frames.js";
import type { CreatedBy, Goroutine, SignalInfo, TracebackFrame } from "./tracebackTypes.js";

const isDigits = (s: string): boolean => s.length > 0 && s.length < 16 && /^[0-9]+$/.test(s);

/**
 * `goroutine 7 [chan receive, 5 minutes, locked to thread]:` and, under GOTRACEBACK=crash/system,
 * `goroutine 1 gp=0xc000002380 m=0 mp=0x59e2c0 [running]:` (runtime/traceback.go goroutineheader).
 */
export function parseGoroutineHeader(line: string): Goroutine | null {
  if (!line.startsWith("goroutine ") || !line.endsWith("]:")) return null;
  const open = line.indexOf(" [", 10);
  if (open < 0) return null;
  const head = line.slice(10, open).split(" ");
  const idText = head[0] ?? "";
  if (!isDigits(idText)) return null;
  const g: Goroutine = {
    id: Number(idText),
    state: "",
    lockedToThread: false,
    stateExtras: [],
    frames: [],
    elidedFrames: 0,
    additionalFramesElided: false,
  };
  for (const kv of head.slice(1)) {
    const eq = kv.indexOf("=");
    const k = kv.slice(0, eq);
    const v = kv.slice(eq + 1);
    if (k === "gp") g.gp = v;
    else if (k === "m") g.m = v;
    else if (k === "mp") g.mp = v;
  }
  const items = line.slice(open + 2, -2).split(", ");
  g.state = items[0] ?? "";
  for (const item of items.slice(1)) {
    if (item === "locked to thread") g.lockedToThread = true;
    else if (item.endsWith(" minutes") || item.endsWith(" minute")) {
      const n = item.slice(0, item.indexOf(" "));
      if (isDigits(n)) g.waitMinutes = Number(n);
      else g.stateExtras.push(item);
    } else g.stateExtras.push(item);
  }
  return g;
}

/**
 * A frame's function line: `main.process(0x4bda60?, {0x4d36b9?, 0x4de100?})`, `sync.(*Mutex).Lock(...)`,
 * `panic({0x4b6c60?, 0x2a73cdf78130?})`. Argument lists never contain parentheses (printArgs prints
 * words, `{}` for aggregates, `...`), while receivers do, so the list starts at the last `(`. A
 * function name has no spaces, which keeps log lines that end in `)` out.
 */
export function parseFunctionLine(line: string): { function: string; rawArgs: string } | null {
  if (line.length < 3 || !line.endsWith(")")) return null;
  const c = line.charCodeAt(0);
  if (c === 9 || c === 32) return null;
  const open = line.lastIndexOf("(");
  if (open <= 0) return null;
  const fn = line.slice(0, open);
  if (fn.includes(" ")) return null;
  return { function: fn, rawArgs: line.slice(open + 1, -1) };
}

/** `\t/path/file.go:39 +0x33 fp=0x... sp=0x... pc=0x...` (the `+0x` offset is absent for inlined frames). */
export function parseLocationLine(
  line: string,
): { file: string; line: number; offset?: string; fp?: string; sp?: string; pc?: string } | null {
  if (line.charCodeAt(0) !== 9) return null;
  let end = line.length;
  const out: { file: string; line: number; offset?: string; fp?: string; sp?: string; pc?: string } = {
    file: "",
    line: 0,
  };
  // Peel the trailing tokens off from the right, so a file path containing spaces survives.
  for (;;) {
    const sp = line.lastIndexOf(" ", end - 1);
    if (sp < 1) break;
    const tok = line.slice(sp + 1, end);
    if (tok.startsWith("+0x")) out.offset = tok;
    else if (tok.startsWith("fp=")) out.fp = tok.slice(3);
    else if (tok.startsWith("sp=")) out.sp = tok.slice(3);
    else if (tok.startsWith("pc=")) out.pc = tok.slice(3);
    else break;
    end = sp;
  }
  const loc = line.slice(1, end);
  const colon = loc.lastIndexOf(":");
  if (colon <= 0) return null;
  const num = loc.slice(colon + 1);
  if (!isDigits(num)) return null;
  out.file = loc.slice(0, colon);
  out.line = Number(num);
  return out;
}

export function makeFrame(fn: { function: string; rawArgs: string }): TracebackFrame {
  return {
    function: fn.function,
    rawArgs: fn.rawArgs,
    inlined: fn.rawArgs === "...",
    file: "",
    line: 0,
    runtime: isRuntimeFunction(fn.function),
  };
}

/** `created by main.main in goroutine 1` (Go 1.21+) or `created by main.main`. */
export function parseCreatedBy(line: string): CreatedBy | null {
  if (!line.startsWith("created by ")) return null;
  const rest = line.slice(11);
  const inG = rest.lastIndexOf(" in goroutine ");
  const created: CreatedBy = { function: rest, file: "", line: 0 };
  if (inG > 0) {
    const id = rest.slice(inG + 14);
    if (isDigits(id)) {
      created.function = rest.slice(0, inG);
      created.goroutineId = Number(id);
    }
  }
  return created;
}

/** `...additional frames elided...` → -1; `...6100692 frames elided...` → 6100692; else null. */
export function parseElided(line: string): number | null {
  if (!line.startsWith("...") || !line.endsWith(" elided...")) return null;
  if (line === "...additional frames elided...") return -1;
  const n = line.slice(3, line.indexOf(" "));
  return isDigits(n) ? Number(n) : null;
}

/** `[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4aa053]`. */
export function parseSignalLine(line: string): SignalInfo | null {
  if (!line.startsWith("[signal ") || !line.endsWith("]")) return null;
  const body = line.slice(8, -1);
  const colon = body.indexOf(": ");
  const info: SignalInfo = { name: colon > 0 ? body.slice(0, colon) : body, description: "" };
  if (colon < 0) return info;
  const words = body.slice(colon + 2).split(" ");
  const desc: string[] = [];
  for (const w of words) {
    if (w.startsWith("code=")) info.code = w.slice(5);
    else if (w.startsWith("addr=")) info.addr = w.slice(5);
    else if (w.startsWith("pc=")) info.pc = w.slice(3);
    else desc.push(w);
  }
  info.description = desc.join(" ");
  return info;
}

/**
 * `SIGABRT: abort` opening a bare fatal signal (runtime/signal_unix.go sighandler prints the name,
 * then `PC=0x... m=N sigcode=N [addr=0x...]`). Only upper-case SIG names count.
 */
export function parseBareSignal(line: string): SignalInfo | null {
  if (!line.startsWith("SIG")) return null;
  const colon = line.indexOf(": ");
  if (colon < 4) return null;
  const name = line.slice(0, colon);
  for (let i = 3; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57))) return null;
  }
  return { name, description: line.slice(colon + 2) };
}

/** `PC=0x48bf21 m=0 sigcode=0 addr=0x0`: fills the bare signal's fields; false when not that line. */
export function parsePcLine(line: string, into: SignalInfo): boolean {
  if (!line.startsWith("PC=")) return false;
  for (const w of line.split(" ")) {
    const eq = w.indexOf("=");
    const k = w.slice(0, eq);
    const v = w.slice(eq + 1);
    if (k === "PC") into.pc = v;
    else if (k === "m") into.m = v;
    else if (k === "sigcode") into.sigcode = v;
    else if (k === "addr") into.addr = v;
  }
  return true;
}

/** `rax    0xca` of the register dump after a fatal signal (amd64, arm64 `r0 ... lr sp pc fault`). */
export function parseRegisterLine(line: string): { name: string; value: string } | null {
  const sp = line.indexOf(" ");
  if (sp < 1 || sp > 8) return null;
  const name = line.slice(0, sp);
  const value = line.slice(sp).trimStart();
  if (!value.startsWith("0x") || value.includes(" ")) return null;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57))) return null;
  }
  return { name, value };
}

/** `exit status 2`, as `go run` (os/exec's ExitError) prints it. */
export function parseExitStatus(line: string): number | null {
  if (!line.startsWith("exit status ")) return null;
  const n = line.slice(12).trim();
  return isDigits(n) ? Number(n) : null;
}
