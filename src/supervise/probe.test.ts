import { describe, expect, it } from "vitest";
import { thrown } from "../../test/helpers/thrown.js";
import { HotdumpError } from "../errors.js";
import { expandPort, freePort, parseProbeSpec, probeTimingDefaults } from "./probe.js";

describe("parseProbeSpec", () => {
  it.each([
    ["http://127.0.0.1:{port}/healthz", { kind: "http", url: "http://127.0.0.1:{port}/healthz" }],
    ["http://localhost:8080/", { kind: "http", url: "http://localhost:8080/" }],
    ["tcp:127.0.0.1:{port}", { kind: "tcp", host: "127.0.0.1", port: "{port}" }],
    ["tcp::9000", { kind: "tcp", host: "127.0.0.1", port: "9000" }],
    ["tcp:[::1]:9000", { kind: "tcp", host: "::1", port: "9000" }],
    ["exec:curl -fs localhost:{port}", { kind: "exec", command: "curl -fs localhost:{port}" }],
    ["alive:1.5s", { kind: "alive", ms: 1500 }],
    ["alive:200ms", { kind: "alive", ms: 200 }],
    ["alive", { kind: "alive", ms: 1000 }],
  ])("%s", (spec, want) => {
    expect(parseProbeSpec(spec)).toEqual(want);
  });

  it("keeps a log regex", () => {
    const p = parseProbeSpec("log:listening on .*:(\\d+)");
    expect(p.kind).toBe("log");
    if (p.kind === "log") expect(p.pattern.test("listening on 127.0.0.1:80 (own)")).toBe(true);
  });

  it.each([
    ["", /empty/],
    ["https://127.0.0.1:{port}/", /https is not supported/],
    ["http://:{port}", /not a valid URL|no host/],
    ["tcp:localhost", /tcp:HOST:PORT/],
    ["tcp:localhost:70000", /out of range/],
    ["exec:", /needs a command/],
    ["log:(", /bad regular expression/],
    ["alive:5", /add a unit/],
    ["alive:-1s", /negative/],
    ["grpc:x", /unknown probe kind "grpc"/],
  ])("rejects %j", (spec, why) => {
    const err = thrown(() => parseProbeSpec(spec));
    expect(err).toBeInstanceOf(HotdumpError);
    expect((err as HotdumpError).code).toBe("E_PROBE_SPEC");
    expect((err as HotdumpError).shortMessage).toMatch(why);
  });
});

describe("timing", () => {
  it("both trust one pass (run's bake watches after the switch, issue 20); dev polls faster", () => {
    const dev = probeTimingDefaults("dev");
    const run = probeTimingDefaults("run");
    expect(dev.successThreshold).toBe(1);
    expect(run.successThreshold).toBe(1);
    expect(dev.periodSeconds).toBeLessThan(run.periodSeconds);
  });
});

describe("ports", () => {
  it("expands every {port}", () => {
    expect(expandPort("http://h:{port}/x?p={port}", 8123)).toBe("http://h:8123/x?p=8123");
    expect(expandPort("no braces", 1)).toBe("no braces");
  });

  it("freePort returns a bindable loopback port", async () => {
    const p = await freePort();
    expect(p).toBeGreaterThan(1023);
    const { createServer } = await import("node:net");
    const s = createServer();
    await new Promise<void>((r, j) => s.once("error", j).listen({ host: "127.0.0.1", port: p }, r));
    await new Promise((r) => s.close(r));
  });
});
