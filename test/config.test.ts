import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseDuration, renderInitConfig } from "../src/config/index.js";
import { FIXTURES } from "./helpers/go.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hotdump-config-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, text: string) => writeFileSync(join(dir, name), text);

function loadError(): ConfigError {
  try {
    loadConfig({ cwd: dir });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("loadConfig did not fail");
}

describe("loadConfig", () => {
  it("runs on defaults without any file", () => {
    const c = loadConfig({ cwd: dir });
    expect(c.source).toBe("defaults");
    expect(c.root).toBe(dir);
    expect(c.build.package).toBe(".");
    expect(c.build.gcflags).toBe("all=-N -l");
    expect(c.watch.includeExt).toContain("go");
    expect(c.watch.debounceMs).toBe(10);
    expect(c.run.stopSignal).toBe("SIGTERM");
    expect(c.run.stopTimeoutMs).toBe(5000);
    expect(c.supervise.readyTimeoutMs).toBe(60_000);
    expect(c.store.dir).toBe(join(dir, ".hotdump"));
  });

  it("reads values, durations and sizes", () => {
    mkdirSync(join(dir, "cmd", "api"), { recursive: true });
    write(
      "hotdump.toml",
      `[build]\npackage = "./cmd/api"\nflags = ["-race"]\n[build.env]\nCGO_ENABLED = "0"\n` +
        `[watch]\ndebounce = "1.5s"\npoll = true\npoll_interval = "1m"\n` +
        `[run]\nargs = ["--name", "$(rm -rf /)", "a;b"]\nstop_signal = "int"\nstop_timeout = "250ms"\n` +
        `[supervise]\nlisten = [":8080", "[::1]:9090"]\nprobe = "http://127.0.0.1:{port}/healthz"\n` +
        `[store]\nmax_use = "2GiB"\n`,
    );
    const c = loadConfig({ cwd: dir });
    expect(c.source).toBe("hotdump.toml");
    expect(c.build.package).toBe("./cmd/api");
    expect(c.build.env).toEqual({ CGO_ENABLED: "0" });
    expect(c.watch.debounceMs).toBe(1500);
    expect(c.watch.pollIntervalMs).toBe(60_000);
    // Shell metacharacters stay plain argv words.
    expect(c.run.args).toEqual(["--name", "$(rm -rf /)", "a;b"]);
    expect(c.run.stopSignal).toBe("SIGINT");
    expect(c.run.stopTimeoutMs).toBe(250);
    expect(c.supervise.listen).toEqual([":8080", "[::1]:9090"]);
    expect(c.store.maxUseBytes).toBe(2 * 1024 ** 3);
  });

  it("reports TOML syntax errors with file:line:col", () => {
    write("hotdump.toml", `[build]\npackage = "."\n\n[watch]\ndebounce = = "30ms"\n`);
    const e = loadError();
    expect(e.code).toBe("E_CONFIG_SYNTAX");
    expect(e.shortMessage).toMatch(/^hotdump\.toml:5:\d+: TOML syntax: /);
    expect(e.exitCode).toBe(2);
  });

  it("reports schema mistakes at the key's line", () => {
    write(
      "hotdump.toml",
      `# comment\n[build]\npackage = "."\ntags = "dev"\n\n[run]\n  stop_timeout = "-5s"\n`,
    );
    const e = loadError();
    expect(e.code).toBe("E_CONFIG_INVALID");
    const where = e.issues.map((i) => `${i.where} ${i.key}`);
    expect(where).toContain("hotdump.toml:4:1 build.tags");
    expect(where).toContain("hotdump.toml:7:3 run.stop_timeout");
    expect(e.issues.find((i) => i.key === "run.stop_timeout")?.message).toMatch(/negative/);
  });

  it("suggests the key a typo meant", () => {
    write("hotdump.toml", `[watch]\ninclude_ext = ["go"]\ndebunce = "30ms"\n`);
    const e = loadError();
    expect(e.shortMessage).toBe(
      'hotdump.toml:3:1: unknown key "debunce" in [watch] (did you mean "debounce"?)',
    );
  });

  it("suggests a misspelled table and locates dotted keys", () => {
    write("hotdump.toml", `[biuld]\npackage = "."\n`);
    expect(loadError().shortMessage).toMatch(
      /^hotdump\.toml:1:1: unknown key "biuld" at the top level \(did you mean "build"\?\)/,
    );
    write("hotdump.toml", `run.stop_signal = "SIGNOPE"\n`);
    expect(loadError().shortMessage).toMatch(
      /^hotdump\.toml:1:1: run\.stop_signal: unknown signal "SIGNOPE"/,
    );
  });

  it("locates a bad member of an inline table", () => {
    write("hotdump.toml", `[run]\nargs = []\nenv = { MODE = "dev", PORT = 8080 }\n`);
    const e = loadError();
    expect(e.issues[0]?.where).toBe("hotdump.toml:3:23");
    expect(e.issues[0]?.message).toMatch(/quote them/);
  });

  it("rejects hostile and absurd values", () => {
    write(
      "hotdump.toml",
      `[build]\nldflags = "-s -w -X main.v=1"\nflags = ["-o", "/tmp/x"]\npackage = "-toolexec=evil"\n` +
        `[supervise]\nready_timeout = "25h"\nprobe = "log:([unclosed"\nlisten = ["8080"]\n` +
        `[store]\ndir = "../elsewhere"\n[watch]\ndebounce = 30\n`,
    );
    const e = loadError();
    const byKey = Object.fromEntries(e.issues.map((i) => [i.key, i]));
    expect(byKey["supervise.ready_timeout"]?.message).toMatch(/over 24h/);
    expect(byKey["supervise.ready_timeout"]?.where).toBe("hotdump.toml:6:1");
    expect(byKey["supervise.probe"]?.message).toMatch(/regex/);
    expect(byKey["supervise.listen.0"]?.message).toMatch(/HOST:PORT/);
    expect(byKey["watch.debounce"]?.message).toMatch(/"30ms"/);
    // Semantic checks run once the schema passes: fix the schema mistakes and look again.
    write(
      "hotdump.toml",
      `[build]\nldflags = "-s -w -X main.v=1"\nflags = ["-o", "/tmp/x"]\npackage = "-toolexec=evil"\n[store]\ndir = "../elsewhere"\n`,
    );
    const e2 = loadError();
    const keys = Object.fromEntries(e2.issues.map((i) => [i.key, i]));
    expect(keys["build.ldflags"]?.message).toMatch(/strip/);
    expect(keys["build.ldflags"]?.where).toBe("hotdump.toml:2:1");
    expect(keys["build.flags.0"]?.message).toMatch(/output path/);
    expect(keys["build.package"]?.message).toMatch(/looks like a flag/);
    expect(keys["store.dir"]?.message).toMatch(/leaves the project/);
    expect(keys["store.dir"]?.where).toBe("hotdump.toml:6:1");
  });

  it("allows an explicit absolute store outside the project, but not one containing it", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "hotdump-store-"));
    try {
      write("hotdump.toml", `[store]\ndir = ${JSON.stringify(elsewhere)}\n`);
      expect(loadConfig({ cwd: dir }).store.dir).toBe(elsewhere);
      write("hotdump.toml", `[store]\ndir = "/"\n`);
      expect(loadError().shortMessage).toMatch(/contain the project/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("applies command-line overrides over the file", () => {
    write("hotdump.toml", `[supervise]\nlisten = [":8080"]\n`);
    const c = loadConfig({
      cwd: dir,
      overrides: { supervise: { listen: [":9000"], probe: "tcp:127.0.0.1:9000" } },
    });
    expect(c.supervise.listen).toEqual([":9000"]);
    expect(c.supervise.probe).toBe("tcp:127.0.0.1:9000");
  });

  it("the init template loads cleanly and equals the defaults", () => {
    write("hotdump.toml", renderInitConfig());
    const fromTemplate = loadConfig({ cwd: dir });
    rmSync(join(dir, "hotdump.toml"));
    const defaults = loadConfig({ cwd: dir });
    expect(fromTemplate.warnings).toEqual([]);
    expect({ ...fromTemplate, configFile: null, source: "defaults" }).toEqual(defaults);
  });
});

describe("[run] command", () => {
  it("takes a wrapper argv with {bin}, and refuses one that never names the binary, with its line", () => {
    write("hotdump.toml", `[run]\ncommand = ["./scripts/dev.sh", "{bin}"]\n`);
    expect(loadConfig({ cwd: dir }).run.command).toEqual(["./scripts/dev.sh", "{bin}"]);
    write("hotdump.toml", `[run]\ncommand = ["./scripts/dev.sh"]\n`);
    const e = loadError();
    expect(e.message).toMatch(/hotdump\.toml:2:\d+.*put "\{bin\}" where it goes/s);
    write("hotdump.toml", "");
    expect(loadConfig({ cwd: dir }).run.command).toBeNull();
  });
});

describe(".air.toml import", () => {
  it("maps a realistic file and warns about what does not map, with lines", () => {
    copyFileSync(join(FIXTURES, "config", "air-realistic.toml"), join(dir, ".air.toml"));
    mkdirSync(join(dir, "cmd", "api"), { recursive: true });
    const c = loadConfig({ cwd: dir });
    expect(c.source).toBe(".air.toml");
    expect(c.build.package).toBe("./cmd/api");
    expect(c.build.tags).toEqual(["dev", "sqlite"]);
    expect(c.build.ldflags).toBe("-X main.version=dev");
    expect(c.build.env).toEqual({ CGO_ENABLED: "0" });
    expect(c.build.gcflags).toBe("all=-N -l");
    expect(c.run.env).toEqual({ APP_ENV: "dev" });
    expect(c.run.args).toEqual(["serve", "--port", "8080"]);
    expect(c.run.stopSignal).toBe("SIGINT");
    expect(c.run.stopTimeoutMs).toBe(2000);
    expect(c.watch.debounceMs).toBe(1000);
    expect(c.watch.includeExt).toEqual(["go", "tpl", "tmpl", "html"]);
    expect(c.watch.excludeDir).toEqual(
      expect.arrayContaining([".git", ".hotdump", "tmp", "assets", "web/node_modules"]),
    );
    expect(c.watch.excludeRegex).toEqual(["_test.go"]);
    const w = Object.fromEntries(c.warnings.map((x) => [x.key, x]));
    expect(w["build.pre_cmd"]?.where).toBe(".air.toml:26:3");
    expect(w["build.cmd"]?.message).toMatch(/-s\/-w/);
    expect(w["build.stop_on_error"]).toBeDefined();
    expect(w.color?.where).toBe(".air.toml:32:1");
    // Inert values (rerun = false, empty lists, a disabled proxy) raise no warning.
    expect(w["build.rerun"]).toBeUndefined();
    expect(w["build.post_cmd"]).toBeUndefined();
    expect(w.proxy).toBeUndefined();
  });

  it("maps a full_bin that wraps the built binary onto [run] command, and keeps env + bin as before", () => {
    write(
      ".air.toml",
      `[build]\ncmd = "go build -o ./tmp/main ."\nfull_bin = "APP_ENV=dev ./scripts/dev.sh --verbose ./tmp/main"\nargs_bin = ["serve"]\n`,
    );
    const c = loadConfig({ cwd: dir });
    expect(c.run.command).toEqual(["./scripts/dev.sh", "--verbose", "{bin}"]);
    expect(c.run.env).toEqual({ APP_ENV: "dev" });
    expect(c.run.args).toEqual(["serve"]);
    expect(c.warnings).toEqual([]);
    write(
      ".air.toml",
      `[build]\ncmd = "go build -o ./tmp/main ."\nfull_bin = "APP_ENV=dev ./tmp/main serve"\n`,
    );
    const plain = loadConfig({ cwd: dir });
    expect(plain.run.command).toBeNull();
    expect(plain.run.env).toEqual({ APP_ENV: "dev" });
    expect(plain.run.args).toEqual(["serve"]);
  });

  it('a stock `air init` file loads: kill_delay = "0s" keeps hotdump\'s grace period, full_bin = "" is no command', () => {
    // What `air init` writes (air-verse/air's default config), keys in its order.
    copyFileSync(join(FIXTURES, "config", "air-init.toml"), join(dir, ".air.toml"));
    const c = loadConfig({ cwd: dir });
    expect(c.source).toBe(".air.toml");
    expect(c.run.stopTimeoutMs).toBe(5000);
    expect(c.run.command).toBeNull();
    expect(c.run.args).toEqual([]);
    expect(c.warnings.map((w) => w.key)).not.toContain("build.full_bin");
    expect(c.warnings.map((w) => w.key)).not.toContain("build.bin");
  });

  it("every .air.toml mistake names air's own key and its line, never hotdump's", () => {
    write(
      ".air.toml",
      `root = "."\n\n[build]\n  cmd = "go build -o ./tmp/main ."\n  kill_delay = "5 seconds"\n`,
    );
    const e = loadError();
    expect(e.code).toBe("E_CONFIG_INVALID");
    expect(e.shortMessage).toMatch(/^\.air\.toml:5:3: build\.kill_delay: /);
    expect(e.shortMessage).not.toMatch(/stop_timeout/);
    // A check made after the schema (the root must exist) points at air's line too.
    write(".air.toml", `tmp_dir = "tmp"\nroot = "no-such-dir"\n`);
    const e2 = loadError();
    expect(e2.shortMessage).toMatch(/^\.air\.toml:2:1: /);
  });

  it("warns when cmd needs a shell, and prefers hotdump.toml when both exist", () => {
    write(".air.toml", `[build]\ncmd = "make build && cp x y"\nkill_delay = 500\n`);
    const c = loadConfig({ cwd: dir });
    expect(c.warnings.map((x) => `${x.where} ${x.key}`)).toEqual([".air.toml:2:1 build.cmd"]);
    expect(c.run.stopTimeoutMs).toBe(500);
    write("hotdump.toml", "");
    expect(loadConfig({ cwd: dir }).source).toBe("hotdump.toml");
  });
});

describe("parseDuration", () => {
  it("parses Go-style durations", () => {
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("200ms")).toBe(200);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("30")).toBeInstanceOf(Error);
    expect(parseDuration("5 s")).toBeInstanceOf(Error);
  });
});
