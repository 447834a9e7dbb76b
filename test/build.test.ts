import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGoBuilder } from "../src/build/index.js";
import { loadConfig } from "../src/config/index.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hotdump-build-"));
  writeFileSync(join(dir, "go.mod"), "module example.com/devhello\n\ngo 1.24\n");
  writeFileSync(
    join(dir, "main.go"),
    'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n',
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const builder = (overrides = {}) => {
  const config = loadConfig({ cwd: dir, overrides });
  return createGoBuilder({ cwd: config.root, config: config.build, storeDir: config.store.dir });
};

describe("createGoBuilder", () => {
  it("builds into the content-addressed store with debug flags and build IDs", async () => {
    const r = await builder().build(["main.go"]);
    if (!r.ok) throw new Error(r.output);
    const bytes = readFileSync(r.binaryPath);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(r.sha256);
    // Stored under its hash, by the program's name (what ps and /proc/PID/comm show).
    expect(r.binaryPath).toBe(join(dir, ".hotdump", "binaries", r.sha256, "devhello"));
    expect(statSync(r.binaryPath).mode & 0o777).toBe(0o500);
    expect(statSync(join(dir, ".hotdump", "binaries")).mode & 0o777).toBe(0o700);
    expect(r.changedFiles).toEqual(["main.go"]);
    expect(execFileSync(r.binaryPath, { encoding: "utf8" })).toBe("hello\n");
    // IDs agree with the Go toolchain and binutils, read independently.
    expect(r.goBuildId).toBe(
      execFileSync("go", ["tool", "buildid", r.binaryPath], { encoding: "utf8" }).trim(),
    );
    const notes = execFileSync("readelf", ["-n", r.binaryPath], { encoding: "utf8" });
    expect(notes).toContain(`Build ID: ${r.gnuBuildId}`);
    // Never stripped: the flags used, as recorded in the binary by go itself.
    expect(r.args.join(" ")).not.toMatch(/(^|\s|=)-[sw](\s|$)/);
    const info = execFileSync("go", ["version", "-m", r.binaryPath], { encoding: "utf8" });
    expect(info).toMatch(/-gcflags="?all=-N -l/);
    expect(info).not.toMatch(/-ldflags=.*-[sw]\b/);
    expect(execFileSync("readelf", ["-S", r.binaryPath], { encoding: "utf8" })).toContain(".debug_info");
  });

  it("stores an unchanged rebuild once, and a change under a new hash", async () => {
    const b = builder();
    const first = await b.build();
    const second = await b.build(["main.go"]);
    if (!first.ok || !second.ok) throw new Error("build failed");
    expect(second.binaryPath).toBe(first.binaryPath);
    expect(second.reused).toBe(true);
    writeFileSync(
      join(dir, "main.go"),
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("changed") }\n',
    );
    const third = await b.build(["main.go"]);
    if (!third.ok) throw new Error(third.output);
    expect(third.sha256).not.toBe(first.sha256);
    expect(third.reused).toBe(false);
  });

  it("returns compile errors as positioned diagnostics, not a throw", async () => {
    writeFileSync(join(dir, "main.go"), "package main\n\nfunc main() {\n\tx := 1\n\tfmt.Println(y)\n}\n");
    mkdirSync(join(dir, "sub"));
    const r = await builder().build(["main.go"]);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.kind).toBe("compile");
    expect(r.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}`)).toContain("main.go:5:2");
    expect(r.diagnostics[0]?.package).toBe("example.com/devhello");
    expect(r.summary).toMatch(/^main\.go:\d+:\d+: /);
    expect(r.args).toContain("-gcflags=all=-N -l");
  });

  it("reports errors in another package with its path and a syntax error's position", async () => {
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "sub.go"), 'package sub\n\nfunc F() int { return "s" }\n');
    writeFileSync(
      join(dir, "main.go"),
      'package main\n\nimport "example.com/devhello/sub"\n\nfunc main() { _ = sub.F() }\n',
    );
    const r = await builder().build();
    if (r.ok) throw new Error("expected failure");
    expect(r.diagnostics[0]).toMatchObject({
      file: "sub/sub.go",
      line: 3,
      col: 23,
      package: "example.com/devhello/sub",
    });
    writeFileSync(join(dir, "main.go"), "package main\n\nfunc main() {\n\tfor {\n}\n");
    const s = await builder().build();
    if (s.ok) throw new Error("expected failure");
    expect(s.diagnostics[0]?.file).toBe("main.go");
    expect(s.diagnostics[0]?.message).toMatch(/syntax error/);
  });

  it("a go-command error is a result of kind go; a missing go is a typed throw", async () => {
    const r = await builder({ build: { package: "./nope" } }).build();
    if (r.ok) throw new Error("expected failure");
    expect(r.kind).toBe("go");
    expect(r.summary).toMatch(/nope/);
    await expect(builder({ build: { go: "/nonexistent/go" } }).build()).rejects.toMatchObject({
      code: "E_GO_NOT_FOUND",
    });
  });

  it("a module whose root is not the main package says where the main packages are", async () => {
    rmSync(join(dir, "main.go"));
    mkdirSync(join(dir, "cmd", "api"), { recursive: true });
    writeFileSync(join(dir, "cmd", "api", "main.go"), "package main\n\nfunc main() {}\n");
    const none = await builder().build();
    if (none.ok) throw new Error("expected failure");
    expect(none.summary).toMatch(
      /^no Go files in .*: main packages here: \.\/cmd\/api \(hotdump dev --package \.\/cmd\/api/,
    );
    // A library package at the root: go build -o writes an archive, which is not a program.
    writeFileSync(join(dir, "lib.go"), "package lib\n");
    const lib = await builder().build();
    if (lib.ok) throw new Error("expected failure");
    expect(lib.summary).toMatch(
      /^\. is not a main package \(no func main\): main packages here: \.\/cmd\/api/,
    );
    const api = await builder({ build: { package: "./cmd/api" } }).build();
    expect(api.ok).toBe(true);
  });
});
