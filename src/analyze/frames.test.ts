/**
 * The classifier on frame names and files as Delve 1.27.2, gdb 13.1 and Go 1.26.8 tracebacks
 * printed them for test/fixtures/go/ledger and test/fixtures/go/cgonull (debug, -trimpath and
 * cgo builds). The integration tests (test/frames.test.ts) check the same on live crashes.
 */
import { describe, expect, it } from "vitest";
import { classifyFunction, culpritIndex, locationIndex, packageOf, siteIndex } from "./frames.js";

const GOROOT = "/usr/local/go/src/";

describe("classifyFunction", () => {
  it.each([
    ["runtime.gopark", "/usr/local/go/src/runtime/proc.go", "runtime"],
    ["internal/sync.(*Mutex).Unlock", "/usr/local/go/src/internal/sync/mutex.go", "runtime"],
    ["sync.fatal", "/usr/local/go/src/runtime/panic.go", "runtime"],
    ["panic", "", "runtime"],
    ["sync.(*Mutex).Unlock", "/usr/local/go/src/sync/mutex.go", "stdlib"],
    ["net/http.(*conn).serve.func1", "/usr/local/go/src/net/http/server.go", "stdlib"],
    ["vendor/golang.org/x/net/http2/hpack.(*Decoder).Write", "", "stdlib"],
    ["main.(*ledger).add", "/w/ledger/main.go", "user"],
    ["main.main.gowrap4", "/w/ledger/main.go", "user"],
    [
      "golang.org/x/sync/errgroup.(*Group).Go.func1",
      "/m/golang.org/x/sync@v0.1.0/errgroup/errgroup.go",
      "user",
    ],
    ["main._Cfunc_read_slot", "_cgo_gotypes.go", "cgo"],
    ["C._cgo_5f8637121045_Cfunc_read_slot", "/tmp/go-build/cgo-gcc-prolog", "cgo"],
    ["_cgo_5f8637121045_Cfunc_read_slot", "/tmp/go-build/cgo-gcc-prolog", "cgo"],
    ["C.read_slot", "/w/cgonull/slot.c", "c"],
    ["read_slot", "slot.c", "c"],
    ["??", "", "c"],
    ["?", "?", "c"],
    ["crosscall1", "/usr/local/go/src/runtime/cgo/gcc_amd64.S", "runtime"],
  ])("%s (%s) is %s", (fn, file, cls) => {
    expect(classifyFunction(fn, file, { gorootSrc: GOROOT })).toBe(cls);
  });

  it("uses the build info's module path for a module without a dot in its name", () => {
    expect(classifyFunction("app/store.(*DB).Get", "/srv/app/store/db.go")).toBe("stdlib");
    expect(classifyFunction("app/store.(*DB).Get", "/srv/app/store/db.go", { modulePath: "app" })).toBe(
      "user",
    );
  });

  it("tells -trimpath standard-library files (sync/mutex.go) from the module's by package path", () => {
    expect(classifyFunction("sync.(*Mutex).Unlock", "sync/mutex.go", { gorootSrc: null })).toBe("stdlib");
    expect(
      classifyFunction("main.(*ledger).add", "hotdump.test/fixtures/ledger/main.go", { gorootSrc: null }),
    ).toBe("user");
  });

  it("reads package paths of methods and generic instances", () => {
    expect(packageOf("net/http.(*conn).serve.func1")).toBe("net/http");
    expect(packageOf("example.com/x/y.Map[go.shape.int]")).toBe("example.com/x/y");
    expect(packageOf("read_slot")).toBeNull();
  });
});

// The crashing goroutine of the ledger `unlock` crash as Delve listed it (runtime frames cut).
const throwInSync = [
  { function: "runtime.throw", file: `${GOROOT}runtime/panic.go` },
  { function: "sync.fatal", file: `${GOROOT}runtime/panic.go` },
  { function: "internal/sync.(*Mutex).unlockSlow", file: `${GOROOT}internal/sync/mutex.go` },
  { function: "internal/sync.(*Mutex).Unlock", file: `${GOROOT}internal/sync/mutex.go` },
  { function: "sync.(*Mutex).Unlock", file: `${GOROOT}sync/mutex.go` },
  { function: "main.(*ledger).add", file: "/w/ledger/main.go" },
  { function: "main.main", file: "/w/ledger/main.go" },
];
// The cgonull crash as Delve unwound it through the signal frame.
const cgoFault = [
  { function: "runtime.sigtramp", file: `${GOROOT}runtime/sys_linux_amd64.s` },
  { function: "C.read_slot", file: "/w/cgonull/slot.c" },
  { function: "C._cgo_5f8637121045_Cfunc_read_slot", file: "/tmp/go-build/cgo-gcc-prolog" },
  { function: "runtime.asmcgocall", file: `${GOROOT}runtime/asm_amd64.s` },
  { function: "?", file: "?" },
  { function: "runtime.cgocall", file: `${GOROOT}runtime/cgocall.go` },
  { function: "main._Cfunc_read_slot", file: "_cgo_gotypes.go" },
  { function: "main.lookup", file: "/w/cgonull/main.go" },
];

describe("culprit and site", () => {
  it("a throw in sync: the user's caller is the culprit, the sync method the site", () => {
    expect(throwInSync[culpritIndex(throwInSync)]?.function).toBe("main.(*ledger).add");
    expect(throwInSync[siteIndex(throwInSync)]?.function).toBe("sync.(*Mutex).Unlock");
  });

  it("a cgo fault: the Go caller is the culprit, the C function the site, the glue neither", () => {
    expect(cgoFault[culpritIndex(cgoFault)]?.function).toBe("main.lookup");
    expect(cgoFault[siteIndex(cgoFault)]?.function).toBe("C.read_slot");
  });

  it("no site when the culprit is where it happened", () => {
    const panicInUser = [
      { function: "runtime.gopanic", file: `${GOROOT}runtime/panic.go` },
      { function: "main.process", file: "/w/main.go" },
    ];
    expect(siteIndex(panicInUser)).toBe(-1);
  });

  // The crashing goroutine of a go-httpbin v2.26.0 handler run on its own goroutine with a nil
  // request, as Go 1.26.8 printed it (runtime frames cut): the dependency faulted, lib.go:13 is the
  // service's line that started it.
  const depFault = [
    {
      function: "github.com/mccutchen/go-httpbin/v2/httpbin.(*HTTPBin).Handler.autohead.func3",
      file: "/root/go/pkg/mod/github.com/mccutchen/go-httpbin/v2@v2.26.0/httpbin/middleware.go",
    },
    { function: "net/http.HandlerFunc.ServeHTTP", file: "/usr/local/go/src/net/http/server.go" },
    {
      function: "github.com/mccutchen/go-httpbin/v2/httpbin.(*HTTPBin).ServeHTTP",
      file: "/root/go/pkg/mod/github.com/mccutchen/go-httpbin/v2@v2.26.0/httpbin/httpbin.go",
    },
    { function: "main.init.0.func1.gowrap1", file: "/tmp/ut/svc/lib.go" },
    { function: "runtime.goexit", file: "/usr/local/go/src/runtime/asm_amd64.s" },
  ];

  it("names the main module's frame, not a dependency's, with or without the module path", () => {
    for (const ctx of [{ gorootSrc: GOROOT }, { gorootSrc: GOROOT, modulePath: "example.com/svc" }]) {
      expect(depFault[culpritIndex(depFault, ctx)]?.function).toBe("main.init.0.func1.gowrap1");
      expect(siteIndex(depFault, ctx)).toBe(0);
    }
    // -trimpath prints the dependency's files as module@version/path.
    const trimmed = depFault.map((f) => ({ ...f, file: f.file.replace("/root/go/pkg/mod/", "") }));
    expect(culpritIndex(trimmed, { gorootSrc: null })).toBe(3);
  });

  it("falls back to a dependency's frame when the main module has none on the stack", () => {
    const onlyDep = depFault.slice(0, 3);
    expect(culpritIndex(onlyDep, { gorootSrc: GOROOT })).toBe(0);
    expect(culpritIndex(onlyDep, { gorootSrc: GOROOT, modulePath: "example.com/svc" })).toBe(0);
  });
});

describe("locationIndex (how a goroutine is named in a group)", () => {
  it("names the runtime's own goroutines by their start function, not runtime.gopark", () => {
    const forcegc = [
      { function: "runtime.gopark", file: `${GOROOT}runtime/proc.go` },
      { function: "runtime.goparkunlock", file: `${GOROOT}runtime/proc.go` },
      { function: "runtime.forcegchelper", file: `${GOROOT}runtime/proc.go` },
      { function: "runtime.goexit", file: `${GOROOT}runtime/asm_amd64.s` },
    ];
    expect(forcegc[locationIndex(forcegc)]?.function).toBe("runtime.forcegchelper");
  });

  it("names a goroutine blocked in sync by the user frame below it", () => {
    const waitLock = [
      { function: "runtime.gopark", file: `${GOROOT}runtime/proc.go` },
      { function: "sync.(*Mutex).Lock", file: `${GOROOT}sync/mutex.go` },
      { function: "main.waitLock", file: "/w/ledger/main.go" },
      { function: "runtime.goexit", file: `${GOROOT}runtime/asm_amd64.s` },
    ];
    expect(waitLock[locationIndex(waitLock)]?.function).toBe("main.waitLock");
  });
});
