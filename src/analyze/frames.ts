/**
 * The one frame classifier. Every path that sees a stack (Delve, the traceback parser, gdb, the
 * goroutine grouping, the renderers and the dashboard through the report's `class`) asks here
 * whose code a frame is, so one crash is read the same way whichever analyser ran.
 *
 * A leaf module (it imports only the contract's FrameClass type), so the parsers can use it without
 * pulling in a debugger.
 *
 * Classes:
 *  - runtime: the Go runtime and Go-private packages (runtime, runtime/*, internal/*), the
 *    runtime's `panic` pseudo-frame and functions the runtime links into other packages
 *    (sync.fatal, sync.throw: runtime/panic.go `//go:linkname sync_fatal sync.fatal`);
 *  - stdlib: the rest of the standard library (a package path whose first element has no dot,
 *    go/build's rule; or a file under GOROOT/src);
 *  - cgo: code cgo generates (`_Cfunc_*`, `_Cgo_*`, `_cgo_*`, in `_cgo_gotypes.go` or the
 *    `cgo-gcc-prolog` wrappers); nobody wrote it, so it is never the culprit;
 *  - c: C (or other non-Go) code: Delve names it `C.fn`, gdb by its bare symbol; `?` frames
 *    without a symbol are foreign code too;
 *  - user: everything else: the main module and its dependencies (the culprit prefers the main
 *    module's frames: isMainModuleFrame).
 */

import type { FrameClass } from "../contracts/index.js";

export type { FrameClass };

export interface FrameLike {
  function: string;
  file: string;
  line?: number;
}

/** What the binary says about itself (src/elf/buildinfo.ts) and where its GOROOT was. */
export interface ClassifyContext {
  /** The main module's path (`mod` line of the build info). */
  modulePath?: string | null;
  /** GOROOT as frame files print it, with `/src/` (`/usr/local/go/src/`); null under -trimpath. */
  gorootSrc?: string | null;
}

const C_SUFFIX = /\.(c|h|cc|cpp|cxx|hpp|m|s|S)$/;
const CGO_NAME = /(^|\.)(_Cfunc_|_Cgo_|_cgo_|_Cmacro_|_Cvar_)/;

/**
 * The import path of a Go function's package: `net/http.(*conn).serve.func1` → `net/http`,
 * `main.(*ledger).add` → `main`. Null for a name that is not a Go function (`read_slot`, `??`).
 */
export function packageOf(fn: string): string | null {
  const slash = fn.lastIndexOf("/", fn.indexOf("[") >= 0 ? fn.indexOf("[") : fn.length);
  const dot = fn.indexOf(".", slash + 1);
  if (dot <= 0) return null;
  return fn.slice(0, dot);
}

const isStdPath = (pkg: string) => {
  const first = pkg.split("/")[0] ?? "";
  return !first.includes(".") && first !== "main";
};

const underModule = (pkg: string, mod: string | null | undefined) =>
  Boolean(mod) && (pkg === mod || pkg.startsWith(`${mod}/`));

export function classifyFunction(fn: string, file = "", ctx: ClassifyContext = {}): FrameClass {
  if (fn === "" || fn === "?" || fn === "??") return "c";
  if (fn === "panic") return "runtime";
  // Go's runtime/cgo C files (gcc_linux_amd64.c, crosscall2) are the runtime's, not the user's C.
  if (file.includes("/src/runtime/cgo/") || file.startsWith("runtime/cgo/")) return "runtime";
  if (CGO_NAME.test(fn) || file.endsWith("_cgo_gotypes.go") || file.endsWith("cgo-gcc-prolog")) return "cgo";
  // Delve names C functions `C.read_slot` (pkg/proc: DWARF CUs in C have no package).
  if (fn.startsWith("C.")) return "c";
  const pkg = packageOf(fn);
  if (pkg === null) return "c";
  if (pkg === "runtime" || pkg.startsWith("runtime/") || pkg.startsWith("internal/")) return "runtime";
  if (fn.startsWith("sync.fatal") || fn.startsWith("sync.throw")) return "runtime";
  if (underModule(pkg, ctx.modulePath)) return "user";
  if (ctx.gorootSrc && file.startsWith(ctx.gorootSrc)) return "stdlib";
  // std's vendored copies (vendor/golang.org/x/net/...) are printed with the vendor/ prefix.
  if (pkg.startsWith("vendor/") || isStdPath(pkg)) {
    // A file that is plainly C (a gdb frame whose symbol has a dot) is not the library's Go.
    return C_SUFFIX.test(file) ? "c" : "stdlib";
  }
  return "user";
}

export function classifyFrame(f: FrameLike, ctx: ClassifyContext = {}): FrameClass {
  return classifyFunction(f.function, f.file, ctx);
}

/** The old boolean: folded in presentation, never the culprit. */
export function isRuntimeFunction(fn: string): boolean {
  return classifyFunction(fn) === "runtime";
}

// A dependency's files are printed from the module cache (`/root/go/pkg/mod/github.com/x/y@v1.2.3/
// z.go`) or, under -trimpath, as `github.com/x/y@v1.2.3/z.go`; the main module's never carry a
// version (measured with Go 1.26.8 on a go-httpbin v2.26.0 crash).
const VERSIONED_DIR = /@v\d[^/]*\//;

/**
 * A user frame of the main module itself, not of one of its dependencies: package main, a package
 * under the build info's module path, or (module path unknown) a file outside the module cache.
 */
function isMainModuleFrame(f: FrameLike, ctx: ClassifyContext = {}): boolean {
  const pkg = packageOf(f.function);
  if (pkg === null) return false;
  if (pkg === "main" || underModule(pkg, ctx.modulePath)) return true;
  if (ctx.modulePath) return false;
  return !VERSIONED_DIR.test(f.file);
}

/**
 * The culprit of a crashing stack (innermost first): the first frame of the main module, so a
 * throw inside the standard library (`sync: unlock of unlocked mutex`), a fault in C code and a nil
 * dereference inside a dependency (go-httpbin handed a nil request) name the line of the service's
 * own code that led there; the frame that faulted is the `site`. With no frame of the main module
 * (a goroutine a dependency started), the first dependency frame; else the first standard-library
 * frame; else -1.
 */
export function culpritIndex(frames: readonly FrameLike[], ctx: ClassifyContext = {}, from = 0): number {
  let std = -1;
  let dep = -1;
  for (let i = from; i < frames.length; i++) {
    const f = frames[i] as FrameLike;
    const c = classifyFrame(f, ctx);
    if (c === "user") {
      if (isMainModuleFrame(f, ctx)) return i;
      if (dep < 0) dep = i;
    }
    if (c === "stdlib" && std < 0) std = i;
  }
  return dep >= 0 ? dep : std;
}

/**
 * Where it happened when that is not the culprit: the innermost frame that is neither the
 * runtime nor generated cgo glue (the C function that faulted, the sync method that threw).
 * -1 when that frame is the culprit itself or there is none.
 */
export function siteIndex(frames: readonly FrameLike[], ctx: ClassifyContext = {}): number {
  const culprit = culpritIndex(frames, ctx);
  for (let i = 0; i < frames.length; i++) {
    const c = classifyFrame(frames[i] as FrameLike, ctx);
    if (c === "runtime" || c === "cgo") continue;
    if (c === "c" && (frames[i] as FrameLike).function.replace(/^\?+$/, "") === "") continue;
    return i === culprit ? -1 : i;
  }
  return -1;
}

/**
 * The frame that names a goroutine in a group: its innermost user frame; else its innermost
 * standard-library frame (a goroutine started on `time.Sleep`); else, for the runtime's own
 * goroutines, the function it was started on (`runtime.forcegchelper`, the last frame before
 * runtime.goexit), which tells them apart where the parking frame (`runtime.gopark`) cannot.
 */
export function locationIndex(frames: readonly FrameLike[], ctx: ClassifyContext = {}): number {
  const i = culpritIndex(frames, ctx);
  if (i >= 0) return i;
  for (let k = frames.length - 1; k >= 0; k--) {
    const fn = (frames[k] as FrameLike).function;
    if (fn !== "runtime.goexit" && fn !== "?" && fn !== "??") return k;
  }
  return frames.length > 0 ? 0 : -1;
}

/**
 * GOROOT/src as printed, from any runtime frame's file (`/usr/local/go/src/runtime/proc.go`).
 * Under -trimpath runtime files print as `runtime/proc.go`: null then, and package paths alone
 * tell the standard library apart.
 */
export function detectGorootSrc(files: Iterable<string>): string | null {
  let n = 0;
  for (const file of files) {
    if (++n > 2000) break;
    for (const dir of ["/src/runtime/", "/src/internal/"]) {
      const k = file.lastIndexOf(dir);
      if (k > 0) return file.slice(0, k + 5);
    }
  }
  return null;
}
