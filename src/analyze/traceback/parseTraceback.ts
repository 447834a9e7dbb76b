/**
 * Finds a Go crash in arbitrary stderr (service logs first) and parses it in one pass over the
 * lines: a header (panic chain, fatal error, signal, runtime notes) and then the stack dump.
 */
import { ELISION_RE } from "../../util/tail.js";
import { culpritIndex } from "../frames.js";
import {
  makeFrame,
  parseBareSignal,
  parseCreatedBy,
  parseElided,
  parseExitStatus,
  parseFunctionLine,
  parseGoroutineHeader,
  parseLocationLine,
  parsePcLine,
  parseRegisterLine,
  parseSignalLine,
} from "./tracebackLines.js";
import {
  type CreatedBy,
  emptyTraceback,
  type Goroutine,
  type Location,
  type PanicLink,
  type SignalInfo,
  type SystemStack,
  type Traceback,
  type TracebackFrame,
} from "./tracebackTypes.js";

export function splitLines(text: string): string[] {
  const lines = text.split("\n");
  // Tracebacks captured through a pty or on Windows carry \r; strip it only when present.
  if (text.includes("\r"))
    for (let i = 0; i < lines.length; i++) lines[i] = (lines[i] as string).replace(/\r$/, "");
  return lines;
}

/** A line that can open a crash: what the runtime prints first for each way of dying. */
function isCrashStart(line: string, next: string | undefined): boolean {
  return (
    line.startsWith("panic: ") ||
    line.startsWith("fatal error: ") ||
    line.startsWith("unexpected fault address ") ||
    line.startsWith("runtime: ") ||
    (next?.startsWith("PC=") === true && parseBareSignal(line) !== null)
  );
}

/**
 * The crash in `text`, or null when there is none. When stderr holds several (a supervisor's log of
 * many generations), the last one with a goroutine dump wins: a process dies once, last.
 */
export function parseTraceback(text: string): Traceback | null {
  const lines = splitLines(text);
  let best: Traceback | null = null;
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (isCrashStart(line, lines[i + 1])) {
      const tb = parseCrashAt(lines, i);
      if (
        tb &&
        (tb.goroutines.length > 0 ||
          tb.systemStacks.length > 0 ||
          best === null ||
          best.goroutines.length === 0)
      )
        best = tb;
      i = tb ? tb.endLine + 1 : i + 1;
    } else i++;
  }
  return best;
}

interface DumpResult {
  goroutines: Goroutine[];
  systemStacks: SystemStack[];
  registers: { name: string; value: string }[];
  exitStatus: number | null;
  /** A `goroutine 0` section was printed before the first real goroutine. */
  idleFirst: boolean;
  /** Index of the last line that belonged to the dump. */
  end: number;
}

/**
 * Parses stacks from `lines[start]` on, until a line that is none of the dump's grammar (the logs
 * after it, or the next crash). `maxGoroutines` stops after that many (for net/http's log entries).
 */
export function parseDump(
  lines: string[],
  start: number,
  maxGoroutines = Number.POSITIVE_INFINITY,
): DumpResult {
  const res: DumpResult = {
    goroutines: [],
    systemStacks: [],
    registers: [],
    exitStatus: null,
    idleFirst: false,
    end: start - 1,
  };
  let frames: TracebackFrame[] | null = null;
  let g: Goroutine | null = null;
  let lastFrame: TracebackFrame | null = null;
  let created: CreatedBy | null = null;
  const n = lines.length;
  let j = start;
  /** After hotdump's elision line: the rest of a goroutine cut in the middle, up to the next one. */
  let skipping = false;
  for (; j < n; j++) {
    const line = lines[j] as string;
    if (ELISION_RE.test(line)) {
      skipping = true;
      frames = null;
      g = null;
      lastFrame = null;
      created = null;
      res.end = j;
      continue;
    }
    if (skipping) {
      if (line !== "" && !line.startsWith("goroutine ")) {
        res.end = j;
        continue;
      }
      skipping = false;
    }
    if (line === "") {
      if (g && res.goroutines.length >= maxGoroutines) break;
      frames = null;
      g = null;
      lastFrame = null;
      created = null;
      continue;
    }
    const c0 = line.charCodeAt(0);
    if (c0 === 9 /* \t */) {
      if (!placeLocation(line, created, lastFrame)) break;
      res.end = j;
      continue;
    }
    if (c0 === 103 /* g */ && line.startsWith("goroutine ")) {
      const h = parseGoroutineHeader(line);
      if (!h) break;
      if (g && res.goroutines.length >= maxGoroutines) break;
      lastFrame = null;
      created = null;
      if (h.id === 0) {
        // goroutine 0 is a thread's g0 (scheduler) stack, printed when a signal lands there.
        const s: SystemStack = { label: line.slice(0, -1), frames: [] };
        res.systemStacks.push(s);
        if (res.goroutines.length === 0) res.idleFirst = true;
        g = null;
        frames = s.frames;
      } else {
        res.goroutines.push(h);
        g = h;
        frames = h.frames;
      }
      res.end = j;
      continue;
    }
    if (line === "runtime stack:") {
      const s: SystemStack = { label: "runtime stack", frames: [] };
      res.systemStacks.push(s);
      frames = s.frames;
      g = null;
      lastFrame = null;
      created = null;
      res.end = j;
      continue;
    }
    if (frames) {
      const fn = parseFunctionLine(line);
      if (fn) {
        lastFrame = makeFrame(fn);
        frames.push(lastFrame);
        res.end = j;
        continue;
      }
      if (line.startsWith("created by ")) {
        created = parseCreatedBy(line);
        if (g && created) g.createdBy = created;
        lastFrame = null;
        res.end = j;
        continue;
      }
      const elided = parseElided(line);
      if (elided !== null) {
        if (g) {
          if (elided < 0) g.additionalFramesElided = true;
          else g.elidedFrames += elided;
        }
        res.end = j;
        continue;
      }
    }
    const reg = parseRegisterLine(line);
    if (reg) {
      res.registers.push(reg);
      frames = null;
      g = null;
      res.end = j;
      continue;
    }
    const status = parseExitStatus(line);
    if (status !== null) {
      res.exitStatus = status;
      res.end = j;
      j++;
      break;
    }
    // Under GOTRACEBACK=crash other threads may print their own `-----` / `SIGQUIT: quit` / `PC=`
    // sections after the dump (seen with Go <= 1.22); they continue the same crash.
    if (
      line === "-----" ||
      line.startsWith("PC=") ||
      (parseBareSignal(line) && lines[j + 1]?.startsWith("PC="))
    ) {
      frames = null;
      g = null;
      res.end = j;
      continue;
    }
    break;
  }
  return res;
}

/**
 * A `\tfile:line +0x..` line onto the frame (or `created by`) just above it; false when it is not
 * one, or belongs to no such line (a second location for the same frame is not the dump's).
 */
function placeLocation(line: string, created: CreatedBy | null, lastFrame: TracebackFrame | null): boolean {
  const loc = parseLocationLine(line);
  const target: CreatedBy | TracebackFrame | null = created ?? lastFrame;
  if (!loc || target === null || target.file !== "") return false;
  target.file = loc.file;
  target.line = loc.line;
  if (loc.offset !== undefined) target.offset = loc.offset;
  if (lastFrame && target === lastFrame) {
    if (loc.fp !== undefined) lastFrame.fp = loc.fp;
    if (loc.sp !== undefined) lastFrame.sp = loc.sp;
    if (loc.pc !== undefined) lastFrame.pc = loc.pc;
  }
  return true;
}

function stackOverflowNote(line: string, tb: Traceback): boolean {
  // runtime/stack.go newstack: "runtime: goroutine stack exceeds 1000000000-byte limit".
  const p = "runtime: goroutine stack exceeds ";
  if (line.startsWith(p)) {
    const n = Number.parseInt(line.slice(p.length), 10);
    tb.stackOverflow = { ...(tb.stackOverflow ?? {}), limitBytes: Number.isFinite(n) ? n : 0 };
    return true;
  }
  // "runtime: sp=0x... stack=[0x..., 0x...]" follows it.
  if (tb.stackOverflow && line.startsWith("runtime: sp=")) {
    const sp = line.slice(12, line.indexOf(" ", 12));
    tb.stackOverflow.sp = sp;
    const open = line.indexOf("stack=[");
    if (open > 0) {
      const [lo, hi] = line.slice(open + 7, line.lastIndexOf("]")).split(", ");
      if (lo && hi) tb.stackOverflow.stack = [lo, hi];
    }
    return true;
  }
  return false;
}

function parseCrashAt(lines: string[], start: number): Traceback | null {
  const tb = emptyTraceback(start);
  let bare = false;
  let lastPanic: PanicLink | null = null;
  let j = start;
  const n = lines.length;
  for (; j < n; j++) {
    const line = lines[j] as string;
    if (line.startsWith("panic: ") || (lastPanic && line.startsWith("\tpanic: "))) {
      // A second top-level "panic: " after a complete chain is another crash.
      if (line.charCodeAt(0) !== 9 && tb.panics.length > 0 && lastPanic === null) break;
      lastPanic = panicLink(line.slice(line.indexOf("panic: ") + 7));
      tb.panics.push(lastPanic);
    } else if (lastPanic && line.charCodeAt(0) === 9) {
      // printpanicval indents the continuation lines of a multi-line value with a tab.
      const rest = panicLink(line.slice(1));
      lastPanic.message += `\n${rest.message}`;
      lastPanic.recovered ||= rest.recovered;
      lastPanic.repanicked ||= rest.repanicked;
    } else {
      lastPanic = null;
      if (line.startsWith("fatal error: ")) {
        if (tb.fatalError !== null) break;
        tb.fatalError = line.slice(13);
      } else if (line.startsWith("unexpected fault address ")) {
        if (tb.faultAddress !== null) break;
        tb.faultAddress = line.slice(25).trim();
      } else if (line.startsWith("[signal ")) {
        tb.signal = parseSignalLine(line) ?? tb.signal;
      } else if (line.startsWith("runtime: ")) {
        if (!stackOverflowNote(line, tb)) tb.runtimeNotes.push(line.slice(9));
      } else if (line.startsWith("signal arrived during ")) {
        tb.runtimeNotes.push(line);
      } else if (line === "") {
        // blank lines separate the header from the first stack
      } else if (!tb.signal && lines[j + 1]?.startsWith("PC=") && parseBareSignal(line)) {
        tb.signal = parseBareSignal(line);
        bare = true;
        j++;
        parsePcLine(lines[j] as string, tb.signal as SignalInfo);
      } else break;
    }
    tb.endLine = j;
  }
  if (tb.panics.length === 0 && tb.fatalError === null && tb.signal === null && tb.stackOverflow === null)
    return null;

  const dump = parseDump(lines, j);
  tb.goroutines = dump.goroutines;
  tb.systemStacks = dump.systemStacks;
  tb.registers = dump.registers;
  tb.exitStatus = dump.exitStatus;
  if (dump.end >= j) tb.endLine = dump.end;

  const first = tb.panics[0];
  if (first) {
    tb.kind = "panic";
    tb.message = firstLine(first.message);
  } else if (tb.fatalError !== null) {
    tb.kind = "fatal";
    tb.message = tb.fatalError;
  } else if (tb.signal && bare) {
    tb.kind = "signal";
    tb.message = `${tb.signal.name}: ${tb.signal.description}`;
  } else {
    tb.kind = "fatal";
    tb.message = tb.stackOverflow
      ? "stack overflow"
      : tb.signal
        ? `${tb.signal.name}: ${tb.signal.description}`
        : "";
  }
  if (tb.faultAddress !== null && tb.kind !== "panic") tb.kind = "fatal";
  // runtime/proc.go checkdead: "all goroutines are asleep - deadlock!" and, when main called
  // Goexit and nothing is left, "no goroutines (main called runtime.Goexit) - deadlock!".
  tb.deadlock = tb.fatalError?.endsWith("- deadlock!") ?? false;

  const g = tb.goroutines[0];
  // The runtime prints the goroutine it was on first. A signal that lands on an idle thread prints
  // that thread's `goroutine 0` and then everyone, so the first one listed did nothing wrong,
  // unless it is the one running (tracebackothers prints the thread's curg first).
  if (g && (!dump.idleFirst || g.state.startsWith("running") || tb.deadlock)) {
    tb.crashingGoroutineId = g.id;
    const loc = culpritOf(g.frames);
    if (loc) tb.culprit = { ...loc, goroutineId: g.id };
  }
  tb.goexit =
    (tb.fatalError?.includes("main called runtime.Goexit") ?? false) ||
    (g !== undefined &&
      tb.crashingGoroutineId === g.id &&
      g.frames.some((f) => f.function === "runtime.Goexit"));
  return tb;
}

function panicLink(text: string): PanicLink {
  // runtime/panic.go printpanics appends " [recovered, repanicked]" (Go 1.23+) or " [recovered]".
  if (text.endsWith(" [recovered, repanicked]"))
    return { message: text.slice(0, -24), recovered: true, repanicked: true };
  if (text.endsWith(" [recovered]"))
    return { message: text.slice(0, -12), recovered: true, repanicked: false };
  return { message: text, recovered: false, repanicked: false };
}

const firstLine = (s: string): string => {
  const nl = s.indexOf("\n");
  return nl < 0 ? s : s.slice(0, nl);
};

/**
 * The line to blame: the first frame from the top that is not the runtime's. With `afterPanic`,
 * the search starts below the innermost `panic(` pseudo-frame, skipping the deferred function that
 * recovered and printed the stack (net/http's conn.serve.func1).
 */
export function culpritOf(frames: TracebackFrame[], opts: { afterPanic?: boolean } = {}): Location | null {
  let from = 0;
  if (opts.afterPanic) {
    const p = frames.findIndex((f) => f.function === "panic");
    if (p >= 0) from = p + 1;
  }
  const f = frames[culpritIndex(frames, {}, from)];
  return f ? { function: f.function, file: f.file, line: f.line } : null;
}
