import { describe, expect, it } from "vitest";
import {
  CORE_PATTERN_MAX,
  classifyHandler,
  escapeComponent,
  parseCorePattern,
  tokenize,
} from "./corePattern.js";

describe("tokenize", () => {
  it("knows every kernel specifier", () => {
    for (const s of "pPiIugdstheEfcCF")
      expect(tokenize(`x%${s}y`)).toEqual([
        { kind: "literal", text: "x" },
        { kind: "spec", spec: s },
        { kind: "literal", text: "y" },
      ]);
  });
  it("turns %% into % and drops unknown specifiers and a trailing %", () => {
    expect(tokenize("a%%b%zc%")).toEqual([{ kind: "literal", text: "a%bc" }]);
    expect(tokenize("%q%p")).toEqual([{ kind: "spec", spec: "p" }]);
  });
});

describe("parseCorePattern", () => {
  it("the default relative `core`", () => {
    const p = parseCorePattern("core\n", false);
    expect(p).toMatchObject({ kind: "file", relative: true, pidAppended: false });
  });
  it("core_uses_pid appends .%p only when the file pattern has no %p", () => {
    const a = parseCorePattern("core", true);
    expect(a.kind === "file" && a.template).toEqual([
      { kind: "literal", text: "core." },
      { kind: "spec", spec: "p" },
    ]);
    const b = parseCorePattern("/c/core.%p", true);
    expect(b.kind === "file" && b.pidAppended).toBe(false);
    // %P is not %p for this rule (fs/coredump.c sets pid_in_pattern for 'p' only)
    const c = parseCorePattern("/c/core.%P", true);
    expect(c.kind === "file" && c.pidAppended).toBe(true);
    // never for pipes
    expect(parseCorePattern("|/bin/h %s", true)).toMatchObject({ kind: "pipe", argv: ["/bin/h", "%s"] });
  });
  it("splits a pipe command on runs of whitespace before expansion", () => {
    const p = parseCorePattern("|  /usr/lib/systemd/systemd-coredump %P %u  %g\t%s %t %c %h", false);
    expect(p).toMatchObject({
      kind: "pipe",
      handler: "systemd-coredump",
      argv: ["/usr/lib/systemd/systemd-coredump", "%P", "%u", "%g", "%s", "%t", "%c", "%h"],
    });
  });
  it("names the common pipe handlers", () => {
    expect(classifyHandler("/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E")).toBe(
      "apport",
    );
    expect(classifyHandler("/usr/libexec/abrt-hook-ccpp %s %c %p %u %g %t e %P %I %h")).toBe("abrt");
    expect(classifyHandler("/tmp/handler.sh %p")).toBe("other");
  });
  it("reads @ and @@ as the coredump socket", () => {
    expect(parseCorePattern("@@/run/systemd/coredump", false)).toMatchObject({
      kind: "socket",
      protocol: true,
      socket: "/run/systemd/coredump",
    });
  });
  it("cuts the pattern to 127 characters like the sysctl does", () => {
    const long = `/tmp/${"a".repeat(200)}%p`;
    const p = parseCorePattern(long, false);
    expect(CORE_PATTERN_MAX).toBe(127);
    expect(p.pattern).toHaveLength(127);
    // the %p fell off, so core_uses_pid would now append one
    expect(parseCorePattern(long, true)).toMatchObject({ pidAppended: true });
  });
});

describe("escapeComponent", () => {
  it("follows cn_esc_printf", () => {
    expect(escapeComponent("/usr/bin/x")).toBe("!usr!bin!x");
    expect(escapeComponent(".")).toBe("!");
    expect(escapeComponent("..")).toBe("!.");
    expect(escapeComponent("")).toBe("!");
    expect(escapeComponent("a.b")).toBe("a.b");
  });
});
