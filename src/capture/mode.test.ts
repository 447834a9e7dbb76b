import { describe, expect, it } from "vitest";
import { thrown } from "../../test/helpers/thrown.js";
import { parseCaptureMode, resolveCaptureMode } from "./mode.js";

const unlimited = { soft: 0n, hard: "unlimited" as const };
const auto = (pattern: string, o: { hard0?: boolean; coredumpctl?: boolean } = {}) =>
  resolveCaptureMode("auto", {
    settings: { pattern, usesPid: false },
    selfLimit: o.hard0 ? { soft: 0n, hard: 0n } : unlimited,
    hasCoredumpctl: o.coredumpctl ?? false,
    exists: (path) => !path.includes("not-here"),
  });

describe("resolveCaptureMode auto", () => {
  it("keeps the kernel's core where it reaches hotdump", () => {
    expect(auto("core").mode).toBe("kernel");
    expect(auto("/var/lib/hotdump/cores/core.%e.%p.%t").mode).toBe("kernel");
    expect(auto("|/usr/lib/systemd/systemd-coredump %P %u %g %s %t %c %h", { coredumpctl: true }).mode).toBe(
      "kernel",
    );
  });
  it("uses hotdump's handler when core_pattern pipes to it", () => {
    expect(auto("|/usr/local/lib/hotdump/hotdump-tracer handle %P %i %I %s %t %e %c %u %g %d %h %F")).toEqual(
      {
        mode: "handler",
        why: "core_pattern pipes to hotdump's handler (doctor --fix)",
      },
    );
  });
  it("chooses the tracer where the kernel's core cannot reach hotdump, and says why", () => {
    expect(auto("|/bin/false")).toEqual({
      mode: "tracer",
      why: "core_pattern pipes to /bin/false, a handler hotdump cannot retrieve cores from",
    });
    // A container: the host's handler is not in this mount namespace.
    expect(auto("|/usr/share/apport/apport-not-here -p%p").why).toMatch(/not in this mount namespace/);
    expect(auto("|/usr/lib/systemd/systemd-coredump %P", { coredumpctl: false }).why).toMatch(
      /coredumpctl is not installed/,
    );
    expect(auto("@/run/cores.sock").why).toMatch(/socket/);
    expect(auto("core", { hard0: true }).why).toMatch(/hard limit is 0/);
  });
});

describe("--capture", () => {
  it("takes the four modes and refuses others with a usage error", () => {
    expect(parseCaptureMode(undefined)).toBe("auto");
    expect(parseCaptureMode("tracer")).toBe("tracer");
    expect(thrown(() => parseCaptureMode("ptrace"))).toMatchObject({ code: "E_CAPTURE_MODE", exitCode: 2 });
  });
  it("refuses handler where the handler is not installed", () => {
    const e = thrown(() => resolveCaptureMode("handler", { settings: { pattern: "core", usesPid: false } }));
    expect(e).toMatchObject({ code: "E_CAPTURE_NO_HANDLER" });
  });
});
