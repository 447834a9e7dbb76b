/**
 * What the traceback parser returns: the text a Go program (1.24+, checked on 1.26) prints on stderr
 * when it dies, as values. Formats follow runtime/panic.go (printpanics), runtime/traceback.go
 * (goroutineheader, traceback1, printFuncName/printArgs) and runtime/signal_unix.go (sighandler).
 */

type TracebackKind = "panic" | "fatal" | "signal";

/** One `panic: ...` line of a chain, outermost (first printed) first. */
export interface PanicLink {
  /** The panic value as printed, continuation lines joined with "\n" (tab indent removed). */
  message: string;
  /** `[recovered]`: recovered, then another panic followed while it was unwinding. */
  recovered: boolean;
  /** `[recovered, repanicked]` (Go 1.23+): recovered and re-panicked with the same value. */
  repanicked: boolean;
}

export interface SignalInfo {
  /** `SIGSEGV`. */
  name: string;
  /** `segmentation violation`. */
  description: string;
  code?: string;
  addr?: string;
  pc?: string;
  /** From the `PC=0x... m=0 sigcode=0` line of a bare signal. */
  sigcode?: string;
  m?: string;
}

export interface TracebackFrame {
  /** `main.process`, `net/http.(*conn).serve.func1`, or `panic` for the runtime's panic pseudo-frame. */
  function: string;
  /** Argument words verbatim (`0x4bda60?, {0x4d36b9?, 0x4de100?}`), `...` for an inlined frame. */
  rawArgs: string;
  /** Printed as `fn(...)`: inlined into its caller, so it has no pc offset of its own. */
  inlined: boolean;
  file: string;
  line: number;
  /** `+0x33`: pc offset from the function's entry. */
  offset?: string;
  /** Present with GOTRACEBACK=crash/system and in fatal errors. */
  fp?: string;
  sp?: string;
  pc?: string;
  runtime: boolean;
}

export interface CreatedBy {
  function: string;
  /** Go 1.21+: `created by X in goroutine N`. */
  goroutineId?: number;
  file: string;
  line: number;
  offset?: string;
}

export interface Goroutine {
  id: number;
  /** First item in the brackets: `running`, `chan receive`, `select (no cases)`, `sync.Mutex.Lock`. */
  state: string;
  /** `, 5 minutes`: how long it has been blocked (printed only after a minute). */
  waitMinutes?: number;
  lockedToThread: boolean;
  /** Any other bracket items verbatim (newer runtimes add some, e.g. synctest bubbles). */
  stateExtras: string[];
  /** `gp= m= mp=` from the header under GOTRACEBACK=crash/system and in fatal errors. */
  gp?: string;
  m?: string;
  mp?: string;
  frames: TracebackFrame[];
  createdBy?: CreatedBy;
  /** Sum of `...N frames elided...` counts (the runtime keeps the first and last 50 frames). */
  elidedFrames: number;
  /** `...additional frames elided...`: the 100-frame print limit cut the rest. */
  additionalFramesElided: boolean;
}

/** A stack that is not a goroutine's: `runtime stack:` (a thread's g0) or a `goroutine 0` section. */
export interface SystemStack {
  label: string;
  frames: TracebackFrame[];
}

export interface Location {
  function: string;
  file: string;
  line: number;
}

export interface Traceback {
  kind: TracebackKind;
  /** First line after `panic: ` / `fatal error: ` (without the `[recovered]` suffix), or the signal line. */
  message: string;
  panics: PanicLink[];
  /** The `fatal error: ` text when a throw is involved (also set for `unexpected fault address`). */
  fatalError: string | null;
  signal: SignalInfo | null;
  /** `unexpected fault address 0xdeadbeef`. */
  faultAddress: string | null;
  stackOverflow: { limitBytes: number; sp?: string; stack?: [string, string] } | null;
  /** `all goroutines are asleep - deadlock!` or `no goroutines (main called runtime.Goexit) - deadlock!`. */
  deadlock: boolean;
  /** The program ended through runtime.Goexit (a Goexit frame or the Goexit deadlock message). */
  goexit: boolean;
  /** Other `runtime: ...` diagnostics printed before the crash (and `signal arrived during cgo execution`). */
  runtimeNotes: string[];
  goroutines: Goroutine[];
  systemStacks: SystemStack[];
  /** Id of the goroutine that panicked or threw; null when the signal landed on an idle thread. */
  crashingGoroutineId: number | null;
  culprit: (Location & { goroutineId: number }) | null;
  /** Register dump printed after a fatal signal (`rax    0xca`). */
  registers: { name: string; value: string }[];
  /** `exit status 2` appended by `go run` (or a wrapper), when present. */
  exitStatus: number | null;
  /** 0-based line numbers of the crash's first and last lines in the input. */
  startLine: number;
  endLine: number;
}

/** A panic with nothing parsed yet, its crash at input line `line`: what a parser fills in. */
export function emptyTraceback(line: number): Traceback {
  return {
    kind: "panic",
    message: "",
    panics: [],
    fatalError: null,
    signal: null,
    faultAddress: null,
    stackOverflow: null,
    deadlock: false,
    goexit: false,
    runtimeNotes: [],
    goroutines: [],
    systemStacks: [],
    crashingGoroutineId: null,
    culprit: null,
    registers: [],
    exitStatus: null,
    startLine: line,
    endLine: line,
  };
}

/** A panic that net/http recovered and logged (`http: panic serving ADDR: ...`); the service lived on. */
export interface RecoveredHttpPanic {
  /** `http` or `http2` (the bundled HTTP/2 server logs the same way). */
  server: string;
  remoteAddr: string;
  message: string;
  goroutine: Goroutine | null;
  /** Where the panic was raised: first non-runtime frame after the `panic(` pseudo-frame. */
  culprit: Location | null;
  /** The whole log line, with its timestamp prefix. */
  logLine: string;
  line: number;
}
