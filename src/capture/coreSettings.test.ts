import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { thrown } from "../../test/helpers/thrown.js";
import { isHotdumpError } from "../errors.js";
import { parseCoreLimit, raiseCoreLimitArgv } from "./coreLimit.js";
import { readCoreSettings } from "./coreSettings.js";

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("readCoreSettings", () => {
  it("reads the live kernel settings", () => {
    const s = readCoreSettings();
    expect(typeof s.pattern).toBe("string");
    expect(s.pattern.endsWith("\n")).toBe(false);
    expect(typeof s.usesPid).toBe("boolean");
  });
  it("keeps trailing spaces, drops the newline, and fails with a code when unreadable", () => {
    dir = mkdtempSync(join(tmpdir(), "hotdump-procsys-"));
    writeFileSync(join(dir, "core_pattern"), "|/bin/h %p \n");
    writeFileSync(join(dir, "core_uses_pid"), "1\n");
    expect(readCoreSettings(dir)).toEqual({ pattern: "|/bin/h %p ", usesPid: true });
    writeFileSync(join(dir, "core_pipe_limit"), "4\n");
    expect(readCoreSettings(dir).pipeLimit).toBe(4);
    const err = thrown(() => readCoreSettings(join(dir, "nope")));
    expect(isHotdumpError(err) && err.code).toBe("E_CORE_SETTINGS_UNREADABLE");
  });
});

describe("core limit", () => {
  it("parses /proc/PID/limits", () => {
    const text = `Limit                     Soft Limit           Hard Limit           Units
Max file size             unlimited            unlimited            bytes
Max core file size        0                    unlimited            bytes
`;
    expect(parseCoreLimit(text)).toEqual({ soft: 0n, hard: "unlimited" });
    expect(parseCoreLimit("Max core file size 1024 2048 bytes")).toEqual({ soft: 1024n, hard: 2048n });
  });
  it("wraps a command so the soft limit is raised and the pid kept", () => {
    expect(raiseCoreLimitArgv("/bin/app", ["a b", "$x"])).toEqual([
      "sh",
      "-c",
      'ulimit -S -c "$(ulimit -H -c)" && exec "$0" "$@"',
      "/bin/app",
      "a b",
      "$x",
    ]);
  });
});
