/**
 * Parsers for the text gdb 13 prints in batch mode (`bt full`, `info registers`, `x/Ngx`,
 * `info threads`, and runtime-gdb.py's `info goroutines`). Pure functions: the runner feeds them
 * the sections it cut out of one gdb run.
 */
import type { Frame, Register, Variable } from "../../contracts/index.js";
import { classifyFunction, isRuntimeFunction } from "../frames.js";

/** Marks gdb's `echo` commands put between sections of stdout. */
export const SECTION_MARK = "@@hotdump-gdb:";

export function splitSections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | null = null;
  let buf: string[] = [];
  for (const line of stdout.split("\n")) {
    if (line.startsWith(SECTION_MARK)) {
      if (name !== null) out.set(name, buf.join("\n"));
      name = line.slice(SECTION_MARK.length).trim();
      buf = [];
    } else if (name !== null) buf.push(line);
  }
  if (name !== null) out.set(name, buf.join("\n"));
  return out;
}

/** Split `a=1, b={x = 1, y = "a, b"}` at top-level commas, honouring quotes and brackets. */
export function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") depth = Math.max(0, depth - 1);
    else if (c === "," && depth === 0) {
      parts.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = s.slice(start).trim();
  if (last) parts.push(last);
  return parts;
}

/** One `name=value` (frame header) or `name = value` (bt full locals) as a report Variable. */
export function toVariable(name: string, raw: string): Variable {
  let value = raw.trim();
  let type = "";
  // runtime-gdb.py's printers show maps and slices as `TYPE = {...}` and channels as `chan T`.
  const typed = /^((?:map\[|\[\])\S*) = (.*)$/s.exec(value);
  if (typed) {
    type = typed[1]!;
    value = typed[2]!;
  } else if (/^chan \S+$/.test(value)) type = value;
  const v: Variable = { name: name.trim(), type, value };
  if (value === "<optimized out>") v.unreadable = "optimized out";
  else if (/^<error: .*>$/.test(value)) v.unreadable = value.slice(8, -1);
  return v;
}

function parseArgs(inner: string): Variable[] {
  return splitTopLevel(inner).flatMap((p) => {
    const eq = p.indexOf("=");
    return eq > 0 ? [toVariable(p.slice(0, eq), p.slice(eq + 1))] : [];
  });
}

export interface GdbFrame extends Frame {
  /** gdb's frame number (`#13`). */
  level: number;
}

interface GdbBacktrace {
  frames: GdbFrame[];
  /** Level of the last `<signal handler called>` pseudo-frame, or -1. */
  signalFrameLevel: number;
}

const FRAME_RE = /^#(\d+)\s+(?:(0x[0-9a-f]+) in )?(.+?) \((.*)\)(?: at (.+):(\d+)| from (.+))?$/;

export function parseFrameHeader(line: string): GdbFrame | null {
  const m = FRAME_RE.exec(line);
  if (!m) return null;
  const fn = m[3]!;
  return {
    level: Number(m[1]),
    function: fn,
    file: m[5] ?? m[7] ?? "",
    line: m[6] ? Number(m[6]) : 0,
    // gdb pads to 16 digits; Delve and Go's traceback print 0x4d439e.
    ...(m[2] ? { pc: `0x${BigInt(m[2]).toString(16)}` } : {}),
    args: parseArgs(m[4] ?? ""),
    locals: [],
    runtime: fn === "??" || isRuntimeFunction(fn),
    class: classifyFunction(fn, m[5] ?? m[7] ?? ""),
  };
}

/** `bt full` (or plain `bt`) of the selected thread. */
export function parseBacktrace(text: string): GdbBacktrace {
  const frames: GdbFrame[] = [];
  let signalFrameLevel = -1;
  let cur: GdbFrame | null = null;
  for (const line of text.split("\n")) {
    const sig = /^#(\d+)\s+<signal handler called>/.exec(line);
    if (sig) {
      signalFrameLevel = Number(sig[1]);
      cur = null;
      continue;
    }
    if (line.startsWith("#")) {
      cur = parseFrameHeader(line);
      if (cur) frames.push(cur);
      continue;
    }
    // bt full prints each local on its own line, indented by 8 spaces.
    const local = /^ {8}(\S+) = (.*)$/.exec(line);
    if (cur && local) cur.locals.push(toVariable(local[1]!, local[2]!));
  }
  return { frames, signalFrameLevel };
}

export function parseRegisters(text: string): Register[] {
  const regs: Register[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-z][a-z0-9_]*)\s+(0x[0-9a-f]+)\b/.exec(line);
    if (m) regs.push({ name: m[1]!, value: m[2]! });
  }
  return regs;
}

export interface MemoryRow {
  address: string;
  words: string[];
}

/** `x/20gx $rsp`: `0xADDR <sym+off>:\t0x... 0x...`. */
export function parseExamine(text: string): MemoryRow[] {
  const rows: MemoryRow[] = [];
  for (const line of text.split("\n")) {
    const m = /^(0x[0-9a-f]+)(?: <[^>]*>)?:\s+(.*)$/.exec(line);
    if (m) rows.push({ address: m[1]!, words: m[2]!.trim().split(/\s+/) });
  }
  return rows;
}

export interface GdbThread {
  id: number;
  lwp: number | null;
  current: boolean;
  function: string;
  file: string;
  line: number;
}

export function parseThreads(text: string): GdbThread[] {
  const threads: GdbThread[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\*)?\s*(\d+)\s+(?:Thread \S+ \(LWP (\d+)\)|LWP (\d+))\s+(.*)$/.exec(line);
    if (!m) continue;
    const where = /^(?:0x[0-9a-f]+ in )?(.+?) \(.*?\)(?: at (.+):(\d+))?/.exec(m[5]!);
    threads.push({
      id: Number(m[2]),
      lwp: (m[3] ?? m[4]) ? Number(m[3] ?? m[4]) : null,
      current: m[1] === "*",
      function: where?.[1] ?? m[5]!.trim(),
      file: where?.[2] ?? "",
      line: where?.[3] ? Number(where[3]) : 0,
    });
  }
  return threads;
}

export interface GdbGoroutine {
  id: number;
  state: string;
  /** Function at the goroutine's saved pc (runtime.gopark for nearly every parked one). */
  function: string;
  /** The goroutine running on the selected thread. */
  current: boolean;
  /** The function it was started on (g.startpc), when gdb could name it. */
  startFunction?: string;
}

/** runtime-gdb.py's `info goroutines`: `* 6 running  runtime.systemstack_switch`. */
export function parseGoroutines(text: string): GdbGoroutine[] {
  const gs: GdbGoroutine[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\*)?\s*(\d+)\s+(\S+)\s+(\S+)\s*$/.exec(line);
    if (m) gs.push({ id: Number(m[2]), state: m[3]!, function: m[4]!, current: m[1] === "*" });
  }
  return gs;
}

/** The `waitreasons` section: `GOID STATUS WAITREASON` per goroutine (numbers, from runtime.allgs). */
export function parseWaitReasons(
  text: string,
): Map<number, { status: number; waitReason: number; startFunction?: string }> {
  const out = new Map<number, { status: number; waitReason: number; startFunction?: string }>();
  for (const line of text.split("\n")) {
    const m = /^(\d+) (\d+) (\d+)(?: (\S+))?$/.exec(line.trim());
    if (m)
      out.set(Number(m[1]), {
        status: Number(m[2]),
        waitReason: Number(m[3]),
        ...(m[4] && m[4] !== "?" ? { startFunction: m[4] } : {}),
      });
  }
  return out;
}

/** `info line *$pc`: `Line 19 of "/x/main.go" starts at address ...`. */
export function parseInfoLine(text: string): { file: string; line: number } | null {
  const m = /^Line (\d+) of "(.+)" (?:starts at|is at) address/m.exec(text);
  return m ? { file: m[2]!, line: Number(m[1]) } : null;
}

/** `p 'runtime.buildVersion'` → `$1 = "go1.26.8"`. */
export function parseGoVersion(text: string): string | null {
  return /^\$\d+ = "(go[^"]*)"/m.exec(text)?.[1] ?? null;
}

/** `Program terminated with signal SIGABRT, Aborted.` */
export function parseTerminatingSignal(text: string): string | null {
  return /Program terminated with signal (SIG[A-Z0-9]+)/.exec(text)?.[1] ?? null;
}
