import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { thrown } from "../../test/helpers/thrown.js";
import { isHotdumpError } from "../errors.js";
import { applyCoreFix, doctorCoreChecks, needsCoreFix } from "./coreChecks.js";

const unlimited = { soft: 0n, hard: "unlimited" as const };
let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("doctorCoreChecks", () => {
  it("warns about the relative default and says where cores land", () => {
    const c = doctorCoreChecks({
      cwd: "/srv/app",
      settings: { pattern: "core", usesPid: false },
      selfLimit: unlimited,
    });
    expect(c.find((x) => x.id === "core-pattern")).toMatchObject({ status: "warn" });
    expect(c.find((x) => x.id === "core-pattern")?.message).toContain("/srv/app/core");
    expect(c.find((x) => x.id === "core-rlimit")).toMatchObject({ status: "ok" });
  });
  it("does not call core_uses_pid 0 ok under a pattern without %p (issue 22)", () => {
    const at = (pattern: string, usesPid: boolean) =>
      doctorCoreChecks({ cwd: "/srv/app", settings: { pattern, usesPid }, selfLimit: unlimited }).find(
        (x) => x.id === "core-uses-pid",
      );
    expect(at("core", false)).toMatchObject({
      status: "warn",
      remedy: expect.stringContaining("core_uses_pid=1"),
    });
    expect(at("core", true)).toMatchObject({ status: "ok" });
    expect(at("/var/cores/core.%p", false)).toMatchObject({ status: "ok" });
  });
  it("warns for an unknown pipe and a hard limit of 0 (the tracer then captures), fails for a missing directory", () => {
    const pipe = doctorCoreChecks({
      cwd: "/",
      settings: { pattern: "|/usr/bin/foo %p", usesPid: false },
      selfLimit: { soft: 0n, hard: 0n },
    });
    // Warnings, not failures: the tracer captures where the kernel's core cannot reach hotdump.
    expect(pipe.find((x) => x.id === "core-pattern")).toMatchObject({ status: "warn" });
    expect(pipe.find((x) => x.id === "core-rlimit")).toMatchObject({ status: "warn" });
    expect(pipe.find((x) => x.id === "capture-mode")?.message).toMatch(
      /tracer, because RLIMIT_CORE's hard limit is 0/,
    );
    const missing = doctorCoreChecks({
      cwd: "/",
      settings: { pattern: "/nonexistent/dir/core.%p", usesPid: false },
      selfLimit: unlimited,
    });
    expect(missing.find((x) => x.id === "core-dir")).toMatchObject({ status: "fail" });
    const sd = doctorCoreChecks({
      cwd: "/",
      settings: {
        pattern: "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h",
        usesPid: false,
      },
      selfLimit: unlimited,
      hasCoredumpctl: true,
    });
    expect(sd.find((x) => x.id === "core-pattern")).toMatchObject({ status: "ok" });
  });
});

describe("applyCoreFix", () => {
  it("leaves a working pattern alone and replaces a relative one, returning the undo", () => {
    expect(needsCoreFix({ pattern: "/var/cores/core.%p", usesPid: false })).toBe(false);
    dir = mkdtempSync(join(tmpdir(), "hotdump-fix-"));
    writeFileSync(join(dir, "core_pattern"), "core\n");
    writeFileSync(join(dir, "core_uses_pid"), "0\n");
    const cores = join(dir, "cores");
    const err = thrown(() => applyCoreFix({ procSys: dir, dir: cores, isRoot: false }));
    expect(isHotdumpError(err) && err.code).toBe("E_CORE_FIX_NOT_ROOT");
    const r = applyCoreFix({ procSys: dir, dir: cores, isRoot: true });
    expect(r).toMatchObject({ changed: true, previous: "core", current: `${cores}/core.%e.%p.%t` });
    expect(r.undo).toBe("sysctl -w kernel.core_pattern='core'");
    expect(readFileSync(join(dir, "core_pattern"), "utf8")).toBe(`${cores}/core.%e.%p.%t`);
    expect(statSync(cores).mode & 0o7777).toBe(0o1777);
    expect(applyCoreFix({ procSys: dir, dir: cores, isRoot: true }).changed).toBe(false);
  });
});
