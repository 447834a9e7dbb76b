/**
 * coredumpctl cannot run on these machines (PID 1 is not systemd, no journald), so its output is
 * a documented sample: the columns and JSON types of `coredumpctl --json=short list` in systemd
 * v252 src/coredump/coredumpctl.c (dump_list/print_list: time in µs, pid/uid/gid/sig numbers,
 * corefile state string, size bytes or null). The polling flow runs against a fake coredumpctl.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseCoredumpctlList, retrieveFromCoredumpctl } from "./coredumpctl.js";

/** The first entry but its time, which coredumpctl gives in µs and the parser turns into ms. */
const FIRST = {
  pid: 588797,
  uid: 1000,
  gid: 1000,
  sig: 7,
  corefile: "present",
  exe: "/usr/bin/fs-cli",
  size: 61952,
};
const SAMPLE = JSON.stringify([
  { time: 1717652311000000, ...FIRST },
  {
    time: 1717652400123456,
    pid: 588900,
    uid: 1000,
    gid: 1000,
    sig: 6,
    corefile: "none",
    exe: "/srv/big",
    size: null,
  },
]);

describe("parseCoredumpctlList", () => {
  it("reads the documented JSON shape", () => {
    const [a, b] = parseCoredumpctlList(SAMPLE);
    expect(a).toEqual({ time: 1717652311000, ...FIRST });
    expect(b).toMatchObject({ corefile: "none", size: null });
    expect(parseCoredumpctlList("")).toEqual([]);
  });
});

describe("retrieveFromCoredumpctl", () => {
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const fake = (listAfter: number, corefile: string) => {
    dir = mkdtempSync(join(tmpdir(), "hotdump-fakectl-"));
    const bin = join(dir, "coredumpctl");
    writeFileSync(
      bin,
      `#!/bin/sh
n=$(cat "${dir}/n" 2>/dev/null || echo 0); echo $((n+1)) > "${dir}/n"
echo "$@" >> "${dir}/args"
case "$*" in
  *--json=short*list*)
    if [ "$n" -lt ${listAfter} ]; then echo "No coredumps found." >&2; exit 1; fi
    echo '[{"time":1717652311000000,"pid":77,"uid":0,"gid":0,"sig":6,"corefile":"${corefile}","exe":"/x","size":5}]';;
  *dump*) out=""; prev=""; for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done; printf 'CORE!' > "$out";;
esac
`,
    );
    chmodSync(bin, 0o755);
    return bin;
  };
  it("polls until the entry appears, then dumps it", async () => {
    const bin = fake(2, "present");
    const dest = join(dir, "core");
    const r = await retrieveFromCoredumpctl({
      pid: 77,
      since: Date.now(),
      dest,
      bin,
      pollMs: 20,
      timeoutMs: 5000,
    });
    expect(r).toMatchObject({ ok: true, path: dest, truncated: false });
    expect(readFileSync(dest, "utf8")).toBe("CORE!");
    expect(readFileSync(join(dir, "args"), "utf8")).toMatch(/--since=@\d+ --json=short list 77/);
  });
  it("says when the core was not stored", async () => {
    const bin = fake(0, "none");
    const r = await retrieveFromCoredumpctl({ pid: 77, since: Date.now(), dest: join(dir, "c"), bin });
    expect(r).toMatchObject({ ok: false, code: "coredumpctl-none" });
  });
  it("gives up after the bound", async () => {
    const bin = fake(1000, "present");
    const r = await retrieveFromCoredumpctl({
      pid: 77,
      since: Date.now(),
      dest: join(dir, "c"),
      bin,
      timeoutMs: 200,
      pollMs: 50,
    });
    expect(r).toMatchObject({ ok: false, code: "coredumpctl-timeout" });
  });
  it("says when coredumpctl is not installed", async () => {
    const r = await retrieveFromCoredumpctl({
      pid: 1,
      since: 0,
      dest: "/nonexistent",
      bin: "/nonexistent/coredumpctl",
    });
    expect(r).toMatchObject({ ok: false, code: "coredumpctl-missing" });
  });
});
