/** A hang's report from the runtime's own SIGQUIT dump: waits grouped by reason, time and user frame. */
import { describe, expect, it } from "vitest";
import { reportFromTracebackOnly } from "./analyzeCrash.js";
import { describeHang, hangWaits } from "./hang.js";
import { parseTraceback } from "./traceback/index.js";

const DUMP = `SIGQUIT: quit
PC=0x47a7e1 m=0 sigcode=0

goroutine 1 gp=0xc000002380 m=nil [IO wait, 4 minutes]:
internal/poll.runtime_pollWait(0x7f, 0x72)
\t/usr/local/go/src/runtime/netpoll.go:351 +0x85
net/http.(*Server).Serve(0xc0001)
\t/usr/local/go/src/net/http/server.go:3454 +0x485
main.main()
\t/src/main.go:30 +0x1c5

goroutine 21 gp=0xc000 m=nil [sync.Mutex.Lock, 3 minutes]:
internal/sync.(*Mutex).lockSlow(0xc0000a0)
\t/usr/local/go/src/internal/sync/mutex.go:149 +0x15d
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:46
main.(*store).get(0xc0000a0)
\t/src/store.go:41 +0x2e
main.handler(0xc00)
\t/src/main.go:20 +0x1c

goroutine 22 gp=0xc001 m=nil [sync.Mutex.Lock, 2 minutes]:
internal/sync.(*Mutex).lockSlow(0xc0000a0)
\t/usr/local/go/src/internal/sync/mutex.go:149 +0x15d
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:46
main.(*store).get(0xc0000a0)
\t/src/store.go:41 +0x2e
main.handler(0xc00)
\t/src/main.go:20 +0x1c

goroutine 23 gp=0xc002 m=nil [sync.Mutex.Lock]:
internal/sync.(*Mutex).lockSlow(0xc0000a0)
\t/usr/local/go/src/internal/sync/mutex.go:149 +0x15d
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:46
main.(*store).put(0xc0000a0)
\t/src/store.go:52 +0x2e
`;

describe("hangs (issue 18)", () => {
  it("groups waiting goroutines by wait reason and user frame, longest wait first, idle waits last", () => {
    const tb = parseTraceback(DUMP);
    expect(tb).not.toBeNull();
    const waits = hangWaits(tb!);
    expect(waits.map((w) => [w.state, w.minutes, w.count, w.function, w.line])).toEqual([
      ["sync.Mutex.Lock", 3, 2, "main.(*store).get", 41],
      ["sync.Mutex.Lock", 0, 1, "main.(*store).put", 52],
      ["IO wait", 4, 1, "main.main", 30],
    ]);
    expect(waits[0]!.ids).toEqual([21, 22]);
  });

  it("a hang report says what waits, for how long, where; the SIGQUIT is no finding", () => {
    const r = reportFromTracebackOnly(null);
    r.signal = { name: "SIGQUIT" };
    describeHang(r, parseTraceback(DUMP), "3 liveness probe failures in a row");
    expect(r.kind).toBe("hang");
    expect(r.message).toBe(
      "hung (3 liveness probe failures in a row): 2 goroutines in sync.Mutex.Lock, 3 minutes, at main.(*store).get",
    );
    expect(r.culprit).toEqual({ function: "main.(*store).get", file: "/src/store.go", line: 41 });
    expect(r.signal).toBeNull();
    expect(r.hang?.waits).toHaveLength(3);
  });
});
