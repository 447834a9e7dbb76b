/**
 * `hotdump profile`: the pprof decoder checked against Go's own reading of a recorded profile,
 * the perf-script folding on a recorded perf run, the SVG renderer (escaping, well-formedness),
 * then the real command against the fxprof service (pprof endpoint, perf, no profiler at all).
 * The recordings come from test/fixtures/profile/record.sh (a run of test/fixtures/go/fxprof).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { isHotdumpError } from "../src/errors.js";
import {
  foldStacks,
  parseFolded,
  parsePerfScript,
  renderFlameGraph,
  type Stack,
  topSelf,
} from "../src/forensics/flame.js";
import { decodeProfile, sampleCountIndex } from "../src/forensics/pprof.js";
import { pprofUrl } from "../src/forensics/profileProcess.js";
import { findOnPath } from "../src/util/which.js";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture, GO_FIXTURES } from "./helpers/go.js";
import { thrown } from "./helpers/thrown.js";

const DATA = join(GO_FIXTURES, "..", "profile");
const tmp = () => mkdtempSync(join(tmpdir(), "hotdump-prof-"));

/** Go's reading: `go tool pprof -raw` text → root-first stacks (sample count, the first value). */
function parseRaw(text: string): Stack[] {
  const lines = text.split("\n");
  const locs = new Map<number, string[]>();
  const samples: { n: number; ids: number[] }[] = [];
  let section = "";
  let cur: string[] | null = null;
  for (const line of lines) {
    if (/^(Samples:|Locations|Mappings)$/.test(line)) {
      section = line.replace(":", "");
      continue;
    }
    if (section === "Samples") {
      const m = /^\s*(\d+)\s+\d+:\s*([\d ]+)$/.exec(line);
      if (m) samples.push({ n: Number(m[1]), ids: m[2]!.trim().split(/\s+/).map(Number) });
    } else if (section === "Locations") {
      const m = /^\s*(\d+): 0x[0-9a-f]+ M=\d+ (\S+)/.exec(line);
      if (m) {
        cur = [m[2]!];
        locs.set(Number(m[1]), cur);
      } else if (cur && /^\s+\S/.test(line)) cur.push(line.trim().split(/\s+/)[0]!);
    }
  }
  return samples.map((s) => ({
    frames: s.ids.flatMap((id) => locs.get(id) ?? [`?${id}`]).reverse(),
    value: s.n,
  }));
}

/** Enough of an XML well-formedness check for our output: tags nest, no bare < or & in text. */
function expectWellFormed(svg: string): void {
  const stack: string[] = [];
  const re =
    /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<&]*(?:&#\d+;[^"<&]*)*")*)\s*(\/?)>|<|&(?!#\d+;|amp;|lt;|gt;|quot;)/g;
  for (let m = re.exec(svg); m; m = re.exec(svg)) {
    if (m[2] === undefined)
      throw new Error(`bare ${m[0]} at ${m.index}: ${svg.slice(m.index - 40, m.index + 40)}`);
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]);
  }
  expect(stack).toEqual([]);
}

describe("profile decoding and flame graphs (recorded runs)", () => {
  it("decodes a real Go CPU profile exactly as `go tool pprof -raw` reads it, inlined frames included", () => {
    const p = decodeProfile(readFileSync(join(DATA, "cpu.pprof")));
    expect(p.sampleTypes).toEqual([
      { type: "samples", unit: "count" },
      { type: "cpu", unit: "nanoseconds" },
    ]);
    expect(p.periodType).toEqual({ type: "cpu", unit: "nanoseconds" });
    expect(p.period).toBe(10_000_000);
    expect(p.durationNanos).toBeGreaterThan(1.9e9);
    const idx = sampleCountIndex(p);
    const ours = p.samples.map((s) => ({ frames: s.stack, value: s.values[idx] ?? 0 }));
    const go = parseRaw(readFileSync(join(DATA, "cpu.raw.txt"), "utf8"));
    expect(go.length).toBeGreaterThan(3);
    expect(foldStacks(ours)).toBe(foldStacks(go));
    // main.step is inlined into main.burnCPU: one location, two frames, callee on top.
    expect(foldStacks(ours)).toMatch(/^main\.main\.func1;main\.burnCPU;main\.step \d+$/m);
    expect(topSelf(ours)[0]?.name).toMatch(/^main\.(burnCPU|step)$/);
    // The plain protobuf (as a server may send without gzip) reads the same.
    const plain = decodeProfile(gunzipSync(readFileSync(join(DATA, "cpu.pprof"))));
    expect(plain.samples).toEqual(p.samples);
  });

  it("refuses what is not a profile with a typed error", () => {
    const raw = gunzipSync(readFileSync(join(DATA, "cpu.pprof")));
    for (const bad of [
      Buffer.from("404 page not found\n"),
      raw.subarray(0, Math.floor(raw.length / 2)),
      Buffer.from([0x1f, 0x8b, 1, 2, 3]),
    ]) {
      const err = thrown(() => decodeProfile(bad));
      expect(isHotdumpError(err) && err.code).toBe("E_PROFILE_BAD");
    }
  });

  it("folds a real `perf script` run: offsets and .abi0 dropped, unknown frames named by object", () => {
    const text = readFileSync(join(DATA, "perf.script.txt"), "utf8");
    const stacks = parsePerfScript(text);
    const headers = text.split("\n").filter((l) => l !== "" && !/^\s/.test(l)).length;
    expect(stacks.length).toBe(headers);
    expect(stacks.length).toBeGreaterThan(50);
    const folded = foldStacks(stacks);
    expect(folded).not.toMatch(/\+0x|\.abi0/);
    expect(folded).toMatch(/^runtime\.goexit;.*main\.burnCPU\b/m);
    expect(topSelf(stacks)[0]?.name).toMatch(/^main\.(burnCPU|step)$/);
    expect(
      parsePerfScript(
        "x 1 [0] 1.0: 1 cpu-clock:\n\t 1234 [unknown] (/opt/svc/bin/api)\n\t 99 main.main+0x1 (/opt/svc/bin/api)\n",
      ),
    ).toEqual([{ frames: ["main.main", "[api]"], value: 1 }]);
  });

  it("renders an inert, well-formed SVG with every name escaped", () => {
    const stacks: Stack[] = [
      { frames: ["main.main", "main.(*Pool[<script>alert(1)</script>]).Get"], value: 30 },
      { frames: ["main.main", "std::vector<int>::at & \"q\" 's'"], value: 10 },
      { frames: ["main.main", "a;b"], value: 1 },
      { frames: ["main.main", "main.tiny"], value: 0 },
    ];
    const svg = renderFlameGraph(stacks, { title: "t <&> t" });
    expect(svg.startsWith("<svg ")).toBe(true);
    expectWellFormed(svg);
    expect(svg).not.toMatch(/<script|<int>/);
    expect(svg).toContain("main.(*Pool[&#60;script&#62;alert(1)&#60;/script&#62;]).Get (30 samples, 73.17%)");
    expect(svg).toContain("std::vector&#60;int&#62;::at &#38; &#34;q&#34; &#39;s&#39;");
    expect(svg).toContain("t &#60;&#38;&#62; t");
    expect(svg).not.toContain("main.tiny");
    // Folded text keeps a ';' in a name from splitting the frame.
    expect(parseFolded(foldStacks(stacks))).toContainEqual({ frames: ["main.main", "a:b"], value: 1 });
    // The real recording renders too, with its hottest function labelled.
    const p = decodeProfile(readFileSync(join(DATA, "cpu.pprof")));
    const real = renderFlameGraph(p.samples.map((s) => ({ frames: s.stack, value: s.values[0] ?? 0 })));
    expectWellFormed(real);
    expect(real).toMatch(/<text [^>]*>main\.burnCPU<\/text>/);
    const empty = renderFlameGraph([]);
    expectWellFormed(empty);
    expect(empty).toContain("no samples");
  });

  it("builds the profile URL: Go's path for a bare origin, seconds set, only http(s)", () => {
    expect(pprofUrl("http://127.0.0.1:6060", 3).toString()).toBe(
      "http://127.0.0.1:6060/debug/pprof/profile?seconds=3",
    );
    expect(pprofUrl("http://127.0.0.1:6060/x/profile?seconds=99&a=1", 2).toString()).toBe(
      "http://127.0.0.1:6060/x/profile?seconds=2&a=1",
    );
    for (const bad of ["file:///etc/passwd", "127.0.0.1:6060", "not a url"])
      expect(() => pprofUrl(bad, 1)).toThrow(/--pprof must be/);
  });
});

describe("hotdump profile (a real service)", () => {
  let svc: ChildProcess | undefined;
  afterEach(() => {
    svc?.kill("SIGKILL");
    svc = undefined;
  });

  /** Start fxprof (optimised, so main.step is inlined) and wait for its pprof address. */
  async function startService(): Promise<{ pid: number; addr: string; bin: string }> {
    const bin = buildGoFixture("fxprof", { debug: false });
    const p = spawn(bin, [], {
      env: { ...process.env, ADDR: "127.0.0.1:0", LIFETIME: "60s" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    svc = p;
    const addr = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`fxprof did not start: ${out}`)), 10_000);
      p.stdout!.on("data", (c) => {
        out += c;
        const m = /listening on (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      p.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`fxprof exited ${code}: ${out}`));
      });
    });
    return { pid: p.pid!, addr, bin };
  }

  const mode = (p: string) => statSync(p).mode & 0o777;
  /** CPU time the process has used, in clock ticks (1/100 s): utime + stime of /proc/PID/stat. */
  const cpuTicks = (pid: number) => {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(")")[1]!.trim().split(" ");
    return Number(f[11]) + Number(f[12]);
  };
  /** `hotdump profile --<name> <value>… --store <store> [--json]`. */
  const profile = (store: string, flags: Record<string, string | number>, json = false) =>
    runCli([
      "profile",
      ...Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]),
      "--store",
      store,
      ...(json ? ["--json"] : []),
    ]);

  it("profiles through the service's pprof endpoint: flame graph, profile and meta stored 0600", async () => {
    const { pid, addr, bin } = await startService();
    const store = join(tmp(), "store");
    const t0 = performance.now();
    const cpu0 = cpuTicks(pid);
    const r = await profile(store, { pid, seconds: 2, pprof: `http://${addr}/debug/pprof/profile` }, true);
    const used = cpuTicks(pid) - cpu0;
    const ms = performance.now() - t0;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ pid, generation: null, seconds: 2, method: "pprof" });
    // burnCPU spins one goroutine flat out. pprof samples every 10 ms of CPU the process uses, so the
    // samples follow the CPU it got, however busy the machine.
    // The window measured here is wider than the profile's (hotdump's start and end are in it), so
    // the CPU it saw bounds the samples from above; the floor holds at a load of 20 on two CPUs.
    expect(j.samples).toBeGreaterThan(10);
    expect(j.samples).toBeLessThanOrEqual(used + 5);
    expect(ms).toBeLessThan(10_000);
    const svg = readFileSync(j.svg, "utf8");
    expect(svg.startsWith("<svg ")).toBe(true);
    expectWellFormed(svg);
    expect(svg).toContain("main.burnCPU");
    expect(svg).toContain(`${j.samples} samples via pprof`);
    expect(readFileSync(j.folded, "utf8")).toMatch(/main\.burnCPU;main\.step \d+$/m);
    expect(decodeProfile(readFileSync(j.profile)).samples.length).toBeGreaterThan(0);
    expect(j.top[0].name).toMatch(/^main\.(burnCPU|step)$/);
    // The stored binary is exactly the one that ran (the symbol source for go tool pprof).
    expect(j.binary.sha256).toBe(createHash("sha256").update(readFileSync(bin)).digest("hex"));
    expect(existsSync(j.binary.path)).toBe(true);
    expect(j.dir.startsWith(join(store, "profiles", `pid${pid}-`))).toBe(true);
    expect(mode(join(store, "profiles"))).toBe(0o700);
    expect(mode(j.dir)).toBe(0o700);
    expect(readdirSync(j.dir).sort()).toEqual(["cpu.pprof", "flame.svg", "folded.txt", "meta.json"]);
    for (const f of readdirSync(j.dir)) expect(mode(join(j.dir, f))).toBe(0o600);
    const meta = JSON.parse(readFileSync(join(j.dir, "meta.json"), "utf8"));
    expect(meta).toMatchObject({ schema: 1, method: "pprof", samples: j.samples, periodNanos: 10_000_000 });
    expect(meta.source).toBe(`http://${addr}/debug/pprof/profile?seconds=2`);

    // The human output names the paths and the next step.
    const h = await profile(store, { pid, seconds: 1, pprof: `http://${addr}` });
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/CPU profile of pid \d+: \d+ samples in 1 s via pprof/);
    expect(h.stdout).toMatch(/flame graph: .*flame\.svg\n/);
    expect(h.stdout).toContain("go tool pprof");
  });

  it("profiles a supervised generation named in running.json; unknown generations are refused", async () => {
    const { pid, addr, bin } = await startService();
    const store = join(tmp(), "store");
    const r0 = await runCli(["profile", "--generation", "7", "--pprof", `http://${addr}`, "--store", store]);
    expect(r0.code).toBe(2);
    expect(r0.stderr).toContain("[E_PROFILE_TARGET]");
    // The file `hotdump run` keeps (src/supervise/leftovers.ts); written here as it writes it.
    mkdirSync(store, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(store, "running.json"),
      JSON.stringify([
        { pid: 1, generation: 6, binary: "/nonexistent", supervisor: 1 },
        { pid, generation: 7, binary: bin, supervisor: process.pid },
      ]),
    );
    const r = await profile(store, { seconds: 1, pprof: `http://${addr}` }, true);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ pid, generation: 7, method: "pprof" });
    expect(j.dir.startsWith(join(store, "profiles", "gen7-"))).toBe(true);
    expect(readFileSync(j.svg, "utf8")).toContain("generation 7");
  });

  it.skipIf(!findOnPath("perf") || process.getuid?.() !== 0)(
    "without --pprof, records with perf (frame pointers) and folds its stacks",
    async () => {
      const { pid } = await startService();
      const store = join(tmp(), "store");
      const cpu0 = cpuTicks(pid);
      const r = await runCli(["profile", "--pid", String(pid), "--seconds", "2", "--store", store, "--json"]);
      const used = cpuTicks(pid) - cpu0;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j).toMatchObject({ pid, method: "perf", seconds: 2 });
      // perf samples the CPU the process got (99 a second of it), whatever the machine's load.
      expect(j.samples).toBeGreaterThan(10);
      expect(j.samples).toBeLessThanOrEqual(used + 5);
      expect(j.profile).toBe(join(j.dir, "perf.data"));
      const svg = readFileSync(j.svg, "utf8");
      expectWellFormed(svg);
      expect(svg).toContain("main.burnCPU");
      for (const f of readdirSync(j.dir)) expect(mode(join(j.dir, f))).toBe(0o600);
    },
  );

  it("fails with both remedies when there is no pprof endpoint and no perf; bad endpoints leave nothing behind", async () => {
    const { pid, addr } = await startService();
    const store = join(tmp(), "store");
    const r = await runCli(["profile", "--pid", String(pid), "--seconds", "1", "--store", store], {
      env: { PATH: "/nonexistent" },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[E_NO_PROFILER]");
    expect(r.stderr).toContain('import _ "net/http/pprof"');
    expect(r.stderr).toContain("apt-get install linux-perf");
    expect(r.stderr).not.toMatch(/\n\s+at /);

    const nf = await profile(store, { pid, seconds: 1, pprof: `http://${addr}/nope` });
    expect(nf.code).toBe(1);
    expect(nf.stderr).toContain("[E_PROFILE_FAILED]");
    expect(nf.stderr).toContain("answered 404");
    expect(nf.stderr).toContain("net/http/pprof");

    // A port nothing listens on: the service's own port after it is gone.
    svc?.kill("SIGKILL");
    await new Promise((res) => svc?.once("exit", res));
    const gone = await profile(store, { pid: process.pid, seconds: 1, pprof: `http://${addr}` });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("connection refused");
    expect(readdirSync(join(store, "profiles"))).toEqual([]);

    const dead = await profile(store, { pid, pprof: `http://${addr}` });
    expect(dead.code).toBe(1);
    expect(dead.stderr).toContain("no such process");
    const both = await runCli(["profile", "--pid", "1", "--generation", "2", "--store", store]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("not both");
  });
});
