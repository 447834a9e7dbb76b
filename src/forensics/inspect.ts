/**
 * `eval` and `mem` on a stored capture: Delve's Eval and ExamineMemory against the exact binary
 * and the core decompressed to the store's cache, with the bundle's build-ID proof checked first
 * (a core read through the wrong binary gives confident nonsense).
 */

import { createDelveSession, type DelveSession, type dlv, formatVariable } from "../analyze/delve/index.js";
import { culpritScope, type Report } from "../contracts/report.js";
import { openCore } from "../elf/index.js";
import { type Bundle, readBundleReport } from "../store/index.js";
import { evalFailed, memUnreadable } from "./errors.js";
import { createRegionIndex, describeRegion, type Region } from "./regions.js";
import { openStoredCapture } from "./stored.js";

export const EVAL_LOAD_CONFIG: dlv.LoadConfig = {
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
  frame: number;
  text: string;
  variable: dlv.Variable;
}

/**
 * Without --goroutine/--frame: the crash's culprit frame (report.json), where the user's locals
 * are; frame 0 of the thread Delve selects is runtime.raise and has none. Else Delve's choice.
 */
export function evalInCapture(
  storeDir: string,
  id: string,
  expr: string,
  o: InspectOptions & { goroutine?: number; frame?: number } = {},
): Promise<EvalResult> {
  return withSession(storeDir, id, o, async (s, _core, _binary, bundle) => {
    const at = o.goroutine === undefined && o.frame === undefined ? await culpritFrameOf(s, bundle) : null;
    const scope = {
      GoroutineID: o.goroutine ?? at?.goroutine ?? -1,
      Frame: o.frame ?? at?.frame ?? 0,
      DeferredCall: 0,
    };
    const gf = `goroutine ${scope.GoroutineID}, frame ${scope.Frame}`;
    const where = at ? `the culprit's frame (${gf})` : gf;
    let v: dlv.Variable;
    try {
      v = (await s.call("Eval", { Scope: scope, Expr: expr, Cfg: EVAL_LOAD_CONFIG })).Variable;
    } catch (e) {
      const why = (e as { shortMessage?: string }).shortMessage ?? (e as Error).message;
      if (!/could not find symbol/.test(why)) throw evalFailed(expr, why, e);
      // An optimised function drops variables it no longer needs (`secret` in exectarget's
      // process, built without -N -l, is not in its DWARF at all): say so rather than "no such".
      const optimised = await frameOptimised(s, scope.GoroutineID, scope.Frame);
      throw evalFailed(
        expr,
        optimised
          ? `${why} in ${where}: that function is optimised and may have dropped it; rebuild with -gcflags=all=-N -l (hotdump dev does)`
          : `${why} in ${where} (--goroutine N --frame K evaluate elsewhere)`,
        e,
      );
    }
    if (v.unreadable)
      throw evalFailed(
        expr,
        OPTIMISED.test(v.unreadable)
          ? `${v.unreadable} in ${where}: the binary is optimised and keeps no location for it there; rebuild with -gcflags=all=-N -l (hotdump dev does)`
          : v.unreadable,
      );
    return {
      expr,
      goroutine: scope.GoroutineID,
      frame: scope.Frame,
      text: formatVariable(v, { maxLength: 4000 }),
      variable: v,
    };
  });
}

async function frameOptimised(s: DelveSession, goroutine: number, frame: number): Promise<boolean> {
  try {
    const st = await s.call("Stacktrace", { Id: goroutine, Depth: frame + 1, Full: false, Defers: false });
    return st.Locations?.[frame]?.function?.optimized === true;
  } catch {
    return false;
  }
}

/**
 * The culprit's goroutine and its index in Delve's own stack. The report's index is Delve's only
 * when Delve made the report (the traceback and gdb number frames differently), so the frame is
 * looked up by function and line.
 */
async function culpritFrameOf(
  s: DelveSession,
  bundle: Bundle,
): Promise<{ goroutine: number; frame?: number } | null> {
  let report: Report;
  try {
    report = readBundleReport(bundle);
  } catch {
    return null;
  }
  const at = culpritScope(report);
  const c = report.culprit;
  if (!at || !c) return at;
  try {
    const st = await s.call("Stacktrace", { Id: at.goroutine, Depth: 100, Full: false, Defers: false });
    const k = (st.Locations ?? []).findIndex((f) => f.function?.name === c.function && f.line === c.line);
    return k >= 0 ? { goroutine: at.goroutine, frame: k } : at;
  } catch {
    return at;
  }
}

export interface MemResult {
  address: string;
  length: number;
  bytes: Buffer;
  region: Region;
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
      return {
        address: `0x${addr.toString(16)}`,
        length: bytes.length,
        bytes,
        region,
        regionText: describeRegion(region),
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
