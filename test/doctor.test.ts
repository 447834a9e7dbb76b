import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-doctor-");
/** PATH without any directory that holds a dlv: what a machine without Delve has. */
const PATH_WITHOUT_DLV = (process.env.PATH ?? "")
  .split(":")
  .filter((d) => d && !existsSync(join(d, "dlv")))
  .join(":");

interface Check {
  id: string;
  status: "ok" | "warn" | "fail";
  message: string;
  remedy?: string;
}

describe("hotdump doctor", () => {
  it("checks the tools capture depends on, with versions", async () => {
    const r = await runCli(["doctor", "--json", "--binary", buildGoFixture("exectarget")]);
    const { ok, checks } = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
    const byId = new Map(checks.map((c) => [c.id, c]));
    expect(byId.get("delve")?.message).toMatch(/1\.27\.2$/);
    expect(byId.get("gdb")?.status).toBe("ok");
    expect(byId.get("go")?.message).toMatch(/go1\.\d+/);
    expect(byId.get("core-pattern")).toBeDefined();
    expect(byId.get("binary")?.message).toMatch(/DWARF present/);
    expect(ok).toBe(r.code === 0);
  });

  it("fails a stripped binary with the remedy, and exits 1", async () => {
    const stripped = buildGoFixture("exectarget", { debug: false, flags: ["-ldflags=-s -w"] });
    const r = await runCli(["doctor", "--binary", stripped]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /\[fail\] .* has no DWARF: built with -ldflags='-s -w', its cores cannot be debugged/,
    );
    expect(r.stdout).toMatch(/→ build without -s -w/);
  });

  it("passes a real cgo binary (8-byte aligned .note.gnu.property), with its build IDs", async () => {
    const cgo = buildGoFixture("cgosvc", { cgo: true });
    const r = await runCli(["doctor", "--json", "--binary", cgo]);
    const { ok, checks } = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
    const bin = checks.find((c) => c.id === "binary");
    expect(bin?.status).toBe("ok");
    expect(bin?.message).toMatch(/go1\.\d+.*DWARF present, build ID \S+\/\S+/);
    expect(r.stderr).not.toMatch(/malformed|damaged|E_ELF_CORRUPT/);
    expect(ok).toBe(r.code === 0);
  });

  it("fails, and exits 1, for a non-Go ELF (not 'damaged') and for a missing file", async () => {
    const ls = await runCli(["doctor", "--binary", "/bin/ls"]);
    expect(ls.code).toBe(1);
    expect(ls.stdout).toMatch(/\[fail\] \/bin\/ls is not a Go program/);
    expect(ls.stdout + ls.stderr).not.toMatch(/malformed|damaged/);
    const missing = await runCli(["doctor", "--binary", "/nonexistent/svc"]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/\[fail\] cannot read \/nonexistent\/svc.*\[E_ELF_IO\]/);
    // The other checks are still printed, and no stack trace.
    expect(missing.stdout).toMatch(/\[ ok \] go go1/);
    expect(missing.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it("says how to install Delve when it is missing", async () => {
    const r = await runCli(["doctor", "--json"], { env: { HOTDUMP_DLV: "/nonexistent/dlv" } });
    const { checks } = JSON.parse(r.stdout) as { checks: Check[] };
    const dlv = checks.find((c) => c.id === "delve");
    expect(dlv?.status).toBe("fail");
    expect(dlv?.remedy).toMatch(/go install github\.com\/go-delve\/delve\/cmd\/dlv@v1\.27\.2/);
    expect(dlv?.remedy).toContain("hotdump doctor --fix");
    expect(r.code).toBe(1);
  });

  it("a crash analysed without Delve says how to install it", async () => {
    const { cwd, store } = scratch.project();
    const r = await runCli(["exec", "--store", store, "--", buildGoFixture("exectarget"), "panic"], {
      cwd,
      env: { GOBIN: scratch.dir(), PATH: PATH_WITHOUT_DLV },
    });
    expect(r.stderr).toContain("crash captured");
    expect(r.stderr).toContain("hotdump doctor --fix");
  });
});
