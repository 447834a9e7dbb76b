// mirrors delve service/rpc2/server.go and service/api/types.go, v1.27.2: the calls forensics
// needs beyond src/analyze/delve/types.ts (DumpStart/DumpWait for live snapshots, ExamineMemory).
// Kept here until the shared mirror takes them; field names are Delve's exactly.
import type { RpcConnection } from "../analyze/delve/index.js";

export interface DumpState {
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

export interface ExtraMethods {
  DumpStart: [DumpStartIn, DumpStartOut];
  DumpWait: [DumpWaitIn, DumpWaitOut];
  ExamineMemory: [ExamineMemoryIn, ExaminedMemoryOut];
}

type Untyped = (method: string, params: unknown, opts?: { timeoutMs?: number }) => Promise<unknown>;

/** A call outside the shared mirror's method list, on the same connection (same framing). */
export function callExtra<M extends keyof ExtraMethods>(
  conn: Pick<RpcConnection, "call">,
  method: M,
  params: ExtraMethods[M][0],
  opts?: { timeoutMs?: number },
): Promise<ExtraMethods[M][1]> {
  return (conn.call as unknown as Untyped)(method, params, opts) as Promise<ExtraMethods[M][1]>;
}
