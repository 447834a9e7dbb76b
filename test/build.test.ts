import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildAhead } from "../src/build/buildAhead.js";
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
    const built = await builder().build(["main.go"]);
    if (!built.ok) throw new Error(built.output);
    // Complete as soon as it is linked: it runs from where go build wrote it, before it is stored.
    expect(execFileSync(built.program, { encoding: "utf8" })).toBe("hello\n");
    const r = { ...built, ...(await built.store()) };
    expect(existsSync(built.program)).toBe(false);
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
    const stored = async (r: Awaited<ReturnType<ReturnType<typeof builder>["build"]>>) => {
      if (!r.ok) throw new Error(r.output);
      return r.store();
    };
    const first = await stored(await b.build());
    const second = await stored(await b.build(["main.go"]));
    expect(second.binaryPath).toBe(first.binaryPath);
    expect(second.reused).toBe(true);
    writeFileSync(
      join(dir, "main.go"),
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("changed") }\n',
    );
    const third = await stored(await b.build(["main.go"]));
    expect(third.sha256).not.toBe(first.sha256);
    expect(third.reused).toBe(false);
  });

  it("a program started once linked keeps running while it is stored, and then runs from the store", async () => {
    writeFileSync(
      join(dir, "main.go"),
      'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nfunc main() {\n\tfmt.Println("up")\n\tos.Stdin.Read(make([]byte, 1))\n\tfmt.Println("bye")\n}\n',
    );
    const built = await builder().build(["main.go"]);
    if (!built.ok) throw new Error(built.output);
    const child = spawn(built.program, [], { stdio: ["pipe", "pipe", "ignore"] });
    try {
      let out = "";
      child.stdout.on("data", (c) => (out += c));
      const stored = await built.store(Promise.resolve());
      // The same inode moved: the kernel names the running program by its stored path.
      expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(stored.binaryPath);
      expect(createHash("sha256").update(readFileSync(stored.binaryPath)).digest("hex")).toBe(stored.sha256);
      const exited = new Promise<number | null>((r) => child.on("exit", r));
      child.stdin.end("x");
      expect(await exited).toBe(0);
      expect(out).toBe("up\nbye\n");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("an unchanged build seeded with the last stored binary is that binary (no link), a changed one leaves it intact", async () => {
    const b = builder();
    const first = await b.build();
    if (!first.ok) throw new Error(first.output);
    const stored = await first.store();
    const before = statSync(stored.binaryPath);
    const again = await b.build([], { seed: stored.binaryPath });
    if (!again.ok) throw new Error(again.output);
    // go build found it up to date: the program is the stored file itself, not a new link.
    expect(again.program).toBe(stored.binaryPath);
    expect(statSync(again.program).ino).toBe(before.ino);
    expect(await again.store()).toMatchObject({
      binaryPath: stored.binaryPath,
      sha256: stored.sha256,
      reused: true,
    });
    expect(readdirSync(join(dir, ".hotdump", "tmp"))).toEqual([]);
    writeFileSync(
      join(dir, "main.go"),
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("seeded") }\n',
    );
    const changed = await b.build(["main.go"], { seed: stored.binaryPath });
    if (!changed.ok) throw new Error(changed.output);
    expect(changed.program).not.toBe(stored.binaryPath);
    const next = await changed.store();
    expect(next.sha256).not.toBe(stored.sha256);
    // The seed, a hard link go build replaced, still holds the first build.
    expect(createHash("sha256").update(readFileSync(stored.binaryPath)).digest("hex")).toBe(stored.sha256);
    expect(execFileSync(next.binaryPath, { encoding: "utf8" })).toBe("seeded\n");
  });

  it("a build started ahead runs before anyone asks for it, and the first build() adopts it (onLinked once)", async () => {
    const b = buildAhead(builder());
    const tmp = join(dir, ".hotdump", "tmp");
    // go build links the program while nobody has called build() yet (bounded by the test's limit).
    const linkedAhead = () =>
      existsSync(tmp) && readdirSync(tmp).some((d) => existsSync(join(tmp, d, "devhello")));
    for (const end = Date.now() + 60_000; !linkedAhead() && Date.now() < end; )
      await new Promise((r) => setTimeout(r, 20));
    expect(linkedAhead()).toBe(true);
    const linked: string[] = [];
    const first = await b.build([], { onLinked: (p) => linked.push(p) });
    if (!first.ok) throw new Error(first.output);
    expect(linked).toEqual([first.program]);
    expect(execFileSync(first.program, { encoding: "utf8" })).toBe("hello\n");
    await first.store();
    // Every later build is a build of its own.
    writeFileSync(
      join(dir, "main.go"),
      'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("again") }\n',
    );
    const next = await b.build(["main.go"]);
    if (!next.ok) throw new Error(next.output);
    expect(next.program).not.toBe(first.program);
    expect(execFileSync(next.program, { encoding: "utf8" })).toBe("again\n");
    // A go that cannot run: the adopting build() throws the typed error, nothing before it.
    const broken = buildAhead(builder({ build: { go: "/nonexistent/go" } }));
    await expect(broken.build()).rejects.toMatchObject({ code: "E_GO_NOT_FOUND" });
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
