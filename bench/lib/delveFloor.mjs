// The floor of any Node front end to Delve: Node's start, hotdump's own Delve client (the dlv
// process, its JSON-RPC connection), and the reads bench/analyze-vs-dlv.mjs gives `dlv core` on its
// terminal, one after the other: the goroutine list, the goroutine's stack, the frame's locals and
// args, the thread's registers. No report, no proof of the build IDs, nothing else of hotdump.
//   node bench/lib/delveFloor.mjs BINARY CORE GOROUTINE FRAME
import { createDelveSession } from "../../dist/analyze/delve/index.js";

const [binary, core, gid, frame] = process.argv.slice(2);
const cfg = {
  FollowPointers: true,
  MaxVariableRecurse: 1,
  MaxStringLen: 64,
  MaxArrayValues: 64,
  MaxStructFields: -1,
};
const scope = { GoroutineID: Number(gid), Frame: Number(frame), DeferredCall: 0 };
const s = await createDelveSession({ binary, core });
try {
  const state = await s.call("State", { NonBlocking: true });
  await s.call("ListGoroutines", { Start: 0, Count: 0 });
  await s.call("Stacktrace", { Id: Number(gid), Depth: 50, Full: false, Defers: false });
  await s.call("ListLocalVars", { Scope: scope, Cfg: cfg });
  await s.call("ListFunctionArgs", { Scope: scope, Cfg: cfg });
  await s.call("ListRegisters", { ThreadID: state.State.currentThread?.id ?? 0, IncludeFp: false });
} finally {
  await s.close();
}
