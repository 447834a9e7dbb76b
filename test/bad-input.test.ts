/**
 * Issue 24, point 6: bad input, one row each. Every row ends at once (no hang: each command has a
 * limit and a killed one fails the row) with one typed line (`... [E_...]`) or, for the listing
 * rows, a listing that says what the bundle is; and the store is exactly as it was before.
 */
import { execFileSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HOTDUMP, runCli } from "./helpers/cli.js";
import { buildGoFixture } from "./helpers/go.js";
import { runArgs, useScratch } from "./helpers/scratch.js";

const scratch = useScratch("hotdump-bad-");
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** Every path in a store with its size and mtime: "nothing changed" is this, equal before and after. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      // SQLite's shared-memory index and log, which any reader of a WAL database makes (also a
      // read-only one): not the store's content.
      if (n === "journal.db-shm" || n === "journal.db-wal") continue;
      const p = join(d, n);
      const st = statSync(p);
      out.push(`${p.slice(dir.length)} ${st.isDirectory() ? "dir" : st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

let bin: string;
let template: string;
let crashId: string;
beforeAll(async () => {
  bin = buildGoFixture("capcrash");
  // Not a scratch dir: those go after each test, this one serves them all.
  const cwd = mkdtempSync(join(tmpdir(), "hotdump-bad-template-"));
  template = join(cwd, ".hotdump");
  const r = await runCli(["exec", "--json", "--no-analyze", "--store", template, "--", bin, "crash"], {
    cwd,
  });
  crashId = JSON.parse(r.stdout).crash.id;
}, 120_000);
afterAll(() => rmSync(join(template, ".."), { recursive: true, force: true }));

/** A private copy of a store with one crash, for a row to damage. */
function storeCopy(): { cwd: string; store: string } {
  const { cwd, store } = scratch.project();
  cpSync(template, store, { recursive: true });
  return { cwd, store };
}

const fifo = (dir: string) => {
  const p = join(dir, "fifo");
  execFileSync("mkfifo", [p]);
  return p;
};

interface Row {
  name: string;
  /** Prepares the case; returns the argv (without --store) and the store to watch. */
  setup: () =>
    | Promise<{ args: string[]; store: string; cwd: string }>
    | { args: string[]; store: string; cwd: string };
  /** The E_ code of the one line on stderr, or a check of stdout for the listing rows. */
  code?: string;
  stdout?: RegExp;
  exit?: number;
}

const rows: Row[] = [
  {
    name: "a FIFO as --core",
    setup: () => {
      const { cwd, store } = storeCopy();
      return { cwd, store, args: ["analyze", "--binary", bin, "--core", fifo(cwd)] };
    },
    code: "E_NOT_A_FILE",
  },
  {
    name: "a FIFO as --binary",
    setup: () => {
      const { cwd, store } = storeCopy();
      return { cwd, store, args: ["analyze", "--binary", fifo(cwd), "--core", "/etc/hostname"] };
    },
    code: "E_NOT_A_FILE",
  },
  {
    name: "a shell script as --binary (exited 0 before)",
    setup: () => {
      const { cwd, store } = storeCopy();
      writeFileSync(join(cwd, "svc.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
      return { cwd, store, args: ["analyze", "--binary", join(cwd, "svc.sh"), "--core", "/etc/hostname"] };
    },
    code: "E_NOT_ELF",
  },
  {
    name: "a damaged journal.db (internal error, exit 70, before)",
    setup: () => {
      const { cwd, store } = storeCopy();
      for (const f of ["journal.db-wal", "journal.db-shm"]) execFileSync("rm", ["-f", join(store, f)]);
      writeFileSync(join(store, "journal.db"), "garbage ".repeat(600));
      return { cwd, store, args: ["crashes", "--all"] };
    },
    code: "E_JOURNAL_CORRUPT",
  },
  {
    name: "meta.json of {} (internal error, exit 70, before)",
    setup: () => {
      const { cwd, store } = storeCopy();
      writeFileSync(join(store, "crashes", crashId, "meta.json"), "{}\n");
      return { cwd, store, args: ["report", crashId] };
    },
    code: "E_BUNDLE_CORRUPT",
  },
  {
    name: "meta.json of {} in the listing",
    setup: () => {
      const { cwd, store } = storeCopy();
      writeFileSync(join(store, "crashes", crashId, "meta.json"), "{}\n");
      return { cwd, store, args: ["crashes", "--all"] };
    },
    stdout: /unreadable +\S+\/crashes\//,
    exit: 0,
  },
  {
    name: "an empty bundle folder left by a full disk (listed as unreadable before)",
    setup: () => {
      const { cwd, store } = storeCopy();
      mkdirSync(join(store, "crashes", "20261205-000000-abcd"));
      return { cwd, store, args: ["crashes", "--all"] };
    },
    stdout: /20261205-000000-abcd +- +empty +nothing was written/,
    exit: 0,
  },
  {
    name: "ESC and NUL in a stored panic message (printed raw by crashes before)",
    setup: () => {
      const { cwd, store } = storeCopy();
      const p = join(store, "crashes", crashId, "meta.json");
      const meta = JSON.parse(readFileSync(p, "utf8"));
      writeFileSync(p, JSON.stringify({ ...meta, message: "bad \x1b[2J\x1b]0;pwned\x07 NUL \x00 end" }));
      return { cwd, store, args: ["crashes", "--all"] };
    },
    stdout: /bad \\x1b\[2J\\x1b\]0;pwned\\x07 NUL \\x00 end/,
    exit: 0,
  },
  {
    name: 'stop_signal = "SIGSTOP" (accepted before)',
    setup: () => {
      const { cwd, store } = storeCopy();
      writeFileSync(join(cwd, "hotdump.toml"), '[run]\nstop_signal = "SIGSTOP"\n');
      return { cwd, store, args: ["run", "-c", join(cwd, "hotdump.toml"), "--", bin, "sleep"] };
    },
    code: "E_CONFIG_INVALID",
  },
];

describe("bad input: one typed line at once, the store untouched", () => {
  it.each(rows)(
    "$name",
    async (row) => {
      const { args, store, cwd } = await row.setup();
      const before = tree(store);
      const r = await runCli([...args, "--store", store], { cwd, timeoutMs: 20_000 });
      expect(r.signal, `${row.name}: killed, so it hung`).toBeNull();
      if (row.code) {
        const lines = r.stderr.trim().split("\n");
        expect([r.code, lines]).toEqual([
          expect.any(Number),
          [expect.stringMatching(new RegExp(`^hotdump: .*\\[${row.code}\\]$`))],
        ]);
        expect(r.code).not.toBe(0);
        expect(r.code).not.toBe(70);
      }
      if (row.stdout) {
        expect(r.code).toBe(row.exit ?? 0);
        expect(r.stdout).toMatch(row.stdout);
        expect(r.stdout).not.toMatch(/[\x00\x1b\x07]/);
      }
      expect(tree(store)).toEqual(before);
    },
    30_000,
  );

  it("a panic message's ESC/NUL is escaped in hotdump's own summary lines (the child's own output is its own)", async () => {
    const esc = buildGoFixture("secretcrash");
    const { cwd, store } = scratch.project();
    const r = await runCli(["exec", "--no-analyze", "--store", store, "--", esc, "esc"], {
      cwd,
      timeoutMs: 60_000,
    });
    const ours = r.stderr.split("\n").filter((l) => l.startsWith("[hotdump]"));
    expect(ours.join("\n")).toContain("bad input \\x1b[2J\\x1b]0;pwned\\x07 and a NUL \\x00 here");
    expect(ours.join("\n")).not.toMatch(/[\x00\x1b\x07]/);
  }, 90_000);

  it("a descriptor hotdump inherited without close-on-exec never reaches the service", async () => {
    const { cwd, store } = scratch.project();
    // bash's `exec 9<` opens without O_CLOEXEC, as a deploy script's lock file would be.
    const script = `exec 9</etc/hostname; exec "$0" "$1" exec --store "$2" -- sh -c 'ls /proc/$$/fd'`;
    const out = execFileSync("bash", ["-c", script, process.execPath, HOTDUMP, store], {
      cwd,
      encoding: "utf8",
      timeout: 30_000,
    });
    const fds = out.trim().split(/\s+/).map(Number);
    expect(fds).toContain(2);
    expect(fds.filter((fd) => fd > 2)).toEqual([]);
  }, 60_000);

  it("a second run refuses with E_ALREADY_RUNNING before binding its --listen port", async () => {
    const { cwd, store } = scratch.project();
    const first = scratch.start(runArgs(store, "127.0.0.1:0", ["--probe", "alive:200ms"], [bin, "sleep"]), {
      cwd,
    });
    await first.waitFor((e) => e.event === "ready", 60_000, "first run ready");
    // Someone else holds the port the second run asks for: binding first would fail with the
    // port's error, refusing first says the truth.
    const held = createServer();
    servers.push(held);
    await new Promise<void>((ok) => held.listen(0, "127.0.0.1", ok));
    const port = (held.address() as { port: number }).port;
    const r = await runCli(runArgs(store, `127.0.0.1:${port}`, [], [bin, "sleep"]), {
      cwd,
      timeoutMs: 20_000,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/\[E_ALREADY_RUNNING\]$/)]);
    await first.stop("SIGTERM");
  }, 90_000);
});
