/**
 * `hotdump dev --listen`: hotdump holds the socket, so requests made while a new build compiles
 * and starts wait in the kernel's backlog and are served, by the old generation until the new one
 * is ready, then by the new one. A bounded client loop runs through three edits: no request fails.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { binaryPath, storeLayout } from "../src/store/index.js";
import { freePort } from "../src/supervise/probe.js";
import { GO_FIXTURES } from "./helpers/go.js";
import { httpGet, startLoad } from "./helpers/http.js";
import { useScratch } from "./helpers/scratch.js";
import { pidsRunning } from "./helpers/supervised.js";

// test/fixtures/go/devlistensvc, copied into a project whose edits change the version it answers.
const source = readFileSync(join(GO_FIXTURES, "devlistensvc", "main.go"), "utf8");
const service = (version: string) => source.replace('const version = "v1"', `const version = "${version}"`);

const scratch = useScratch("hotdump-devlisten-");

describe("hotdump dev --listen", () => {
  it("serves every request through three rebuilds", async () => {
    const dir = scratch.dir();
    writeFileSync(join(dir, "go.mod"), "module devlisten\n\ngo 1.24\n");
    writeFileSync(join(dir, "main.go"), service("v1"));
    const port = await freePort();
    const sup = scratch.start(
      ["dev", "--json-events", "--listen", `127.0.0.1:${port}`, "--probe", "alive:200ms"],
      { cwd: dir },
    );
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 90_000, "generation 1 ready");

    const traffic = startLoad(port, { max: 20_000, pauseMs: 5, timeoutMs: 10_000 });
    for (const [i, v] of ["v2", "v3", "v4"].entries()) {
      writeFileSync(join(dir, "main.go"), service(v));
      await sup.waitFor((e) => e.event === "switch" && e.generation === i + 2, 60_000, `switch to ${v}`);
      await sup.waitFor(
        (e) => e.event === "stopped" && e.generation === i + 1,
        10_000,
        `generation ${i + 1} stopped`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
    const { errors, ok, bodies } = await traffic.stop();
    expect(errors, errors.slice(0, 3).join("; ")).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(bodies).toContain("v4");
    expect(await httpGet(port, "/", 10_000)).toBe("v4");
    // The service sees the systemd activation names, never hotdump's own stage-1 handoff ones.
    const env = (await httpGet(port, "/env", 10_000)).trim().split("\n").sort();
    expect(env).toContain("LISTEN_FDS=1");
    expect(env.filter((kv) => kv.startsWith("HOTDUMP_"))).toEqual([]);

    // Ctrl-C: everything stops cleanly, nothing keeps running.
    const binaries = sup.events
      .filter((e) => e.event === "build-ok")
      .map((e) => binaryPath(storeLayout(join(dir, ".hotdump")), String(e.sha256)));
    expect(await sup.stop("SIGINT")).toBe(0);
    for (const b of binaries) expect(await pidsRunning(b)).toEqual([]);
  }, 180_000);
});
