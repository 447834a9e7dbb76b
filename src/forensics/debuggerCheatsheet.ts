/**
 * The Delve and gdb commands that matter on a Go core. Every entry carries the exact command the
 * cheat-sheet test runs against a real core of test/fixtures/go/fxmem (crash mode) and a pattern
 * its output must match; a command that stops working on a new Go or Delve fails that test.
 * Left out because they do not work here on Go 1.26: gdb's `info goroutines` / `goroutine N bt`
 * (they need runtime-gdb.py auto-loaded, which gdb refuses by default under its safe-path rule),
 * Delve's `examinemem` with a bare expression (it wants an address or `-x EXPR`), and `frame K print e`
 * in runtime.gopanic on a kernel-written core (`error loading module data: read out of bounds`):
 * the panic value is read from `stack -full` instead.
 */

type CheatTool = "dlv" | "gdb";

interface CheatEntry {
  tool: CheatTool;
  /** The general form, as a person types it. */
  command: string;
  what: string;
  /** The concrete command run by the test on the fixture's core ({STACKHOLDER}: the goroutine id the fixture prints). */
  example: string;
  /** A regular expression the example's output must match. */
  expect: string;
}

const VERIFIED_WITH = { go: "go1.26.8", delve: "1.27.2", gdb: "13.1" } as const;

export const CHEATSHEET: readonly CheatEntry[] = [
  {
    tool: "dlv",
    command: "goroutines -group userloc",
    what: "goroutines grouped by their topmost user frame: a leak shows as one big group",
    example: "goroutines -group userloc",
    expect: "main\\.go:\\d+ in main\\.stackHolder[\\s\\S]*Total: 1",
  },
  {
    tool: "dlv",
    command: "stack -full   (alias bt -full)",
    what: "the current goroutine's stack with every frame's arguments and locals",
    example: "stack -full",
    expect: "main\\.crash[\\s\\S]*count = 42",
  },
  {
    tool: "dlv",
    command: "goroutine N stack",
    what: "another goroutine's stack",
    example: "goroutine {STACKHOLDER} stack",
    expect: "main\\.stackHolder",
  },
  {
    tool: "dlv",
    command: "goroutine N frame K locals",
    what: "the locals of frame K of goroutine N",
    example: "goroutine {STACKHOLDER} frame 3 locals",
    expect: "marker = \\[4\\]uint32",
  },
  {
    tool: "dlv",
    command: "regs",
    what: "the current thread's registers",
    example: "regs",
    expect: "Rip = 0x[0-9a-f]+",
  },
  {
    tool: "dlv",
    command: "print EXPR",
    what: "any Go expression: a global, a field, a slice element",
    example: "print main.heapObj.Name",
    expect: '"heap-marker"',
  },
  {
    tool: "dlv",
    command: "examinemem -fmt hex -count N -size 4 -x EXPR",
    what: "raw memory at the address an expression gives",
    example: "examinemem -fmt hex -count 4 -size 4 -x main.heapObj",
    expect: "0xdeadbeef\\s+0x4ea90002",
  },
  {
    tool: "dlv",
    command: "print runtime.gcController.heapInUse",
    what: "bytes in in-use heap spans (MemStats.HeapInuse); runtime.memstats has no heapInUse on Go 1.26",
    example: "print runtime.gcController.heapInUse",
    expect: "\\d{4,}",
  },
  {
    tool: "dlv",
    command: "print len(runtime.allgs)",
    what: "how many goroutines the runtime has ever kept (live plus dead ones cached for reuse)",
    example: "print len(runtime.allgs)",
    expect: "^\\d+$",
  },
  {
    tool: "gdb",
    command: "info threads",
    what: "the OS threads and where each stopped",
    example: "info threads",
    expect: "runtime\\.raise",
  },
  {
    tool: "gdb",
    command: "bt",
    what: "the crashing thread's native stack (goroutine-unaware)",
    example: "bt",
    expect: "#0 .*runtime\\.raise",
  },
  {
    tool: "gdb",
    command: "frame function FUNC  then  info locals",
    what: "the locals of a frame chosen by function name",
    example: "frame function main.crash\ninfo locals",
    expect: "count = 42",
  },
  {
    tool: "gdb",
    command: "print *'PKG.VAR'",
    what: "a Go global (quote names with dots)",
    example: "print *'main.heapObj'",
    expect: 'Name = 0x[0-9a-f]+ "heap-marker"',
  },
  {
    tool: "gdb",
    command: "x/Nxw ADDR",
    what: "raw memory (a pointer variable's value works as the address)",
    example: "x/4xw 'main.heapObj'",
    expect: "0xdeadbeef\\s+0x4ea90002",
  },
  {
    tool: "gdb",
    command: "info registers rip rsp",
    what: "registers of the selected thread",
    example: "info registers rip",
    expect: "rip\\s+0x[0-9a-f]+",
  },
  {
    tool: "gdb",
    command: "print 'runtime.gcController'.heapInUse",
    what: "heap in use, read through gdb",
    example: "print 'runtime.gcController'.heapInUse",
    expect: "= \\d{4,}",
  },
];

export function renderCheatsheet(tool?: CheatTool): string {
  const lines: string[] = [
    "# Go core cheat sheet",
    "",
    `Verified against a real core by test/cheatsheet.test.ts with ${VERIFIED_WITH.go}, Delve ${VERIFIED_WITH.delve}, gdb ${VERIFIED_WITH.gdb}.`,
    "Open a stored capture with `hotdump debug ID` (Delve) or `hotdump debug ID --gdb`.",
  ];
  for (const t of ["dlv", "gdb"] as const) {
    if (tool && tool !== t) continue;
    lines.push("", t === "dlv" ? "## Delve (dlv core BINARY CORE)" : "## gdb (gdb BINARY CORE)", "");
    lines.push("| command | what it shows |", "| --- | --- |");
    for (const e of CHEATSHEET.filter((x) => x.tool === t))
      lines.push(`| \`${e.command.replace(/\|/g, "\\|")}\` | ${e.what.replace(/\|/g, "\\|")} |`);
  }
  lines.push(
    "",
    "Left out (do not work on Go 1.26 here): gdb `info goroutines` and `goroutine N bt` (need runtime-gdb.py auto-loaded); Delve `examinemem EXPR` without `-x`.",
  );
  return `${lines.join("\n")}\n`;
}
