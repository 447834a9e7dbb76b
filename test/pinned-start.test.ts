/**
 * Issue 24: the program that starts is the file that was checked. hotdump hashed a binary and then
 * started it by its path, so a file renamed over that path in between ran instead. These tests swap
 * the file right after the real check (a host whose pin() calls the real one, then swaps) and prove
 * from the program's own output that the checked bytes ran, under the program's own name.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { archiveBinary, ensureStore, runningFromStore, sha256File } from "../src/store/index.js";
import { type ProcessHost, systemHost } from "../src/supervise/host.js";
import { type PinnedProgram, pinProgram } from "../src/supervise/pinnedProgram.js";
import { parseProbeSpec, probeTimingDefaults } from "../src/supervise/probe.js";
import { runOnce } from "../src/supervise/runOnce.js";
import { createSupervisor, type Supervisor } from "../src/supervise/supervisor.js";
import { createLogger } from "../src/util/log.js";
import { buildGoFixture } from "./helpers/go.js";
import { useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-pin-");
const A = () => buildGoFixture("pinprobe", { flags: ["-ldflags=-X main.version=A"] });
const B = () => buildGoFixture("pinprobe", { flags: ["-ldflags=-X main.version=B"] });

function sink() {
  const chunks: Buffer[] = [];
  const w = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  return Object.assign(w, { text: () => Buffer.concat(chunks).toString() });
}

/**
 * `hotdump exec` of a copy of A named svc, in a directory another user (nobody) owns: they could
 * rename anything there. `swap` runs right after hotdump checked the file.
 */
async function execSwapped(swap: (path: string) => void, prepare: (path: string) => void = () => {}) {
  const dir = scratch.dir();
  chmodSync(dir, 0o755);
  const theirs = join(dir, "theirs");
  mkdirSync(theirs);
  chownSync(theirs, 65534, 65534);
  const prog = join(theirs, "svc");
  copyFileSync(A(), prog);
  chmodSync(prog, 0o755);
  prepare(prog);
  let pinned: PinnedProgram | null = null;
  const host: ProcessHost = {
    ...systemHost,
    async pin(path, o) {
      pinned = await systemHost.pin(path, o);
      swap(path);
      return pinned;
    },
  };
  const stdout = sink();
  const r = await runOnce({
    command: prog,
    args: [],
    cwd: dir,
    env: process.env,
    storeDir: join(dir, ".hotdump"),
    stdout,
    stderr: sink(),
    logger: createLogger({ level: "error" }),
    host,
    runAnalysis: false,
  });
  return { r, out: stdout.text(), pinned: pinned as PinnedProgram | null, dir, prog };
}

let sup: Supervisor | null = null;
afterEach(async () => {
  await sup?.stop();
  sup = null;
});

/** A run supervisor on the real host, whose pin() runs `swap` right after the real check. */
function runSupervisor(dir: string, swap: (path: string) => void) {
  const layout = ensureStore(join(dir, ".hotdump"));
  const lines: string[] = [];
  sup = createSupervisor({
    mode: "run",
    layout,
    logger: createLogger({ level: "error" }),
    emit: () => undefined,
    cwd: dir,
    args: ["serve"],
    env: process.env,
    probe: parseProbeSpec("log:^(version=|script|from)"),
    timing: probeTimingDefaults("run"),
    readyTimeoutMs: 30_000,
    host: {
      ...systemHost,
      async pin(path, o) {
        const p = await systemHost.pin(path, o);
        swap(path);
        return p;
      },
    },
    onOutput: (_g, _s, line) => lines.push(line),
  });
  return { sup, layout, lines };
}

describe("the program started is the file that was checked (issue 24)", () => {
  it("run: a stored binary replaced after its check does not run; the checked one serves under its name", async () => {
    const dir = scratch.dir();
    const b = B();
    const { sup, layout, lines } = runSupervisor(dir, (path) => {
      copyFileSync(b, `${path}.new`);
      renameSync(`${path}.new`, path);
    });
    const stored = await archiveBinary(layout, A(), "svc");
    const r = await sup.deploy({ generation: 1, binary: stored.path, sha256: stored.sha256, identity: null });
    expect(r).toMatchObject({ ok: true, generation: 1 });
    expect(await sha256File(stored.path)).toBe(await sha256File(b)); // swapped
    expect(lines).toEqual(["version=A comm=svc args0=svc"]);
    // Retention knows the stored binary is executing, though from its pinned name.
    expect(runningFromStore(layout)).toContain(stored.sha256);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "run as root: a launcher script in another user's directory swapped after its check does not run; the checked one does",
    async () => {
      const dir = scratch.dir();
      chmodSync(dir, 0o755);
      const theirs = join(dir, "theirs");
      mkdirSync(theirs);
      chownSync(theirs, 65534, 65534);
      const script = join(theirs, "start.sh");
      writeFileSync(script, "#!/bin/sh\necho script A\nexec sleep 3600\n", { mode: 0o755 });
      const { sup, lines } = runSupervisor(dir, (path) => {
        writeFileSync(`${path}.new`, "#!/bin/sh\necho script B\nexec sleep 3600\n", { mode: 0o755 });
        renameSync(`${path}.new`, path);
      });
      const sha256 = await sha256File(script);
      const r = await sup.deploy({
        generation: 1,
        binary: script,
        sha256,
        identity: null,
        launcher: "script",
      });
      expect(r).toMatchObject({ ok: true, generation: 1 });
      expect(readFileSync(script, "utf8")).toContain("script B"); // swapped
      expect(lines).toEqual(["script A"]);
    },
  );

  it("run: a launcher script only you or root can change runs from its own path (it may cd to its dirname)", async () => {
    const dir = scratch.dir();
    const script = join(dir, "start.sh");
    writeFileSync(script, '#!/bin/sh\necho "from $0"\nexec sleep 3600\n', { mode: 0o755 });
    const { sup, lines } = runSupervisor(dir, () => {});
    const r = await sup.deploy({
      generation: 1,
      binary: script,
      sha256: await sha256File(script),
      identity: null,
      launcher: "script",
    });
    expect(r).toMatchObject({ ok: true });
    expect(lines).toEqual([`from ${script}`]);
  });

  it("run: a stored binary that no longer hashes to its name is not started", async () => {
    const dir = scratch.dir();
    const { sup, layout, lines } = runSupervisor(dir, () => {});
    const stored = await archiveBinary(layout, A(), "svc");
    copyFileSync(B(), `${stored.path}.new`);
    renameSync(`${stored.path}.new`, stored.path);
    const r = await sup.deploy({ generation: 1, binary: stored.path, sha256: stored.sha256, identity: null });
    expect(r).toMatchObject({ ok: false });
    expect(r.ok ? "" : r.reason).toMatch(/no longer hashes to [0-9a-f]{12}…/);
    expect(lines).toEqual([]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "exec as root: a binary renamed over the path (in another user's directory) after the check does not run; the checked one does, named svc",
    async () => {
      const b = B();
      const { r, out, pinned, dir, prog } = await execSwapped((path) => {
        copyFileSync(b, `${path}.new`);
        chmodSync(`${path}.new`, 0o755);
        renameSync(`${path}.new`, path);
      });
      expect(r.ended.exitCode).toBe(0);
      // The swap happened (the path now holds B), and yet A ran, as svc in ps and in os.Args[0].
      expect(await sha256File(prog)).toBe(await sha256File(b));
      expect(out.trim()).toBe("version=A comm=svc args0=svc");
      expect(pinned?.how).toBe("link");
      expect(pinned?.sha256).toBe(await sha256File(A()));
      // The store keeps the bytes that ran, and only those.
      expect(readdirSync(join(dir, ".hotdump", "binaries"))).toEqual([await sha256File(A())]);
      // Its second name is gone with it.
      expect(existsSync(pinned!.path)).toBe(false);
    },
  );

  it.skipIf(process.getuid?.() !== 0)(
    "exec as root: another user's binary rewritten in place after the check does not run; the copy hashed does",
    async () => {
      const b = readFileSync(B());
      const { r, out, pinned } = await execSwapped(
        // Same inode, new bytes: a hard link would follow them, so such a file is copied.
        (path) => writeFileSync(path, b),
        (path) => chownSync(path, 65534, 65534),
      );
      expect(r.ended.exitCode).toBe(0);
      expect(out.trim()).toBe("version=A comm=svc args0=svc");
      expect(pinned?.how).toBe("copy");
    },
  );

  it("exec: a program only you or root can change or replace starts from its own path (go finds GOROOT from it)", async () => {
    const dir = scratch.dir();
    const prog = join(dir, "svc");
    copyFileSync(A(), prog);
    const p = await pinProgram(prog, { under: [dir], inPlaceIfTrusted: true });
    expect(p).toMatchObject({ how: "path", path: prog, sha256: await sha256File(A()) });
    // The same file writable by others is pinned.
    chmodSync(prog, 0o757);
    const q = await pinProgram(prog, { under: [dir], inPlaceIfTrusted: true });
    expect(q.how).toBe("copy");
    expect(q.path).not.toBe(prog);
    q.release();
  });

  it("a symlinked command is checked at its target and keeps the name it was called by", async () => {
    const dir = scratch.dir();
    const target = join(dir, "svc-1.2");
    copyFileSync(A(), target);
    const link = join(dir, "svc");
    const { symlinkSync } = await import("node:fs");
    symlinkSync(target, link);
    const p = await pinProgram(link, { under: [dir] });
    try {
      expect(p.path.endsWith("/svc")).toBe(true);
      expect(p.sha256).toBe(await sha256File(A()));
    } finally {
      p.release();
    }
    expect(existsSync(p.path)).toBe(false);
  });
});
