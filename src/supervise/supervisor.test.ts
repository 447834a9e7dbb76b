/**
 * The supervisor against a fake ProcessHost (tableflip's way): processes that say "ready", crash,
 * exit or ignore SIGTERM when the test says so, a clock the test advances, steering that records.
 * Real decisions, real probes (log readiness), real attribution of the end; no Go program, no
 * core: each test runs in milliseconds. What only real processes show stays in test/.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { reportFromTracebackOnly } from "../analyze/index.js";
import type { Captured, CrashFacts } from "../capture/index.js";
import { type EventInput, ensureStore, type StoreLayout } from "../store/index.js";
import type { Child, ChildEnd } from "../util/child.js";
import { createLogger } from "../util/log.js";
import { Tail } from "../util/tail.js";
import type { ProcessHost } from "./host.js";
import type { LaunchOptions } from "./launch.js";
import { LIVENESS_DEFAULTS } from "./liveness.js";
import type { Build } from "./machine.js";
import { type NotifyMessage, type NotifySocket, parseNotify } from "./notify.js";
import { parseProbeSpec, probeTimingDefaults } from "./probe.js";
import type { Steering } from "./steering.js";
import { createSupervisor, type Supervisor, type SupervisorOptions } from "./supervisor.js";

/** Recorded from a real GOTRACEBACK=crash panic (test/fixtures/go/crasher), trimmed. */
const PANIC = `panic: boom

goroutine 1 [running]:
main.main()
\t/src/main.go:9 +0x25
`;

/** The shape of a real SIGQUIT dump of a lock deadlock (test/fixtures/go/hangsvc), trimmed. */
const HUNG = `SIGQUIT: quit
PC=0x47a7e1 m=0 sigcode=0

goroutine 0 gp=0x6f7c40 m=0 mp=0x6f8560 [idle]:
runtime.futex(0x6f86a0, 0x80, 0x0, 0x0, 0x0, 0x0)
\t/usr/local/go/src/runtime/sys_linux_amd64.s:557 +0x21 fp=0x7ffd sp=0x7ffd pc=0x47a7e1

goroutine 21 gp=0xc000 m=nil [sync.Mutex.Lock, 3 minutes]:
internal/sync.(*Mutex).lockSlow(0xc0000a0)
\t/usr/local/go/src/internal/sync/mutex.go:149 +0x15d fp=0xc0 sp=0xc0 pc=0x46e
sync.(*Mutex).Lock(...)
\t/usr/local/go/src/sync/mutex.go:46
main.(*store).get(0xc0000a0)
\t/src/store.go:41 +0x2e fp=0xc0 sp=0xc0 pc=0x6a1
main.handler(0xc00)
\t/src/main.go:20 +0x1c fp=0xc0 sp=0xc0 pc=0x6a2
`;

class FakeProcess implements Child {
  readonly proc = null as never;
  readonly stdoutTail = new Tail(64 * 1024);
  readonly stderrTail = new Tail(64 * 1024);
  readonly stopped: Promise<ChildEnd>;
  exited = false;
  /** Signals it got, in order. */
  readonly signals: NodeJS.Signals[] = [];
  /** Ignore SIGTERM (a service without a handler that never ends). */
  stubborn = false;
  /** Ignore SIGQUIT (its own signal.Notify): no dump, no core. */
  ignoresQuit = false;
  private finish!: (e: ChildEnd) => void;
  constructor(
    readonly pid: number,
    readonly opts: LaunchOptions,
  ) {
    this.stopped = new Promise((r) => {
      this.finish = r;
    });
  }
  say(line: string, stream: "stdout" | "stderr" = "stdout"): void {
    const b = Buffer.from(`${line}\n`);
    if (stream === "stdout") {
      this.stdoutTail.push(b);
      this.opts.onStdout?.(b);
    } else {
      this.stderrTail.push(b);
      this.opts.onStderr?.(b);
    }
  }
  end(e: Partial<ChildEnd>): void {
    if (this.exited) return;
    this.exited = true;
    this.finish({ exitCode: null, signal: null, killed: false, ...e });
  }
  crash(): void {
    this.say(PANIC, "stderr");
    this.end({ signal: "SIGABRT" });
  }
  signal(sig: NodeJS.Signals): void {
    this.signals.push(sig);
    // GOTRACEBACK=crash: the runtime prints every goroutine, then dumps core.
    if (sig === "SIGQUIT" && !this.ignoresQuit) {
      this.say(HUNG, "stderr");
      this.end({ signal: "SIGABRT" });
    }
    if (sig === "SIGKILL" || (sig === "SIGTERM" && !this.stubborn)) this.end({ signal: sig, killed: true });
  }
  stop(o: { signal?: NodeJS.Signals } = {}): Promise<ChildEnd> {
    this.signal(o.signal ?? "SIGTERM");
    if (this.stubborn) this.signal("SIGKILL");
    return this.stopped;
  }
}

/** A NOTIFY_SOCKET the test sends to (sd_notify's datagrams, parsed). */
class FakeNotify implements NotifySocket {
  readonly path: string;
  readonly ready: Promise<void>;
  closed = false;
  private listeners = new Set<(m: NotifyMessage) => void>();
  private markReady!: () => void;
  constructor(name: string) {
    this.path = `/fake/${name}`;
    this.ready = new Promise((r) => {
      this.markReady = r;
    });
  }
  send(text: string): void {
    const m = parseNotify(text);
    if (m.get("READY") === "1") this.markReady();
    for (const l of this.listeners) l(m);
  }
  on(fn: (m: NotifyMessage) => void) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  idle() {}
  close() {
    this.closed = true;
  }
}

function fakeHost() {
  let clock = 0;
  let timers: { at: number; fn: () => void; live: boolean }[] = [];
  const procs: FakeProcess[] = [];
  const sockets: FakeNotify[] = [];
  const host: ProcessHost = {
    launch(o) {
      const p = new FakeProcess(1000 + procs.length, o);
      procs.push(p);
      return p;
    },
    track: () => null,
    // binaries/<sha256>: the fake's file is what its name says.
    pin: async (path) => ({ path, sha256: basename(path), bytes: 0, how: "path", release: () => {} }),
    now: () => clock,
    after(ms, fn) {
      const t = { at: clock + ms, fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
    freePort: async () => 40000,
    notifySocket(_dir, name) {
      const s = new FakeNotify(name);
      sockets.push(s);
      return s;
    },
  };
  return {
    host,
    procs,
    sockets,
    /** Move the clock; timers due fire in order. */
    advance(ms: number) {
      clock += ms;
      const due = timers.filter((t) => t.live && t.at <= clock).sort((a, b) => a.at - b.at);
      timers = timers.filter((t) => !due.includes(t));
      for (const t of due) if (t.live) t.fn();
    },
    pending: () => timers.filter((t) => t.live).map((t) => t.at - clock),
  };
}

function fakeSteering(handoff: boolean) {
  const calls: string[] = [];
  let target: number | undefined;
  const steering: Steering = {
    mode: handoff ? "steered" : "shared",
    open: (g) => {
      calls.push(`open ${g}`);
      return [];
    },
    probePort: async () => undefined,
    switchTo: (g) => {
      target = g;
      calls.push(`switch ${g}`);
    },
    rollback: (g, to) => void calls.push(`rollback ${g}->${to}`),
    drain: async () => ({ ms: 0, left: 0 }),
    release: (g) => {
      calls.push(`release ${g}`);
      return 0;
    },
    keepForRestart: (g) => void calls.push(`keep ${g}`),
    isTarget: (g) => g === target,
    queued: () => 0,
    addresses: () => [],
    stop: () => {},
  };
  return { steering, calls };
}

/** Settle the promise chains a step started (capture, end attribution) without a real timer. */
const flush = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** Generation 1 serving (its caller answered). */
async function serving(t: { sup: Supervisor; procs: FakeProcess[] }, b = build(1)): Promise<void> {
  const first = t.sup.deploy(b);
  await flush();
  t.procs.at(-1)!.say("ready");
  await first;
}

/** Generation 1 serving, generation 2 deployed over it, and generation 1 crashes before 2 is ready. */
async function oldCrashesDuringTrial(t: { sup: Supervisor; procs: FakeProcess[] }) {
  await serving(t);
  const second = t.sup.deploy(build(2));
  await flush();
  t.procs[0]!.crash();
  return { second };
}

/** Generation 1 serving, then generation 2 deployed over it and ready (`ready(i)`: process i says so). */
async function switched(
  t: { sup: Supervisor; procs: FakeProcess[] },
  ready = (i: number) => t.procs[i]!.say("ready"),
): Promise<void> {
  for (const [i, generation] of [1, 2].entries()) {
    const answer = t.sup.deploy(build(generation));
    await flush();
    ready(i);
    await answer;
  }
}

/** A refused connect takes a real round trip through the event loop. */
const attempts = async () => {
  await new Promise((r) => setTimeout(r, 20));
  await flush();
};

const build = (generation: number, sha = `sha${generation}`): Build => ({
  generation,
  binary: `/store/binaries/${sha}`,
  sha256: sha,
  identity: null,
});

let dir: string;
let layout: StoreLayout;
let sup: Supervisor | null = null;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hotdump-sup-"));
  layout = ensureStore(join(dir, "store"));
});
afterEach(async () => {
  await sup?.stop();
  sup = null;
  rmSync(dir, { recursive: true, force: true });
});

function make(over: Partial<SupervisorOptions> & { handoff?: boolean } = {}) {
  const f = fakeHost();
  const s = fakeSteering(over.handoff ?? true);
  const events: EventInput[] = [];
  const captured: CrashFacts[] = [];
  sup = createSupervisor({
    mode: "run",
    layout,
    logger: createLogger({ level: "error" }),
    emit: (e) => {
      events.push(e);
      return undefined;
    },
    cwd: dir,
    args: [],
    env: {},
    ...(over.handoff === false ? {} : { listenFds: [3] }),
    steering: s.steering,
    probe: parseProbeSpec("log:^ready$"),
    timing: probeTimingDefaults("run"),
    readyTimeoutMs: 10_000,
    host: f.host,
    claim: async () => null,
    capture: async (facts): Promise<Captured> => {
      captured.push(facts);
      const core = { found: false, reason: "fake" };
      return {
        bundle: { id: `crash-${captured.length}` } as Captured["bundle"],
        report: reportFromTracebackOnly(facts.traceback, core),
        core,
        problems: [],
      };
    },
    ...over,
  });
  const names = () => events.map((e) => `${e.event}${e.generation ? ` ${e.generation}` : ""}`);
  return { ...f, ...s, sup, events, names, captured };
}

describe("supervisor on a fake host", () => {
  it("deploy → ready → switch; the old generation is drained and stopped", async () => {
    const t = make();
    const first = t.sup.deploy(build(1));
    await flush();
    t.procs[0]!.say("ready");
    expect(await first).toMatchObject({ ok: true, generation: 1, pid: 1000 });
    const second = t.sup.deploy(build(2));
    await flush();
    expect(t.sup.current?.generation).toBe(1); // still serving while 2 is probed
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2, pid: 1001 });
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
    expect(t.names()).toEqual([
      "started 1",
      "ready 1",
      "started 2",
      "ready 2",
      "switch 2",
      "drained 1",
      "stopped 1",
    ]);
    expect(t.calls).toContain("switch 2");
  });

  it("a crash is attributed and captured, then restarted after the backoff (0.5 s, then 1 s)", async () => {
    const t = make();
    await serving(t);
    t.procs[0]!.crash();
    await flush();
    expect(t.sup.phase).toBe("backingOff");
    expect(t.pending()).toEqual([500]);
    expect(t.captured[0]).toMatchObject({
      pid: 1000,
      generation: 1,
      ended: { outcome: "crash", signal: "SIGABRT" },
    });
    expect(t.captured[0]!.traceback?.message).toBe("boom");
    expect(t.events.find((e) => e.event === "crash")).toMatchObject({ crashId: "crash-1", message: "boom" });
    t.advance(499);
    expect(t.procs).toHaveLength(1);
    t.advance(1);
    await flush();
    expect(t.procs).toHaveLength(2);
    t.procs[1]!.say("ready");
    await flush();
    expect(t.events.filter((e) => e.event === "ready").at(-1)).toMatchObject({ generation: 1, restart: 1 });
    // It crashed again at once: the next delay doubles.
    t.procs[1]!.crash();
    await flush();
    expect(t.pending()).toEqual([1000]);
    // The crashed generation's sockets were kept for its restart, opened again by it.
    expect(t.calls.filter((c) => c.startsWith("keep"))).toEqual(["keep 1", "keep 1"]);
    expect(t.calls.filter((c) => c.startsWith("open"))).toEqual(["open 1", "open 1"]);
  });

  it("a candidate that dies before it is ready is rejected, with its crash id; the old one keeps serving", async () => {
    const t = make();
    await serving(t);
    const second = t.sup.deploy(build(2));
    await flush();
    t.procs[1]!.crash();
    const r = await second;
    expect(r).toMatchObject({
      ok: false,
      generation: 2,
      reason: "exited before it was ready",
      crashId: "crash-1",
    });
    expect(t.sup.current?.generation).toBe(1);
    expect(t.procs[0]!.signals).toEqual([]);
    await flush();
    expect(t.events.find((e) => e.event === "rollback")).toMatchObject({
      generation: 2,
      servingGeneration: 1,
      crashId: "crash-1",
    });
  });

  it("bake: a crash during the probation rolls back to the last good binary and refuses it again", async () => {
    const t = make({ bakeMs: 60_000 });
    await switched(t);
    await flush();
    expect(t.sup.phase).toBe("baking");
    t.advance(30_000);
    t.procs[1]!.crash();
    await flush();
    expect(t.sup.phase).toBe("rollingBack");
    // The last good build's exact binary starts again, on the crashed one's sockets.
    expect(t.procs[2]!.opts.command).toBe("/store/binaries/sha1");
    t.procs[2]!.say("ready");
    await flush();
    expect(t.sup.phase).toBe("serving");
    expect(t.sup.current).toMatchObject({ generation: 1, pid: 1002 });
    expect(t.events.find((e) => e.event === "rollback")).toMatchObject({
      generation: 2,
      servingGeneration: 1,
      crashId: "crash-1",
      reason: "crashed during its bake",
    });
    // The bake timer died with the rollback.
    expect(t.pending()).toEqual([]);
    expect(await t.sup.deploy(build(3, "sha2"))).toMatchObject({ ok: false, generation: 3 });
    expect(t.procs).toHaveLength(3);
  });

  it("bake with the old generation held: switching back is a steering change, no start", async () => {
    const t = make({ bakeMs: 60_000, bakeHoldOld: true });
    await switched(t);
    await flush();
    expect(t.procs[0]!.signals).toEqual([]); // held, not stopped
    t.procs[1]!.crash();
    await flush();
    expect(t.procs).toHaveLength(2);
    expect(t.sup.current).toMatchObject({ generation: 1, pid: 1000 });
    expect(t.calls.slice(-2)).toEqual(["switch 1", "release 2"]);
    expect(t.names()).toContain("held 1");
    const rb = t.events.find((e) => e.event === "rollback");
    expect(rb).toMatchObject({
      generation: 2,
      servingGeneration: 1,
      reason: "died of SIGABRT during its bake",
      crashId: "crash-1",
    });
    expect(rb?.steeredMs).toBe(0);
  });

  it("bake passes: `baked` is recorded and the held old generation is retired then", async () => {
    const t = make({ bakeMs: 60_000, bakeHoldOld: true });
    await switched(t);
    t.advance(60_000);
    await flush();
    expect(t.names()).toContain("baked 2");
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
    // After the bake a crash restarts the same build.
    t.procs[1]!.crash();
    await flush();
    expect(t.sup.phase).toBe("backingOff");
  });

  it("a liveness failure makes it dump itself (SIGQUIT), captured as a hang, then restarted like a crash", async () => {
    const t = make({
      // Nothing listens on port 1: every attempt is refused at once.
      liveness: { spec: parseProbeSpec("tcp:127.0.0.1:1"), timing: LIVENESS_DEFAULTS },
    });
    const hung = () => t.captured.filter((f) => f.hang).map((f) => f.pid);
    await serving(t);
    for (let i = 0; i < 2; i++) {
      t.advance(10_000);
      await attempts();
    }
    expect(hung()).toEqual([]);
    expect(t.procs[0]!.signals).toEqual([]);
    t.advance(10_000);
    await attempts();
    expect(t.events.find((e) => e.event === "liveness-failed")).toMatchObject({ generation: 1 });
    expect(t.events.find((e) => e.event === "hang")).toMatchObject({ generation: 1, pid: 1000 });
    expect(hung()).toEqual([1000]);
    expect(t.procs[0]!.signals).toEqual(["SIGQUIT"]);
    expect(t.captured[0]!.hang?.reason).toMatch(
      /^3 liveness probe failures in a row, 10 s apart \(last: connect 127.0.0.1:1: ECONNREFUSED\)$/,
    );
    expect(t.sup.phase).toBe("backingOff");
  });

  it("race: Ctrl-C while a candidate is probed stops both and answers its caller", async () => {
    const t = make();
    await serving(t);
    const second = t.sup.deploy(build(2));
    await flush();
    const stopping = t.sup.stop();
    expect(await second).toMatchObject({ ok: false, reason: "shutting down" });
    await stopping;
    sup = null;
    expect(t.procs.map((p) => p.exited)).toEqual([true, true]);
  });

  it("race: a stubborn old generation (ignores SIGTERM) is killed after its grace and the switch stands", async () => {
    const t = make({ stopTimeoutMs: 10 });
    const first = t.sup.deploy(build(1));
    await flush();
    t.procs[0]!.stubborn = true;
    t.procs[0]!.say("ready");
    await first;
    const second = t.sup.deploy(build(2));
    await flush();
    t.procs[1]!.say("ready");
    await second;
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGTERM", "SIGKILL"]);
    expect(t.sup.current?.generation).toBe(2);
  });

  it("without sockets (dev): a clean exit waits for a change; linked stops the serving one early", async () => {
    const t = make({ handoff: false, mode: "dev" });
    await serving(t);
    t.sup.stopBeforeDeploy();
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
    expect(t.sup.phase).toBe("idle");
    const second = t.sup.deploy(build(2));
    await flush();
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2 });
    t.procs[1]!.end({ exitCode: 0 });
    await flush();
    expect(t.sup.phase).toBe("idle");
    expect(t.pending()).toEqual([]);
  });

  it("race (dev): a build links while the serving one's crash is being captured: the new build still starts", async () => {
    let captured!: () => void;
    const gate = new Promise<void>((r) => {
      captured = r;
    });
    const t = make({
      handoff: false,
      mode: "dev",
      capture: async (facts): Promise<Captured> => {
        await gate; // compression and Delve take a while
        const core = { found: false, reason: "fake" };
        return { bundle: null, report: reportFromTracebackOnly(facts.traceback, core), core, problems: [] };
      },
    });
    await serving(t);
    t.procs[0]!.crash();
    await flush();
    // The machine has not seen the end yet (dev waits for the capture): it still serves.
    expect(t.sup.phase).toBe("serving");
    t.sup.stopBeforeDeploy();
    const second = t.sup.deploy(build(2));
    await flush();
    captured();
    await flush();
    expect(t.procs).toHaveLength(2);
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2 });
    expect(t.pending()).toEqual([]); // no restart of the crashed one
  });

  it("notify: READY=1 switches at once; the service's own messages are recorded; its socket closes with it", async () => {
    const t = make({ probe: parseProbeSpec("notify") });
    const first = t.sup.deploy(build(1));
    await flush();
    expect(t.procs[0]!.opts.env.NOTIFY_SOCKET).toBe("/fake/g1.1.sock");
    t.procs[0]!.say("ready"); // a log line is no readiness here
    await flush();
    expect(t.sup.phase).toBe("probing");
    t.sockets[0]!.send("READY=1\nSTATUS=serving");
    expect(await first).toMatchObject({ ok: true, generation: 1 });
    t.sockets[0]!.send("RELOADING=1");
    expect(t.events.filter((e) => e.event === "notify").map((e) => e.reloading ?? e.status)).toEqual([
      "serving",
      "1",
    ]);
    await t.sup.stop();
    sup = null;
    expect(t.sockets[0]!.closed).toBe(true);
  });

  it("watchdog: WATCHDOG=1 keeps it alive; a silence longer than WATCHDOG_USEC is a hang", async () => {
    const t = make({ probe: parseProbeSpec("notify"), watchdogMs: 2000 });
    const hung = () => t.captured.filter((f) => f.hang).map((f) => f.hang?.reason);
    const first = t.sup.deploy(build(1));
    await flush();
    expect(t.procs[0]!.opts.env.WATCHDOG_USEC).toBe("2000000");
    t.sockets[0]!.send("READY=1");
    await first;
    for (let i = 0; i < 5; i++) {
      t.advance(1000);
      t.sockets[0]!.send("WATCHDOG=1");
    }
    await flush();
    expect(hung()).toEqual([]);
    t.advance(1999);
    await flush();
    expect(hung()).toEqual([]);
    t.advance(1);
    await flush();
    expect(hung()[0]).toMatch(/missed the watchdog: no WATCHDOG=1 for 2000 ms/);
    expect(t.procs[0]!.signals).toEqual(["SIGQUIT"]);
    expect(t.sup.phase).toBe("backingOff");
  });
});

describe("supervisor on a fake host: every transition", () => {
  it("deploy while serving without sockets (dev): the serving one stops first, then the new one starts", async () => {
    const t = make({ handoff: false, mode: "dev" });
    await serving(t);
    const second = t.sup.deploy(build(2));
    expect(t.sup.phase).toBe("replacing");
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
    await flush();
    expect(t.procs).toHaveLength(2);
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2, pid: 1001 });
    expect(t.calls.filter((c) => c.startsWith("switch"))).toEqual([]);
  });

  it("deploys while the serving one is being replaced coalesce: only the newest starts, every caller gets its answer", async () => {
    const t = make({ handoff: false, mode: "dev" });
    await serving(t);
    const second = t.sup.deploy(build(2));
    const third = t.sup.deploy(build(3));
    await flush();
    expect(t.procs.map((p) => p.opts.command)).toEqual(["/store/binaries/sha1", "/store/binaries/sha3"]);
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 3 });
    expect(await third).toMatchObject({ ok: true, generation: 3 });
  });

  it("race: deploys during a trial wait for it; only the newest is started next, from the new one", async () => {
    const t = make();
    await serving(t);
    const second = t.sup.deploy(build(2));
    await flush();
    const third = t.sup.deploy(build(3));
    const fourth = t.sup.deploy(build(4));
    await flush();
    expect(t.procs).toHaveLength(2);
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2 });
    await flush();
    expect(t.procs).toHaveLength(3);
    expect(t.procs[2]!.opts.command).toBe("/store/binaries/sha4");
    expect(t.sup.current?.generation).toBe(2);
    t.procs[2]!.say("ready");
    expect(await third).toMatchObject({ ok: true, generation: 4, pid: 1002 });
    expect(await fourth).toMatchObject({ ok: true, generation: 4, pid: 1002 });
    await flush();
    expect(t.calls.filter((c) => c.startsWith("switch"))).toEqual(["switch 1", "switch 2", "switch 4"]);
    expect(t.procs.map((p) => p.exited)).toEqual([true, true, false]);
  });

  it("a deploy while backing off cancels the restart and starts the new build at once", async () => {
    const t = make();
    await serving(t);
    t.procs[0]!.crash();
    await flush();
    expect(t.pending()).toEqual([500]);
    const second = t.sup.deploy(build(2));
    expect(t.pending()).toEqual([]);
    await flush();
    expect(t.procs).toHaveLength(2);
    expect(t.procs[1]!.opts.command).toBe("/store/binaries/sha2");
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2 });
    t.advance(1000);
    await flush();
    expect(t.procs).toHaveLength(2);
  });

  it("a deploy during the bake ends the probation: its timer goes, the held one stops, the new one bakes in turn", async () => {
    const t = make({ bakeMs: 60_000, bakeHoldOld: true });
    await switched(t);
    await flush();
    expect(t.pending()).toEqual([60_000]);
    const third = t.sup.deploy(build(3));
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
    await flush();
    t.procs[2]!.say("ready");
    expect(await third).toMatchObject({ ok: true, generation: 3 });
    await flush();
    expect(t.sup.phase).toBe("baking");
    // Generation 2, on trial until now, is the one held through 3's bake.
    expect(t.procs[1]!.signals).toEqual([]);
    expect(t.pending()).toEqual([60_000]);
    expect(t.names().filter((n) => n.startsWith("held"))).toEqual(["held 1", "held 2"]);
  });

  it("a first deploy that dies before it is ready (nothing else serves) is answered, then started again after the backoff", async () => {
    const t = make({ mode: "dev" });
    const first = t.sup.deploy(build(1));
    await flush();
    t.procs[0]!.crash();
    // dev answers with the crash (its summary precedes the rebuild).
    expect(await first).toMatchObject({
      ok: false,
      generation: 1,
      reason: "exited before it was ready",
      crashId: "crash-1",
    });
    await flush();
    expect(t.sup.phase).toBe("backingOff");
    expect(t.pending()).toEqual([500]);
    t.advance(500);
    await flush();
    expect(t.procs).toHaveLength(2);
    expect(t.procs[1]!.opts.command).toBe("/store/binaries/sha1");
  });

  it("run answers a first deploy that died at once without waiting for its capture", async () => {
    const t = make();
    const first = t.sup.deploy(build(1));
    await flush();
    t.procs[0]!.crash();
    const r = await first;
    expect(r).toMatchObject({ ok: false, generation: 1, reason: "exited before it was ready" });
    expect(r).not.toHaveProperty("crashId");
    await flush();
    expect(t.captured).toHaveLength(1);
  });

  it("race: a candidate dies before it is ready while a newer build waits: the newer one starts, no backoff", async () => {
    const t = make();
    const first = t.sup.deploy(build(1));
    await flush();
    const second = t.sup.deploy(build(2));
    t.procs[0]!.crash();
    expect(await first).toMatchObject({ ok: false, generation: 1 });
    await flush();
    expect(t.pending()).toEqual([10_000]); // the new candidate's ready timeout, no backoff
    expect(t.procs).toHaveLength(2);
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2 });
  });

  it("readiness timeout with nothing else serving: kept, unready; its caller gets the failure", async () => {
    const t = make();
    const first = t.sup.deploy(build(1));
    await flush();
    t.advance(9_999);
    await flush();
    expect(t.sup.phase).toBe("probing");
    t.advance(1);
    const r = await first;
    expect(r).toMatchObject({ ok: false, generation: 1 });
    expect(r.ok === false && r.reason).toMatch(/^timeout: not ready after 10000 ms/);
    expect(t.sup.phase).toBe("serving");
    expect(t.sup.current).toMatchObject({ generation: 1, pid: 1000 });
    expect(t.procs[0]!.signals).toEqual([]);
    // Unready: a `linked` (dev's early stop) leaves it alone, as does a clean exit's restart rule.
    t.procs[0]!.end({ exitCode: 0 });
    await flush();
    expect(t.sup.phase).toBe("backingOff");
  });

  it("readiness timeout while the old one serves: the candidate is stopped and refused", async () => {
    const t = make();
    await serving(t);
    const second = t.sup.deploy(build(2));
    await flush();
    t.advance(10_000);
    const r = await second;
    expect(r.ok === false && r.reason).toMatch(/^timeout: not ready after 10000 ms/);
    await flush();
    expect(t.procs[1]!.signals).toEqual(["SIGTERM"]);
    expect(t.procs[0]!.signals).toEqual([]);
    expect(t.sup.current).toMatchObject({ generation: 1, pid: 1000 });
    expect(t.events.find((e) => e.event === "rollback")).toMatchObject({
      generation: 2,
      servingGeneration: 1,
    });
    expect(t.calls.filter((c) => c.startsWith("switch"))).toEqual(["switch 1"]);
  });

  it("race: the old generation crashes while the candidate is probed: the candidate's readiness decides, then the old sockets go", async () => {
    const t = make();
    const { second } = await oldCrashesDuringTrial(t);
    await flush();
    expect(t.sup.phase).toBe("probing");
    expect(t.pending()).toEqual([10_000]); // the candidate's ready timeout only: nothing restarts the old one
    expect(t.captured.map((f) => f.pid)).toEqual([1000]);
    t.procs[1]!.say("ready");
    expect(await second).toMatchObject({ ok: true, generation: 2 });
    expect(t.calls.slice(-2)).toEqual(["switch 2", "release 1"]);
    expect(t.sup.phase).toBe("serving");
  });

  it("race: the old one crashed and the candidate never gets ready: the candidate is kept and switched to", async () => {
    const t = make();
    const { second } = await oldCrashesDuringTrial(t);
    await flush();
    t.advance(10_000);
    const r = await second;
    expect(r).toMatchObject({ ok: false, generation: 2 });
    expect(t.procs[1]!.signals).toEqual([]);
    // Its sockets were kept for a restart when it crashed; long after its run is over, they go.
    expect(t.calls.slice(-3)).toEqual(["keep 1", "switch 2", "release 1"]);
    expect(t.sup.current).toMatchObject({ generation: 2, pid: 1001 });
  });

  it("race: the old one crashed, then the candidate dies before it is ready: the old build starts again after the backoff", async () => {
    const t = make();
    const { second } = await oldCrashesDuringTrial(t);
    await flush();
    t.procs[1]!.crash();
    expect(await second).toMatchObject({ ok: false, generation: 2, reason: "exited before it was ready" });
    await flush();
    expect(t.sup.phase).toBe("backingOff");
    t.advance(500);
    await flush();
    expect(t.procs[2]!.opts.command).toBe("/store/binaries/sha1");
  });

  it("run restarts a clean exit too, after the backoff", async () => {
    const t = make();
    await serving(t);
    t.procs[0]!.end({ exitCode: 0 });
    await flush();
    expect(t.sup.phase).toBe("backingOff");
    expect(t.captured).toEqual([]);
    t.advance(500);
    await flush();
    t.procs[1]!.say("ready");
    await flush();
    expect(t.events.filter((e) => e.event === "ready").at(-1)).toMatchObject({ generation: 1, restart: 1 });
  });

  it("backoff doubles up to its cap; a new build (resetBackoff) starts it over", async () => {
    const t = make({ backoff: { maxMs: 1000 } });
    await serving(t);
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      t.procs.at(-1)!.crash();
      await flush();
      delays.push(...t.pending());
      t.advance(t.pending()[0]!);
      await flush();
    }
    expect(delays).toEqual([500, 1000, 1000]);
    t.sup.resetBackoff();
    t.procs.at(-1)!.crash();
    await flush();
    expect(t.pending()).toEqual([500]);
  });

  it("a generation that ran longer than the stable time (10 s) starts the backoff over at 0.5 s", async () => {
    const t = make();
    await serving(t);
    t.procs[0]!.crash();
    await flush();
    t.advance(500);
    await flush();
    t.procs[1]!.say("ready");
    await flush();
    t.procs[1]!.crash(); // at once: the delay doubles
    await flush();
    expect(t.pending()).toEqual([1000]);
    t.advance(1000);
    await flush();
    t.procs[2]!.say("ready");
    t.advance(10_000); // served 10 s: stable
    await flush();
    t.procs[2]!.crash();
    await flush();
    expect(t.pending()).toEqual([500]);
  });

  it("race: a hung generation that ignores SIGQUIT is killed after 30 s, then restarted", async () => {
    const t = make({ probe: parseProbeSpec("notify"), watchdogMs: 2000 });
    const first = t.sup.deploy(build(1));
    await flush();
    t.sockets[0]!.send("READY=1");
    await first;
    t.procs[0]!.ignoresQuit = true;
    t.advance(2000);
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGQUIT"]);
    expect(t.events.find((e) => e.event === "hang")).toMatchObject({ generation: 1, pid: 1000 });
    expect(t.sup.phase).toBe("serving");
    t.advance(29_999);
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGQUIT"]);
    t.advance(1);
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGQUIT", "SIGKILL"]);
    expect(t.sup.phase).toBe("backingOff");
  });

  it("a hang during the bake (watchdog) is captured, then rolled back to the last good build", async () => {
    const t = make({ probe: parseProbeSpec("notify"), watchdogMs: 2000, bakeMs: 60_000 });
    await switched(t, (i) => t.sockets[i]!.send("READY=1"));
    await flush();
    expect(t.sup.phase).toBe("baking");
    t.advance(2000);
    await flush();
    expect(t.procs[1]!.signals).toEqual(["SIGQUIT"]);
    expect(t.captured.map((f) => [f.pid, Boolean(f.hang)])).toEqual([[1001, true]]);
    expect(t.sup.phase).toBe("rollingBack");
    expect(t.procs[2]!.opts.command).toBe("/store/binaries/sha1");
    expect(t.events.find((e) => e.event === "rollback")).toMatchObject({
      generation: 2,
      reason: "crashed during its bake",
      servingGeneration: 1,
    });
  });

  it("the rollback's own start dies before it is ready: the good build is started again after the backoff", async () => {
    const t = make({ bakeMs: 60_000 });
    await switched(t);
    await flush();
    t.procs[1]!.crash();
    await flush();
    expect(t.sup.phase).toBe("rollingBack");
    t.procs[2]!.crash();
    await flush();
    expect(t.sup.phase).toBe("backingOff");
    t.advance(500);
    await flush();
    expect(t.procs[3]!.opts.command).toBe("/store/binaries/sha1");
    t.procs[3]!.say("ready");
    await flush();
    expect(t.sup.current).toMatchObject({ generation: 1, pid: 1003 });
    // The bad build stays out.
    expect(await t.sup.deploy(build(4, "sha2"))).toMatchObject({ ok: false, generation: 4 });
  });

  it("race: a new build arriving during a rollback is deployed once the rollback serves", async () => {
    const t = make({ bakeMs: 60_000 });
    await switched(t);
    await flush();
    t.procs[1]!.crash();
    await flush();
    const third = t.sup.deploy(build(3));
    await flush();
    expect(t.procs).toHaveLength(3); // the rollback's start only
    t.procs[2]!.say("ready");
    await flush();
    expect(t.procs).toHaveLength(4);
    expect(t.procs[3]!.opts.command).toBe("/store/binaries/sha3");
    t.procs[3]!.say("ready");
    expect(await third).toMatchObject({ ok: true, generation: 3, pid: 1003 });
    await flush();
    // 3 is on probation against the rolled-back good build.
    expect(t.sup.phase).toBe("baking");
  });

  it("race: the held old generation dies during the bake: the bake goes on; a failure then starts the good build from the store", async () => {
    const t = make({ bakeMs: 60_000, bakeHoldOld: true });
    await switched(t);
    await flush();
    t.procs[0]!.crash();
    await flush();
    expect(t.sup.phase).toBe("baking");
    expect(t.pending()).toEqual([60_000]);
    t.procs[1]!.crash();
    await flush();
    expect(t.sup.phase).toBe("rollingBack");
    expect(t.procs[2]!.opts.command).toBe("/store/binaries/sha1");
  });

  it("race: a rollback to a generation whose old process is still draining waits for it to end before starting", async () => {
    const t = make({ bakeMs: 60_000 });
    let drained!: () => void;
    t.steering.drain = () =>
      new Promise((r) => {
        drained = () => r({ ms: 5, left: 0 });
      });
    await switched(t);
    await flush();
    expect(t.procs[0]!.exited).toBe(false); // still draining
    t.procs[1]!.crash();
    await flush();
    expect(t.sup.phase).toBe("rollingBack");
    expect(t.procs).toHaveLength(2); // its sockets are still held by the draining process
    drained();
    await flush();
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
    expect(t.procs).toHaveLength(3);
    t.procs[2]!.say("ready");
    await flush();
    expect(t.sup.current).toMatchObject({ generation: 1, pid: 1002 });
  });

  it("a start that fails to spawn is a failed deploy, and the build is tried again after the backoff", async () => {
    const t = make();
    const launch = t.host.launch;
    t.host.launch = () => {
      throw new Error("spawn /store/binaries/sha1 EACCES");
    };
    const r = await t.sup.deploy(build(1));
    expect(r).toMatchObject({ ok: false, generation: 1, reason: "spawn /store/binaries/sha1 EACCES" });
    expect(t.sup.phase).toBe("backingOff");
    t.host.launch = launch;
    t.advance(500);
    await flush();
    expect(t.procs).toHaveLength(1);
  });

  it("linked with sockets to hand over changes nothing: the serving one stays until the new one is ready", async () => {
    const t = make();
    await serving(t);
    t.sup.stopBeforeDeploy();
    await flush();
    expect(t.sup.phase).toBe("serving");
    expect(t.procs[0]!.signals).toEqual([]);
  });

  it("race: Ctrl-C during the backoff cancels the restart", async () => {
    const t = make();
    await serving(t);
    t.procs[0]!.crash();
    await flush();
    expect(t.pending()).toEqual([500]);
    await t.sup.stop();
    sup = null;
    expect(t.pending()).toEqual([]);
    expect(t.sup.phase).toBe("stopped");
    expect(await t.sup.deploy(build(2))).toMatchObject({ ok: false, generation: 2, reason: "shutting down" });
    expect(t.procs).toHaveLength(1);
  });

  it("race: Ctrl-C while a start waits for its port: the process is stopped the moment it runs", async () => {
    const t = make({ env: { PORT: "{port}" } });
    let port!: (p: number) => void;
    t.host.freePort = () =>
      new Promise((r) => {
        port = r;
      });
    const first = t.sup.deploy(build(1));
    await flush();
    expect(t.procs).toHaveLength(0);
    const stopping = t.sup.stop();
    expect(await first).toMatchObject({ ok: false, reason: "shutting down" });
    port(40001);
    await stopping;
    sup = null;
    expect(t.procs).toHaveLength(1);
    expect(t.procs[0]!.opts.env.PORT).toBe("40001");
    expect(t.procs[0]!.signals).toEqual(["SIGTERM"]);
  });
});
