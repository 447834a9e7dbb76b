// mirrors delve service/api/types.go and service/rpc2/server.go, v1.27.2
//
// Only the structs hotdump sends or reads. Field names are Delve's JSON names exactly (Go's
// encoding/json uses the Go field name unless a tag renames it, so some are PascalCase and some
// camelCase). Go's uint64 fields arrive as JSON numbers: exact up to 2^53, which covers user-space
// addresses on amd64/arm64 (48-bit); register values arrive as strings.

/** reflect.Kind numbering (Go's reflect package), used by Variable.kind. */
export const Kind = {
  Invalid: 0,
  Bool: 1,
  Int: 2,
  Int8: 3,
  Int16: 4,
  Int32: 5,
  Int64: 6,
  Uint: 7,
  Uint8: 8,
  Uint16: 9,
  Uint32: 10,
  Uint64: 11,
  Uintptr: 12,
  Float32: 13,
  Float64: 14,
  Complex64: 15,
  Complex128: 16,
  Array: 17,
  Chan: 18,
  Func: 19,
  Interface: 20,
  Map: 21,
  Ptr: 22,
  Slice: 23,
  String: 24,
  Struct: 25,
  UnsafePointer: 26,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Function {
  name: string;
  value: number;
  type: number;
  goType: number;
  optimized: boolean;
}

export interface Location {
  pc: number;
  file: string;
  line: number;
  function?: Function;
  pcs?: number[];
  pcpids?: number[];
}

export interface Variable {
  name: string;
  addr: number;
  onlyAddr: boolean;
  type: string;
  realType: string;
  flags: number;
  kind: number;
  /** Strings are capped at LoadConfig.MaxStringLen (see len for the real length). */
  value: string;
  /** Set for strings that are not valid UTF-8 (base64 in JSON, as Go encodes []byte). */
  StringValueBytes?: string | null;
  len: number;
  cap: number;
  /** Map children alternate key, value. */
  children: Variable[] | null;
  base: number;
  unreadable: string;
  LocationExpr?: string;
  DeclLine?: number;
}

export interface Defer {
  DeferredLoc: Location;
  DeferLoc: Location;
  SP: number;
  Unreadable: string;
}

/** api.Stackframe embeds Location, so its fields sit at the top level. */
export interface Stackframe extends Location {
  Locals: Variable[] | null;
  Arguments: Variable[] | null;
  FrameOffset: number;
  FramePointerOffset: number;
  Defers: Defer[] | null;
  Bottom?: boolean;
  Err: string;
}

interface Thread {
  id: number;
  pc: number;
  file: string;
  line: number;
  function?: Function;
  goroutineID: number;
  ReturnValues: Variable[] | null;
  CallReturn: boolean;
}

export interface Goroutine {
  id: number;
  currentLoc: Location;
  userCurrentLoc: Location;
  goStatementLoc: Location;
  startLoc: Location;
  threadID: number;
  status: number;
  waitSince: number;
  waitReason: number;
  unreadable: string;
  labels?: Record<string, string>;
}

export interface DebuggerState {
  Pid: number;
  TargetCommandLine: string;
  Running: boolean;
  Recording: boolean;
  CoreDumping: boolean;
  currentThread?: Thread;
  currentGoroutine?: Goroutine;
  Threads: Thread[] | null;
  NextInProgress: boolean;
  exited: boolean;
  exitStatus: number;
  When: string;
  stopReason?: string;
}

export interface LoadConfig {
  FollowPointers: boolean;
  MaxVariableRecurse: number;
  MaxStringLen: number;
  MaxArrayValues: number;
  /** -1 reads all fields. */
  MaxStructFields: number;
}

export interface EvalScope {
  GoroutineID: number;
  Frame: number;
  DeferredCall: number;
}

interface Register {
  Name: string;
  Value: string;
  DwarfNumber: number;
}

/** api.GoroutineField. */
export const GoroutineField = {
  None: 0,
  CurrentLoc: 1,
  UserLoc: 2,
  GoLoc: 3,
  StartLoc: 4,
  Label: 5,
  Running: 6,
  User: 7,
  WaitingOnChannel: 8,
} as const;
export type GoroutineField = (typeof GoroutineField)[keyof typeof GoroutineField];

interface ListGoroutinesFilter {
  Kind: GoroutineField;
  Negated: boolean;
  Arg: string;
}

export interface GoroutineGroup {
  Name: string;
  Offset: number;
  Count: number;
  Total: number;
}

export interface GetVersionOut {
  DelveVersion: string;
  APIVersion: number;
  Backend: string;
  TargetGoVersion: string;
  MinSupportedVersionOfGo: string;
  MaxSupportedVersionOfGo: string;
}

// ---- service/rpc2/server.go request and response structs ----

export type GetVersionIn = Record<string, never>;

export interface StateIn {
  NonBlocking: boolean;
}
export interface StateOut {
  State: DebuggerState;
}

export interface DetachIn {
  Kill: boolean;
}
export type DetachOut = Record<string, never>;

export interface StacktraceIn {
  Id: number;
  Depth: number;
  Full: boolean;
  Defers: boolean;
  Opts?: number;
  Cfg?: LoadConfig;
  Skip?: number;
}
export interface StacktraceOut {
  Locations: Stackframe[] | null;
}

export type ListThreadsIn = Record<string, never>;
export interface ListThreadsOut {
  Threads: Thread[] | null;
}

export interface ListRegistersIn {
  ThreadID: number;
  IncludeFp: boolean;
  Scope?: EvalScope;
}
export interface ListRegistersOut {
  Registers: string;
  Regs: Register[] | null;
}

export interface EvalIn {
  Scope: EvalScope;
  Expr: string;
  Cfg?: LoadConfig;
}
export interface EvalOut {
  Variable: Variable;
}

export interface ListLocalVarsIn {
  Scope: EvalScope;
  Cfg: LoadConfig;
}
export interface ListLocalVarsOut {
  Variables: Variable[] | null;
}

export interface ListFunctionArgsIn {
  Scope: EvalScope;
  Cfg: LoadConfig;
}
export interface ListFunctionArgsOut {
  Args: Variable[] | null;
}

/**
 * ListGoroutinesIn embeds api.GoroutineGroupingOptions, so GroupBy, GroupByKey, MaxGroupMembers
 * and MaxGroups are top-level params (verified: a nested object made Delve hang without a reply).
 */
export interface ListGoroutinesIn {
  Start: number;
  Count: number;
  Filters?: ListGoroutinesFilter[] | null;
  GroupBy: GoroutineField;
  GroupByKey: string;
  MaxGroupMembers: number;
  MaxGroups: number;
  EvalScope?: EvalScope;
}
export interface ListGoroutinesOut {
  Goroutines: Goroutine[] | null;
  Nextg: number;
  Groups: GoroutineGroup[] | null;
  TooManyGroups: boolean;
}

// Live dumps (hotdump snapshot) and raw memory (hotdump mem).
interface DumpState {
  Dumping: boolean;
  AllDone: boolean;
  ThreadsDone: number;
  ThreadsTotal: number;
  MemDone: number;
  MemTotal: number;
  Err: string;
}
export interface DumpStartIn {
  Destination: string;
}
export interface DumpStartOut {
  State: DumpState;
}
export interface DumpWaitIn {
  /** Milliseconds; 0 returns at once. */
  Wait: number;
}
export interface DumpWaitOut {
  State: DumpState;
}
export interface ExamineMemoryIn {
  Address: number;
  /** Delve refuses more than 1000. */
  Length: number;
}
export interface ExaminedMemoryOut {
  /** Go []byte: base64 in JSON. */
  Mem: string | null;
  IsLittleEndian: boolean;
}

/** The RPC methods hotdump calls, with their request and reply types. */
export interface RpcMethods {
  GetVersion: [GetVersionIn, GetVersionOut];
  State: [StateIn, StateOut];
  Detach: [DetachIn, DetachOut];
  Stacktrace: [StacktraceIn, StacktraceOut];
  ListThreads: [ListThreadsIn, ListThreadsOut];
  ListRegisters: [ListRegistersIn, ListRegistersOut];
  Eval: [EvalIn, EvalOut];
  ListLocalVars: [ListLocalVarsIn, ListLocalVarsOut];
  ListFunctionArgs: [ListFunctionArgsIn, ListFunctionArgsOut];
  ListGoroutines: [ListGoroutinesIn, ListGoroutinesOut];
  DumpStart: [DumpStartIn, DumpStartOut];
  DumpWait: [DumpWaitIn, DumpWaitOut];
  ExamineMemory: [ExamineMemoryIn, ExaminedMemoryOut];
}
export type RpcMethod = keyof RpcMethods;
