/**
 * Panics a service recovered and logged, in each form the common Go servers print (every one
 * recorded from a real program, test/fixtures/recovered, test/fixtures/tracebacks/recovered-*.txt):
 *
 *  - net/http: `http: panic serving ADDR: VALUE` + runtime.Stack of the goroutine (http.ts);
 *  - chi middleware.Recoverer: ` panic: VALUE`, then its "pretty" stack from the panic site on:
 *    ` -> FN` / ` ->   FILE:LINE` for the site, `    FN` / `      FILE:LINE` for the rest
 *    (chi middleware/recoverer.go prettyStack; ANSI colours on a terminal);
 *  - gin Recovery: `[Recovery] DATE - TIME panic recovered:`, in debug mode the request, VALUE,
 *    then gin's own stack: `FILE:LINE (0xPC)` / `\tSHORTFN: source` (gin recovery.go stack(3)),
 *    whose function names lost their package path (`total`, `(*Context).Next`);
 *  - echo middleware.Recover: `[PANIC RECOVER] VALUE goroutine N [running]:\n...` through echo's
 *    logger, by default one JSON line on stdout with the stack escaped inside `message`
 *    (echo middleware/recover.go; runtime.Stack of all goroutines unless DisableStackAll);
 *  - grpc-go with go-grpc-middleware/v2 recovery: the interceptor returns a PanicError whose text
 *    is `panic caught: VALUE\n\n` + runtime.Stack (interceptors/recovery/interceptors.go); whatever
 *    logs the error prints it, raw or escaped on one line (slog's text and JSON handlers).
 *
 * Each becomes a Traceback of one goroutine (its frames from the panic site out), so the report,
 * the culprit and the frame classes come from the same code as a crash's.
 */
import { findRecoveredHttpPanics } from "./http.js";
import { parseDump, splitLines } from "./parseTraceback.js";
import { emptyTraceback, type Goroutine, type Traceback, type TracebackFrame } from "./tracebackTypes.js";

export type RecoveredForm = "net/http" | "chi" | "gin" | "echo" | "grpc";

export interface RecoveredPanic {
  /** Which server or middleware recovered it. */
  form: RecoveredForm;
  /** The panic value as printed (first line). */
  message: string;
  /** net/http's client address, when printed. */
  remoteAddr?: string;
  /** The panicking goroutine, frames from the panic site out (the recovering handler removed). */
  goroutine: Goroutine | null;
  /** 0-based line where it starts in the input. */
  line: number;
}

const ANSI = /\x1b\[[0-9;]*m/g;
const CHI_START = /^ panic: /;
const GIN_START = /\[Recovery\] .*panic recovered:\s*$/;
const ECHO_MARK = "[PANIC RECOVER] ";
const GRPC_MARK = "panic caught: ";
const HTTP_START = /\bhttp2?: panic serving /;

/** A line that opens a recovered panic (after ANSI codes are removed), and which form. */
export function recoveredStart(line: string): RecoveredForm | null {
  const l = line.includes("\x1b") ? line.replace(ANSI, "") : line;
  if (HTTP_START.test(l)) return "net/http";
  if (CHI_START.test(l)) return "chi";
  if (GIN_START.test(l)) return "gin";
  if (l.includes(ECHO_MARK)) return "echo";
  if (l.includes(GRPC_MARK)) return "grpc";
  return null;
}

export function findRecoveredPanics(text: string): RecoveredPanic[] {
  const lines = splitLines(text.includes("\x1b") ? text.replace(ANSI, "") : text);
  const out: RecoveredPanic[] = [];
  for (let i = 0; i < lines.length; i++) {
    const form = recoveredStart(lines[i] as string);
    if (!form) continue;
    let found: { panic: RecoveredPanic; end: number } | null = null;
    if (form === "net/http") {
      // http.ts reads the whole rest; take its first entry and go on after its stack.
      const [p] = findRecoveredHttpPanics(lines.slice(i).join("\n"));
      if (p)
        found = {
          panic: {
            form,
            message: firstLine(p.message),
            remoteAddr: p.remoteAddr,
            goroutine: p.goroutine ? fromPanicSite(p.goroutine) : null,
            line: i,
          },
          end: i + (p.goroutine ? stackEnd(lines, i) - i : 0),
        };
    } else if (form === "chi") found = chiAt(lines, i);
    else if (form === "gin") found = ginAt(lines, i);
    else found = markedAt(lines, i, form === "echo" ? ECHO_MARK : GRPC_MARK, form);
    if (!found) continue;
    out.push(found.panic);
    i = Math.max(i, found.end);
  }
  return out;
}

/** The Traceback of a recovered panic: what reportFromTraceback makes a report of. */
export function recoveredTraceback(p: RecoveredPanic): Traceback {
  return {
    ...emptyTraceback(p.line),
    message: p.message,
    panics: [{ message: p.message, recovered: true, repanicked: false }],
    goroutines: p.goroutine ? [p.goroutine] : [],
    crashingGoroutineId: p.goroutine?.id ?? null,
  };
}

const firstLine = (s: string) => {
  const nl = s.indexOf("\n");
  return (nl < 0 ? s : s.slice(0, nl)).trim();
};

/** The frames below the innermost `panic(` pseudo-frame: what recovered and printed is not the bug. */
function fromPanicSite(g: Goroutine): Goroutine {
  let p = -1;
  for (let k = 0; k < g.frames.length; k++) if (g.frames[k]?.function === "panic") p = k;
  return p < 0 ? g : { ...g, frames: g.frames.slice(p + 1) };
}

/** Where the one goroutine's stack that follows line `i` ends. */
function stackEnd(lines: string[], i: number): number {
  let j = i + 1;
  while (j < lines.length && j - i <= 50 && !(lines[j] as string).startsWith("goroutine ")) j++;
  if (j >= lines.length || j - i > 50) return i;
  return parseDump(lines, j, 1).end;
}

function goroutine(id: number, frames: TracebackFrame[]): Goroutine {
  return {
    id,
    state: "running",
    lockedToThread: false,
    stateExtras: [],
    frames,
    elidedFrames: 0,
    additionalFramesElided: false,
  };
}

function frame(fn: string, file: string, line: number, pc?: string): TracebackFrame {
  const f: TracebackFrame = { function: fn, rawArgs: "", inlined: false, file, line, runtime: false };
  if (pc) f.pc = pc;
  f.runtime = fn === "panic" || /^runtime\.|^internal\//.test(fn);
  return f;
}

const FILE_LINE = /^(.+\.(?:go|s)):(\d+)$/;

/** chi's pretty stack: function and file lines in pairs, indented, `->` marking the site. */
function chiAt(lines: string[], i: number): { panic: RecoveredPanic; end: number } | null {
  const message = (lines[i] as string).replace(CHI_START, "");
  const frames: TracebackFrame[] = [];
  let fn: string | null = null;
  let end = i;
  for (let j = i + 1; j < lines.length && j - i < 400; j++) {
    const raw = lines[j] as string;
    const t = raw.replace(/^\s*(->)?\s*/, "").trimEnd();
    if (t === "") {
      if (raw === "" && frames.length > 0 && fn === null && lines[j + 1]?.startsWith("    ") !== true) break;
      end = j;
      continue;
    }
    if (!/^\s/.test(raw)) break;
    const loc = FILE_LINE.exec(t);
    if (loc && fn !== null) {
      frames.push(frame(fn, loc[1] as string, Number(loc[2])));
      fn = null;
    } else if (t.startsWith("created by ")) fn = null;
    else if (!loc) fn = t.replace(/\(.*\)$/, "");
    else break;
    end = j;
  }
  return { panic: { form: "chi", message: message.trim(), goroutine: goroutine(0, frames), line: i }, end };
}

const GIN_FRAME = /^(.+):(\d+) \((0x[0-9a-f]+)\)$/;

/** gin's stack: `FILE:LINE (0xPC)` then `\tSHORTFN: source`; the value comes before the first. */
function ginAt(lines: string[], i: number): { panic: RecoveredPanic; end: number } | null {
  const before: string[] = [];
  let j = i + 1;
  // In debug mode the request comes first (`GET /x HTTP/1.1`, headers, a blank line).
  if (/^[A-Z]+ \S+ HTTP\/[\d.]+$/.test(lines[j] ?? "")) {
    while (j < lines.length && lines[j] !== "") j++;
  }
  for (; j < lines.length && !GIN_FRAME.test(lines[j] as string) && j - i < 50; j++)
    if ((lines[j] as string).trim() !== "") before.push(lines[j] as string);
  const raw: { file: string; line: number; pc: string; short: string }[] = [];
  let end = j - 1;
  for (; j < lines.length; j++) {
    const m = GIN_FRAME.exec(lines[j] as string);
    if (!m) break;
    const next = lines[j + 1] ?? "";
    const short = next.startsWith("\t")
      ? next.slice(1, next.indexOf(":") > 0 ? next.indexOf(":") : undefined)
      : "";
    raw.push({ file: m[1] as string, line: Number(m[2]), pc: m[3] as string, short });
    end = next.startsWith("\t") ? ++j : j;
  }
  if (raw.length === 0 && before.length === 0) return null;
  const gorootSrc = raw.map((r) => /^(.*\/src\/)runtime\/[^/]+$/.exec(r.file)?.[1]).find(Boolean) ?? null;
  const frames = raw.map((r) => frame(qualify(r.short, r.file, gorootSrc), r.file, r.line, r.pc));
  const message = before.join("\n");
  return {
    panic: {
      form: "gin",
      message: firstLine(message),
      goroutine: fromPanicSite(goroutine(0, frames)),
      line: i,
    },
    end,
  };
}

/**
 * gin prints `runtime.FuncForPC(pc).Name()` without its package path (`main.total` → `total`,
 * `github.com/gin-gonic/gin.(*Context).Next` → `(*Context).Next`): the package comes back from
 * the file's directory: under GOROOT/src the import path, in the module cache the module path and
 * its subdirectory (`!x` is how the cache escapes an upper-case X), elsewhere the main module.
 * A main-module package other than main cannot be told from its file path, so it is named `main`.
 */
function qualify(short: string, file: string, gorootSrc: string | null): string {
  if (!short) return "?";
  let pkg = "main";
  const mod = /\/pkg\/mod\/(.+)@[^/]+\/(?:(.*)\/)?[^/]+$/.exec(file);
  if (gorootSrc && file.startsWith(gorootSrc)) pkg = file.slice(gorootSrc.length, file.lastIndexOf("/"));
  else if (mod) {
    const path = (mod[1] as string).replace(/!([a-z])/g, (_, c: string) => c.toUpperCase());
    pkg = mod[2] ? `${path}/${mod[2]}` : path;
  }
  // main.main.func1 prints as main.func1: the package name goes back in front of it as of any other.
  return `${pkg}.${short}`;
}

/**
 * echo's and grpc's forms: a marker, the value, then runtime.Stack. On one line when a logger
 * escaped it (JSON, slog's quoted values): read the line's string back first.
 */
function markedAt(
  lines: string[],
  i: number,
  marker: string,
  form: RecoveredForm,
): { panic: RecoveredPanic; end: number } | null {
  const line = lines[i] as string;
  let body: string[];
  let end = i;
  if (/\\n(goroutine \d+ \[|\\t)/.test(line)) {
    body = splitLines(unescapeLogged(line.slice(line.indexOf(marker) + marker.length)));
  } else {
    body = [line.slice(line.indexOf(marker) + marker.length), ...lines.slice(i + 1, i + 400)];
  }
  // The value runs until the stack's header: `VALUE goroutine N [running]:` (echo), or a blank
  // line and the header (grpc).
  let k = 0;
  let message = "";
  const inline = /^(.*?) ?(goroutine \d+ \[[^\]]*\]:)$/.exec(body[0] ?? "");
  if (inline) {
    message = inline[1] as string;
    body[0] = inline[2] as string;
  } else {
    const parts: string[] = [];
    for (; k < body.length && k < 50 && !(body[k] as string).startsWith("goroutine "); k++)
      parts.push(body[k] as string);
    message = parts.join("\n").trim();
  }
  if (k >= body.length || !(body[k] as string).startsWith("goroutine ")) {
    return { panic: { form, message: firstLine(message), goroutine: null, line: i }, end };
  }
  const dump = parseDump(body, k, 1);
  const g = dump.goroutines[0];
  if (body.length > 1 && !/\\n/.test(line)) end = i + dump.end;
  return {
    panic: { form, message: firstLine(message), goroutine: g ? fromPanicSite(g) : null, line: i },
    end,
  };
}

/** A logged string read back: a JSON line's field, or slog's quoted value (`stack="...\n..."`). */
function unescapeLogged(s: string): string {
  // Cut at the closing quote of the string the marker is in: an unescaped `"`.
  const close = /(?<!\\)"/.exec(s);
  const inner = close ? s.slice(0, close.index) : s;
  try {
    return JSON.parse(`"${inner}"`) as string;
  } catch {
    return inner.replace(/\\n/g, "\n").replace(/\\t/g, "\t").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
  }
}
