/**
 * What an address in a Go core is: a goroutine's stack (which goroutine), a heap object (which
 * span and object), a variable in data/bss (which symbol), a mapped file, a thread's stack, or
 * plain anonymous memory.
 *
 * Goroutine stacks come from runtime.allgs: Delve gives the slice's base and length and the field
 * offsets of g.stack/g.goid/g.atomicstatus (evaluated as unsafe.Pointer arithmetic, which Delve
 * 1.27 supports), and the g structs are then read straight from the core, so 10,000 goroutines
 * cost one eval, not 10,000. Heap addresses are resolved the way the runtime's spanOf does
 * (malloc.go/mheap.go, Go 1.26): arena index = (addr + arenaBaseOffset) / 64 MiB, page index
 * within the arena = addr / 8 KiB mod 8192, then mheap_.arenas[0][ri].spans[j] (arenaL1Bits is 0
 * on linux/amd64 and arm64). Go 1.26 randomises the heap base, so no fixed 0xc000000000 range is
 * assumed.
 */
import type { DelveSession, dlv } from "../analyze/delve/index.js";
import { type Core, coreExecutableIdentity, EM_X86_64, openElf, PT } from "../elf/index.js";
import { readSymbolTable, type SymbolTable } from "./symbols.js";

export type Region =
  | { kind: "goroutine-stack"; goroutine: number; status: string; lo: string; hi: string }
  | {
      kind: "heap";
      span: string | null;
      elemSize: number | null;
      object: string | null;
      offset: number | null;
      spanState: string | null;
    }
  | {
      kind: "data" | "bss" | "rodata" | "text";
      section: string;
      symbol: string | null;
      offset: number | null;
    }
  | { kind: "mapping"; path: string; fileOffset: string }
  | { kind: "thread-stack"; tid: number }
  | { kind: "anonymous"; writable: boolean };

interface GoroutineStack {
  goroutine: number;
  status: string;
  lo: bigint;
  hi: bigint;
}

interface RegionIndex {
  classify(addr: bigint): Promise<Region>;
  /** Goroutine stacks known (empty without Delve). */
  readonly stacks: readonly GoroutineStack[];
  /** Why some names are missing (no binary, no Delve, allgs unreadable), for the output. */
  readonly notes: readonly string[];
}

const HEAP_ARENA_BYTES = 64n << 20n;
const PAGE_SIZE = 8192n;
const PAGES_PER_ARENA = HEAP_ARENA_BYTES / PAGE_SIZE;
const MASK64 = (1n << 64n) - 1n;

// runtime2.go _Gidle.._Gcopystack; the _Gscan bit (0x1000) is masked off.
const G_STATUS = [
  "idle",
  "runnable",
  "running",
  "syscall",
  "waiting",
  "moribund",
  "dead",
  "enqueue",
  "copystack",
  "preempted",
];

const RAW: dlv.LoadConfig = {
  FollowPointers: false,
  MaxVariableRecurse: 0,
  MaxStringLen: 0,
  MaxArrayValues: 0,
  MaxStructFields: 0,
};
const SHALLOW: dlv.LoadConfig = {
  FollowPointers: false,
  MaxVariableRecurse: 2,
  MaxStringLen: 64,
  MaxArrayValues: 0,
  MaxStructFields: -1,
};

interface RegionIndexOptions {
  core: Core;
  binary?: string | null;
  session?: DelveSession | null;
}

export async function createRegionIndex(o: RegionIndexOptions): Promise<RegionIndex> {
  const { core } = o;
  const notes: string[] = [];
  let symbols: SymbolTable | null = null;
  let bias = 0n;
  if (o.binary) {
    const elf = await openElf(o.binary);
    try {
      symbols = await readSymbolTable(elf);
      if (symbols.count === 0)
        notes.push("the binary has no symbol table (-ldflags=-s): data/bss are not named");
      const first = elf.programHeaders.find((p) => p.type === PT.LOAD && p.offset === 0);
      const id = await coreExecutableIdentity(core);
      if (first && id.base !== null) bias = id.base - (first.vaddr & ~0xfffn);
    } finally {
      await elf.close();
    }
  } else notes.push("no binary: data/bss, goroutine stacks and heap spans are not named");

  const stacks = o.session ? await goroutineStacks(core, o.session, notes) : [];
  if (!o.session && o.binary) notes.push("no Delve session: goroutine stacks and heap spans are not named");
  const arenaBase = core.header.machineNumber === EM_X86_64 ? 0xffff800000000000n : 0n;

  const heapRegion = async (addr: bigint): Promise<Region | null> => {
    if (!o.session) return null;
    const ri = ((addr - arenaBase) & MASK64) / HEAP_ARENA_BYTES;
    if (ri >= 1n << 22n) return null;
    const j = (addr / PAGE_SIZE) % PAGES_PER_ARENA;
    const arenaPtr = await evalNumber(o.session, `uintptr(unsafe.Pointer(runtime.mheap_.arenas[0][${ri}]))`);
    if (!arenaPtr) return null;
    const span = await evalQuiet(o.session, `*runtime.mheap_.arenas[0][${ri}].spans[${j}]`, SHALLOW);
    if (!span)
      return { kind: "heap", span: null, elemSize: null, object: null, offset: null, spanState: null };
    const field = (n: string) => span.children?.find((c) => c.name === n);
    const num = (n: string) => {
      const v = field(n);
      return v && /^\d+$/.test(v.value) ? BigInt(v.value) : null;
    };
    const start = num("startAddr");
    const npages = num("npages");
    const elem = num("elemsize");
    // mspan.state is an mSpanStateBox around an atomic uint8: mSpanDead 0, mSpanInUse 1,
    // mSpanManual 2 (stacks and other runtime-managed memory), per mheap.go.
    const st = deepNumber(field("state"));
    const spanState = st === null ? null : (SPAN_STATE[st] ?? `state ${st}`);
    if (start === null || npages === null || addr < start || addr >= start + npages * PAGE_SIZE)
      return {
        kind: "heap",
        span: null,
        elemSize: null,
        object: null,
        offset: null,
        spanState: "stale span entry",
      };
    const objIndex = elem && elem > 0n ? (addr - start) / elem : null;
    const object = objIndex !== null && elem ? start + objIndex * elem : null;
    return {
      kind: "heap",
      span: hex(start),
      elemSize: elem === null ? null : Number(elem),
      object: object === null ? null : hex(object),
      offset: object === null ? null : Number(addr - object),
      spanState,
    };
  };

  return {
    stacks,
    notes,
    async classify(addr) {
      for (const s of stacks)
        if (addr >= s.lo && addr < s.hi)
          return {
            kind: "goroutine-stack",
            goroutine: s.goroutine,
            status: s.status,
            lo: hex(s.lo),
            hi: hex(s.hi),
          };
      const heap = await heapRegion(addr);
      if (heap) return heap;
      if (symbols) {
        const sec = symbols.sectionAt(addr - bias);
        if (sec) {
          const hit = symbols.lookup(addr - bias);
          const kind = sectionKind(sec.name);
          return {
            kind,
            section: sec.name,
            symbol: hit?.symbol.name ?? null,
            offset: hit ? hit.offset : null,
          };
        }
      }
      const file = core.files.find((f) => addr >= f.start && addr < f.end);
      if (file)
        return { kind: "mapping", path: file.path, fileOffset: hex(file.fileOffset + (addr - file.start)) };
      const seg = core.segmentAt(addr);
      for (const t of core.threads) {
        const sp = t.registers.rsp;
        if (seg && sp >= seg.vaddr && sp < seg.end && addr >= sp - 4096n)
          return { kind: "thread-stack", tid: t.tid };
      }
      return { kind: "anonymous", writable: seg ? (seg.flags & 2) !== 0 : false };
    },
  };
}

function sectionKind(name: string): "data" | "bss" | "rodata" | "text" {
  if (name.includes("bss")) return "bss";
  if (name === ".text" || name.startsWith(".text")) return "text";
  if (name.includes("data") && !name.includes("rodata") && !name.includes("rel.ro")) return "data";
  return "rodata";
}

async function evalQuiet(s: DelveSession, expr: string, cfg: dlv.LoadConfig): Promise<dlv.Variable | null> {
  try {
    const out = await s.call("Eval", {
      Scope: { GoroutineID: -1, Frame: 0, DeferredCall: 0 },
      Expr: expr,
      Cfg: cfg,
    });
    return out.Variable.unreadable ? null : out.Variable;
  } catch {
    return null;
  }
}

async function evalNumber(s: DelveSession, expr: string): Promise<bigint | null> {
  const v = await evalQuiet(s, expr, RAW);
  return v && /^\d+$/.test(v.value) ? BigInt(v.value) : null;
}

async function goroutineStacks(core: Core, s: DelveSession, notes: string[]): Promise<GoroutineStack[]> {
  const allgs = await evalQuiet(s, "runtime.allgs", RAW);
  const off = (field: string) =>
    evalNumber(
      s,
      `uintptr(unsafe.Pointer(&runtime.allgs[0].${field})) - uintptr(unsafe.Pointer(runtime.allgs[0]))`,
    );
  const [stackOff, goidOff, statusOff] = await Promise.all([off("stack"), off("goid"), off("atomicstatus")]);
  if (!allgs?.base || stackOff === null || goidOff === null || statusOff === null) {
    notes.push("runtime.allgs is not readable: goroutine stacks are not named");
    return [];
  }
  const n = allgs.len;
  const ptrs = await core.readMemory(BigInt(allgs.base), n * 8, { partial: true });
  const span = Number([stackOff + 16n, goidOff + 8n, statusOff + 4n].reduce((a, b) => (a > b ? a : b)));
  const out: GoroutineStack[] = [];
  for (let i = 0; i + 8 <= ptrs.length; i += 8) {
    const g = ptrs.readBigUInt64LE(i);
    if (g === 0n) continue;
    const b = await core.readMemory(g, span, { partial: true }).catch(() => null);
    if (!b || b.length < span) continue;
    const lo = b.readBigUInt64LE(Number(stackOff));
    const hi = b.readBigUInt64LE(Number(stackOff) + 8);
    if (lo === 0n || hi <= lo) continue;
    const st = b.readUInt32LE(Number(statusOff)) & ~0x1000;
    out.push({
      goroutine: Number(b.readBigUInt64LE(Number(goidOff))),
      status: G_STATUS[st] ?? `status ${st}`,
      lo,
      hi,
    });
  }
  return out;
}

const SPAN_STATE = ["free span", "in use", "manual span: stacks"];

function deepNumber(v: dlv.Variable | undefined): number | null {
  if (!v) return null;
  if (/^\d+$/.test(v.value)) return Number(v.value);
  for (const c of v.children ?? []) {
    const n = deepNumber(c);
    if (n !== null) return n;
  }
  return null;
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

/** One line: `goroutine 20 stack (waiting)`, `heap object 0x...+8 (48-byte span 0x...)`. */
export function describeRegion(r: Region): string {
  switch (r.kind) {
    case "goroutine-stack":
      return `goroutine ${r.goroutine} stack (${r.status}${r.status === "dead" ? ", cached for reuse" : ""})`;
    case "heap":
      return r.object
        ? `heap object ${r.object}+${r.offset} (${r.elemSize}-byte objects, span ${r.span}${r.spanState && r.spanState !== "in use" ? `, ${r.spanState}` : ""})`
        : `heap${r.spanState ? ` (${r.spanState})` : ""}`;
    case "data":
    case "bss":
    case "rodata":
    case "text":
      return `${r.section}${r.symbol ? ` ${r.symbol}${r.offset ? `+${r.offset}` : ""}` : ""}`;
    case "mapping":
      return `${r.path} @ ${r.fileOffset}`;
    case "thread-stack":
      return `system stack of thread ${r.tid}`;
    case "anonymous":
      return `anonymous ${r.writable ? "rw" : "ro"} mapping`;
  }
}
