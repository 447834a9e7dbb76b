/** `hotdump run`: reloads by file replacement (--watch-binary) and SIGUSR2, settings from --config. */
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../src/supervise/probe.js";
import { buildGoFixture } from "./helpers/go.js";
import { httpGet } from "./helpers/http.js";
import { type Supervised, startSupervised } from "./helpers/supervised.js";

let sup: Supervised | undefined;
afterEach(async () => {
  await sup?.stop("SIGKILL");
});

describe("hotdump run: reload triggers and config", () => {
  it("reloads when the binary file is replaced", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-runwatch-"));
    const svc = join(dir, "svc");
    const variant = (v: string) => buildGoFixture("runsvc", { flags: [`-ldflags=-X main.version=${v}`] });
    const deploy = (bin: string) => {
      copyFileSync(bin, `${svc}.new`);
      renameSync(`${svc}.new`, svc);
    };
    deploy(variant("1"));
    const port = await freePort();
    sup = startSupervised(
      [
        "run",
        "--json-events",
        "--watch-binary",
        "--listen",
        `127.0.0.1:${port}`,
        "--probe",
        "alive:300ms",
        "--",
        svc,
      ],
      { cwd: dir },
    );
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    expect(await httpGet(port)).toMatch(/^v1 /);
    deploy(variant("2"));
    await sup.waitFor((e) => e.event === "switch" && e.generation === 2, 30_000, "switch to generation 2");
    // The old generation serves until its drain ends: ask once it has stopped.
    await sup.waitFor((e) => e.event === "stopped" && e.generation === 1, 30_000, "generation 1 stopped");
    expect(await httpGet(port)).toMatch(/^v2 /);
    // Again: a rename replaces the inode the first watch was on.
    deploy(variant("3"));
    await sup.waitFor((e) => e.event === "switch" && e.generation === 3, 30_000, "switch to generation 3");
    // The old generation serves until its drain ends: ask once it has stopped.
    await sup.waitFor((e) => e.event === "stopped" && e.generation === 2, 30_000, "generation 2 stopped");
    expect(await httpGet(port)).toMatch(/^v3 /);
  }, 170_000);

  it("a binary replaced while the first generation starts is reloaded once that start is decided", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-runwatch-early-"));
    const svc = join(dir, "svc");
    const variant = (v: string) => buildGoFixture("runsvc", { flags: [`-ldflags=-X main.version=${v}`] });
    const deploy = (bin: string) => {
      copyFileSync(bin, `${svc}.new`);
      renameSync(`${svc}.new`, svc);
    };
    const [v1, v2] = [variant("1"), variant("2")];
    deploy(v1);
    const port = await freePort();
    sup = startSupervised(
      [
        "run",
        "--json-events",
        "--watch-binary",
        "--listen",
        `127.0.0.1:${port}`,
        "--probe",
        "alive:2s",
        "--",
        svc,
      ],
      { cwd: dir },
    );
    // Replaced while generation 1 is still on its 2 s probe, before run could have started
    // watching after the first start.
    await sup.waitFor((e) => e.event === "started" && e.generation === 1, 30_000, "generation 1 started");
    deploy(v2);
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    await sup.waitFor((e) => e.event === "switch" && e.generation === 2, 30_000, "switch to generation 2");
    await sup.waitFor((e) => e.event === "stopped" && e.generation === 1, 30_000, "generation 1 stopped");
    expect(await httpGet(port)).toMatch(/^v2 /);
  }, 120_000);

  it("SIGUSR2 reloads, and --config supplies the sockets and the probe", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hotdump-runcfg-"));
    const svc = join(dir, "svc");
    const port = await freePort();
    writeFileSync(
      join(dir, "prod.toml"),
      `[supervise]\nlisten = ["127.0.0.1:${port}"]\nprobe = "alive:300ms"\n\n[run]\nenv = { GREETING = "hi" }\n`,
    );
    copyFileSync(buildGoFixture("runsvc", { flags: ["-ldflags=-X main.version=1"] }), svc);
    sup = startSupervised(["run", "--json-events", "--config", "prod.toml", "--", svc], { cwd: dir });
    await sup.waitFor((e) => e.event === "ready" && e.generation === 1, 30_000, "generation 1 ready");
    expect(await httpGet(port)).toMatch(/^v1 /);
    copyFileSync(buildGoFixture("runsvc", { flags: ["-ldflags=-X main.version=2"] }), `${svc}.new`);
    renameSync(`${svc}.new`, svc);
    sup.proc.kill("SIGUSR2");
    await sup.waitFor((e) => e.event === "switch" && e.generation === 2, 30_000, "switch to generation 2");
    // The old generation serves until its drain ends: ask once it has stopped.
    await sup.waitFor((e) => e.event === "stopped" && e.generation === 1, 30_000, "generation 1 stopped");
    expect(await httpGet(port)).toMatch(/^v2 /);
  });
});
