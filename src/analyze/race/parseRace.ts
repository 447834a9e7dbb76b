/**
 * The race detector's reports. A `-race` binary links ThreadSanitizer; on a data race it writes to
 * stderr (measured with Go 1.26.8, test/fixtures/go/racewrite):
 *
 *   ==================
 *   WARNING: DATA RACE
 *   Read at 0x00c0000b0008 by goroutine 8:
 *     main.(*ledger).audit()
 *         /src/app/main.go:30 +0x3a
 *   ...
 *   Previous write at 0x00c0000b0008 by goroutine 7:        (or "by main goroutine")
 *   ...
 *   Goroutine 8 (running) created at:
 *   ...
 *   ==================
 *
 * and, with the default GORACE (halt_on_error=0, exitcode=66), keeps running and exits 66 at the
 * end ("Found N data race(s)"); with halt_on_error=1 it exits 66 after the first report. No core
 * is written either way: the report text is all there is. TSan's wording for the access comes from
 * compiler-rt tsan_report.cpp MopDesc: "Read", "Write", "Atomic read", "Atomic write", each
 * optionally prefixed by "Previous " (then lower case), and a " (mutexes: ...)" suffix when locks
 * were held.
 */
import type { Frame, Location, Race, RaceAccess, RaceGoroutine } from "../../contracts/index.js";
import { classifyFunction, culpritIndex } from "../frames.js";

export const RACE_RULE = "==================";
export const RACE_WARNING = "WARNING: DATA RACE";

const ACCESS =
  /^(Previous )?((?:[Aa]tomic )?(?:[Rr]ead|[Ww]rite)) at (0x[0-9a-fA-F]+) by (?:goroutine (\d+)|(main goroutine))(?: \(mutexes: ([^)]*)\))?:$/;
const CREATED = /^Goroutine (\d+) \(([^)]+)\) created at:$/;
const FUNC = /^ {2}(\S.*)\(\)$/;
const FILE = /^ {6}(\S.*):(\d+)(?: \+0x[0-9a-fA-F]+)?$/;

/** Every complete race report in a text (a report cut by a ring buffer's start is skipped). */
export function parseRaceReports(text: string): Race[] {
  const out: Race[] = [];
  let block: string[] | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    if (block === null) {
      if (line === RACE_WARNING) block = [];
      continue;
    }
    if (line === RACE_RULE) {
      const r = parseRaceBlock(block);
      if (r) out.push(r);
      block = null;
    } else block.push(line);
  }
  return out;
}

/** The lines between `WARNING: DATA RACE` and the closing rule. */
export function parseRaceBlock(lines: readonly string[]): Race | null {
  const accesses: RaceAccess[] = [];
  const created: RaceGoroutine[] = [];
  let frames: Frame[] | null = null;
  let pending: string | null = null;
  for (const line of lines) {
    let m = ACCESS.exec(line);
    if (m) {
      frames = [];
      const op = m[2]!.toLowerCase();
      accesses.push({
        op: op.endsWith("write") ? "write" : "read",
        atomic: op.startsWith("atomic"),
        previous: Boolean(m[1]),
        addr: m[3]!,
        goroutine: m[4] !== undefined ? Number(m[4]) : null,
        ...(m[6] !== undefined ? { mutexes: m[6] } : {}),
        frames,
      });
      pending = null;
      continue;
    }
    m = CREATED.exec(line);
    if (m) {
      frames = [];
      created.push({ goroutine: Number(m[1]), state: m[2]!, frames });
      pending = null;
      continue;
    }
    if (!frames) continue;
    m = FUNC.exec(line);
    if (m) {
      pending = m[1]!;
      continue;
    }
    m = FILE.exec(line);
    if (m && pending !== null) {
      frames.push({
        function: pending,
        file: m[1]!,
        line: Number(m[2]),
        args: [],
        locals: [],
        runtime: classifyFunction(pending, m[1]!) === "runtime",
        class: classifyFunction(pending, m[1]!),
      });
      pending = null;
      continue;
    }
    // A blank line ends a section; anything else (the program's own output interleaved on the
    // same stderr) is not part of the report.
    if (line.trim() === "") {
      frames = null;
      pending = null;
    }
  }
  if (accesses.length === 0) return null;
  const blamed = blamedAccess(accesses);
  const culprit = blamed ? userLocation(blamed.frames) : null;
  return { accesses, created, culprit };
}

/** The access to blame: the racing write (the current one when both are writes), else the first. */
export function blamedAccess(accesses: readonly RaceAccess[]): RaceAccess | undefined {
  return accesses.find((a) => a.op === "write") ?? accesses[0];
}

/** The service's own code, by the one frame classifier (../frames.ts). */
export function isUserFunction(fn: string): boolean {
  return classifyFunction(fn) === "user";
}

/** The racing access's culprit: its first user frame (else standard library, else the top). */
function userLocation(frames: readonly Frame[]): Location | null {
  const i = culpritIndex(frames);
  const f = frames[Math.max(i, 0)];
  return f ? { function: f.function, file: f.file, line: f.line } : null;
}

const base = (file: string) => file.slice(file.lastIndexOf("/") + 1);

const goroutineName = (g: number | null) => (g === null ? "the main goroutine" : `goroutine ${g}`);

/** `write by goroutine 7 at main.go:25` */
function accessText(a: RaceAccess): string {
  const top = a.frames.find((x) => isUserFunction(x.function)) ?? a.frames[0];
  const at = top ? ` at ${base(top.file)}:${top.line}` : "";
  return `${a.atomic ? "atomic " : ""}${a.op} by ${goroutineName(a.goroutine)}${at}`;
}

/** One line: `data race on 0xc0000b0008: write by goroutine 7 at main.go:25, read by goroutine 8 at main.go:30` */
export function raceMessage(r: Race): string {
  const addr = r.accesses[0]?.addr ?? "?";
  const blamed = blamedAccess(r.accesses);
  const ordered = blamed ? [blamed, ...r.accesses.filter((a) => a !== blamed)] : r.accesses;
  return `data race on ${addr}: ${ordered.map(accessText).join(", ")}`;
}
