/**
 * `eval` and `mem` on a stored capture: Delve's Eval and ExamineMemory against the exact binary
 * and the core decompressed to the store's cache, with the bundle's build-ID proof checked first
 * (a core read through the wrong binary gives confident nonsense).
 */

import { createDelveSession, type DelveSession, type dlv, formatVariable } from "../analyze/delve/index.js";
import { culpritScope, type Report } from "../contracts/index.js";
import { openCore } from "../elf/index.js";
import { type Bundle, readBundleReport } from "../store/index.js";
import { evalFailed, memUnreadable } from "./errors.js";
import { createRegionIndex, describeRegion, type Region } from "./regions.js";
import { openStoredCapture } from "./stored.js";

const EVAL_LOAD_CONFIG: dlv.LoadConfig = {
  FollowPointers: true,
  MaxVariableRecurse: 2,
  MaxStringLen: 256,
  MaxArrayValues: 64,
  MaxStructFields: -1,
};

export interface InspectOptions {
  force?: boolean;
  dlvPath?: string;
}

async function withSession<T>(
  storeDir: string,
  id: string,
  o: InspectOptions,
  fn: (s: DelveSession, core: string, binary: string, bundle: Bundle) => Promise<T>,
): Promise<T> {
  const stored = await openStoredCapture(storeDir, id, { requireBinary: true, force: o.force ?? false });
  try {
    const s = await createDelveSession({
      binary: stored.binary!,
      core: stored.core,
      ...(o.dlvPath ? { dlvPath: o.dlvPath } : {}),
    });
    try {
      return await fn(s, stored.core, stored.binary!, stored.bundle);
    } finally {
      await s.close();
    }
  } finally {
    await stored.release();
  }
}

// What Delve 1.27.2 says of a variable an optimised build keeps no location for at that PC: a
// go-httpbin service built with plain `go build` gave "empty OP stack" for a local and "could not
// find loclist entry at 0x81b40 for address 0x6c7ea9" for args; with -N -l both read.
const OPTIMISED = /empty OP stack|could not find loclist entry|optimized away/;

export interface EvalResult {
  expr: string;
  goroutine: number;
  /** The frame in the report's numbering (what the report prints as #N). */
  frame: number;
  text: string;
  variable: dlv.Variable;
}

/**
 * Where an eval runs. Frames are numbered as the report numbers them (#N: the index in its
 * goroutine.frames, Delve's own index when Delve read the stack); the goroutine defaults to the
 * crash's. Without --goroutine/--frame: the crash's culprit frame, where the user's locals are
 * (frame 0 of the thread Delve selects is runtime.raise and has none).
 */
interface EvalScopeChoice {
  goroutine: number;
  /** Delve's frame index. */
  delveFrame: number;
  /** The report's number for it. */
  frame: number;
  culprit: boolean;
  fn?: dlv.Stackframe;
}

export function evalInCapture(
  storeDir: string,
  id: string,
  expr: string,
  o: InspectOptions & { goroutine?: number; frame?: number } = {},
): Promise<EvalResult> {
  return withSession(storeDir, id, o, async (s, _core, _binary, bundle) => {
    const at = await chooseScope(s, expr, readReport(bundle), o.goroutine, o.frame);
    const scope = { GoroutineID: at.goroutine, Frame: at.delveFrame, DeferredCall: 0 };
    const fn = at.fn?.function?.name ?? "?";
    const gf = `goroutine ${at.goroutine}, frame #${at.frame} (${fn})`;
    const where = at.culprit ? `the culprit's frame (${gf})` : gf;
    const userFrame = !/^(runtime|internal\/|syscall)\b|^runtime\./.test(fn);
    let v: dlv.Variable;
    try {
      v = (await s.call("Eval", { Scope: scope, Expr: expr, Cfg: EVAL_LOAD_CONFIG })).Variable;
    } catch (e) {
      const why = (e as { shortMessage?: string }).shortMessage ?? (e as Error).message;
      if (!/could not find symbol/.test(why)) throw evalFailed(expr, why, e);
      // An optimised function drops variables it no longer needs (`secret` in exectarget's
      // process, built without -N -l, is not in its DWARF at all): say so rather than "no such".
      // A -N -l function is never told to be rebuilt so; a runtime frame has none of the program's.
      const optimised = at.fn?.function?.optimized === true;
      throw evalFailed(
        expr,
        !userFrame
          ? `${why} in ${where}: that is the Go runtime's frame, not the program's (the report numbers every frame: --frame N picks one)`
          : optimised
            ? `${why} in ${where}: that function is optimised and may have dropped it; rebuild with -gcflags=all=-N -l (hotdump dev does)`
            : `${why} in ${where} (--goroutine N --frame K evaluate elsewhere)`,
        e,
      );
    }
    if (v.unreadable)
      throw evalFailed(
        expr,
        OPTIMISED.test(v.unreadable)
          ? at.fn?.function?.optimized === false
            ? `${v.unreadable} in ${where}: it is not live at this instruction (the binary was built with -N -l)`
            : `${v.unreadable} in ${where}: the binary is optimised and keeps no location for it there; rebuild with -gcflags=all=-N -l (hotdump dev does)`
          : v.unreadable,
      );
    return {
      expr,
      goroutine: at.goroutine,
      frame: at.frame,
      text: formatVariable(v, { maxLength: 4000 }),
      variable: v,
    };
  });
}

function readReport(bundle: Bundle): Report | null {
  try {
    return readBundleReport(bundle);
  } catch {
    return null;
  }
}

/**
 * The goroutine (given, else the crash's, else the one Delve selects) and the frame: the report's
 * #N mapped to Delve's index. The report's numbers are Delve's when Delve read the stack; a
 * traceback or gdb stack is matched to Delve's by function and line.
 */
async function chooseScope(
  s: DelveSession,
  expr: string,
  report: Report | null,
  goroutine: number | undefined,
  frame: number | undefined,
): Promise<EvalScopeChoice> {
  const crash = report ? culpritScope(report) : null;
  let gid = goroutine ?? crash?.goroutine ?? report?.goroutine?.id;
  if (gid === undefined || gid <= 0) {
    const { State: st } = await s.call("State", { NonBlocking: true });
    gid = st.currentGoroutine?.id ?? st.Threads?.find((t) => t.goroutineID > 0)?.goroutineID ?? 1;
  }
  let stack: dlv.Stackframe[];
  try {
    stack = (await s.call("Stacktrace", { Id: gid, Depth: 100, Full: false, Defers: false })).Locations ?? [];
  } catch (e) {
    throw evalFailed(expr, `goroutine ${gid} is not in the core`, e);
  }
  const sameGoroutine = report?.goroutine?.id === gid;
  const shown = sameGoroutine ? (report?.goroutine?.frames ?? []) : [];
  const delveNumbered = sameGoroutine && report?.sources.delve.used === true;
  /** Delve's index of the report's frame k. */
  const toDelve = (k: number): number => {
    if (!sameGoroutine || delveNumbered) return k;
    const f = shown[k];
    if (!f) return -1;
    const nth = shown.slice(0, k).filter((x) => x.function === f.function && x.line === f.line).length;
    let seen = 0;
    return stack.findIndex((x) => x.function?.name === f.function && x.line === f.line && seen++ === nth);
  };
  if (frame === undefined) {
    const c = report?.culprit;
    const k = goroutine === undefined || goroutine === crash?.goroutine ? c?.frame : undefined;
    const d =
      k !== undefined
        ? toDelve(k)
        : c
          ? stack.findIndex((x) => x.function?.name === c.function && x.line === c.line)
          : -1;
    if (d >= 0 && sameGoroutine)
      return { goroutine: gid, delveFrame: d, frame: k ?? d, culprit: true, ...at(stack, d) };
    return { goroutine: gid, delveFrame: 0, frame: 0, culprit: false, ...at(stack, 0) };
  }
  const max = sameGoroutine && shown.length > 0 ? shown.length : stack.length;
  const d = frame < max ? toDelve(frame) : -1;
  if (d < 0 || d >= stack.length)
    throw evalFailed(
      expr,
      `goroutine ${gid} has ${max} frames (#0-#${max - 1}${sameGoroutine ? ", as the report numbers them" : ""}); there is no frame #${frame}`,
    );
  return {
    goroutine: gid,
    delveFrame: d,
    frame,
    culprit: frame === report?.culprit?.frame && sameGoroutine,
    ...at(stack, d),
  };
}

const at = (stack: dlv.Stackframe[], i: number) => (stack[i] ? { fn: stack[i] } : {});

/**
 * The frame of a goroutine's stack an address lies in, numbered as the report and `eval --frame`
 * number frames (Delve's index): frame k holds the bytes from its callee's CFA up to its own
 * (Delve's FrameOffset is the CFA's offset from the stack's top). An argument's spill slot sits
 * in its caller's frame (Go's register ABI spills above the callee's CFA): its address names the
 * caller.
 */
async function stackFrameAt(
  s: DelveSession,
  region: Extract<Region, { kind: "goroutine-stack" }>,
  addr: bigint,
): Promise<{ index: number; function: string } | null> {
  let frames: dlv.Stackframe[];
  try {
    frames =
      (await s.call("Stacktrace", { Id: region.goroutine, Depth: 100, Full: false, Defers: false }))
        .Locations ?? [];
  } catch {
    return null;
  }
  const hi = BigInt(region.hi);
  let below = BigInt(region.lo);
  for (const [index, f] of frames.entries()) {
    const cfa = hi + BigInt(f.FrameOffset);
    if (addr >= below && addr < cfa) return { index, function: f.function?.name ?? "?" };
    below = cfa;
  }
  return null;
}

export interface MemResult {
  address: string;
  length: number;
  bytes: Buffer;
  region: Region;
  /** For an address on a goroutine's stack: the frame it lies in. */
  frame?: { index: number; function: string };
  regionText: string;
}

const EXAMINE_MAX = 1000; // service/rpc2 ExamineMemory refuses more

export function memInCapture(
  storeDir: string,
  id: string,
  addr: bigint,
  length: number,
  o: InspectOptions = {},
): Promise<MemResult> {
  return withSession(storeDir, id, o, async (s, corePath, binary) => {
    const parts: Buffer[] = [];
    for (let done = 0; done < length; ) {
      const n = Math.min(EXAMINE_MAX, length - done);
      try {
        const out = await s.call("ExamineMemory", { Address: Number(addr + BigInt(done)), Length: n });
        const b = Buffer.from(out.Mem ?? "", "base64");
        parts.push(b);
        if (b.length < n) break;
        done += n;
      } catch (e) {
        if (done === 0)
          throw memUnreadable(addr, (e as { shortMessage?: string }).shortMessage ?? (e as Error).message, e);
        break;
      }
    }
    const bytes = Buffer.concat(parts);
    const core = await openCore(corePath);
    try {
      const index = await createRegionIndex({ core, binary, session: s });
      const region = await index.classify(addr);
      const frame = region.kind === "goroutine-stack" ? await stackFrameAt(s, region, addr) : null;
      return {
        address: `0x${addr.toString(16)}`,
        length: bytes.length,
        bytes,
        region,
        ...(frame ? { frame } : {}),
        regionText: `${describeRegion(region)}${frame ? `, frame #${frame.index} ${frame.function}` : ""}`,
      };
    } finally {
      await core.close();
    }
  });
}

/** Like Delve's examinemem -fmt hex, 16 bytes a line, with an ASCII column. */
export function hexDump(addr: bigint, b: Buffer): string {
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 16) {
    const row = b.subarray(i, i + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : ".")).join("");
    lines.push(`0x${(addr + BigInt(i)).toString(16)}:  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join("\n");
}
