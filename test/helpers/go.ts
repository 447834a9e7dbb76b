/**
 * Builds the tiny Go programs under test/fixtures/go/<name>/ for integration tests.
 * Binaries are cached per (name, flags, source) in the OS temp dir, so every test file can ask for
 * the same program cheaply; a build is written to a temp name and renamed, so parallel workers
 * never see half a binary.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const FIXTURES = resolve(import.meta.dirname, "../fixtures");
export const GO_FIXTURES = join(FIXTURES, "go");

export interface GoBuildOptions {
  /** Debug build: -gcflags=all=-N -l (default true; Delve reads locals reliably only then). */
  debug?: boolean;
  /** Extra go build flags, e.g. ["-ldflags=-s -w"]. */
  flags?: string[];
  /** Build with cgo (CGO_ENABLED=1; needs a C compiler). Default false: static, no C toolchain. */
  cgo?: boolean;
}

export function buildGoFixture(name: string, opts: GoBuildOptions = {}): string {
  const dir = join(GO_FIXTURES, name);
  if (!existsSync(dir)) throw new Error(`no Go fixture ${dir}`);
  const flags = [...(opts.debug === false ? [] : ["-gcflags=all=-N -l"]), ...(opts.flags ?? [])];
  const h = createHash("sha256");
  h.update(JSON.stringify(flags)).update(opts.cgo ? "cgo" : "nocgo");
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort())
    h.update(f).update(readFileSync(f));
  h.update(readFileSync(join(GO_FIXTURES, "go.mod")));
  const outDir = join(tmpdir(), "hotdump-test-go");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${name}-${h.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync("go", ["build", ...flags, "-o", tmp, `./${name}`], {
    cwd: GO_FIXTURES,
    stdio: ["ignore", "ignore", "pipe"],
    // -race links ThreadSanitizer's C runtime: it needs cgo.
    env: {
      ...process.env,
      CGO_ENABLED: opts.cgo || flags.includes("-race") ? "1" : "0",
      GOFLAGS: "-buildvcs=false",
    },
  });
  renameSync(tmp, out);
  return out;
}

/**
 * test/fixtures/depcrash is its own module with a local third-party dependency
 * (example.com/widget, a replace directive), so it is built in place rather than from go/.
 */
export function buildDepcrash(): string {
  const dir = resolve(FIXTURES, "depcrash");
  const outDir = join(tmpdir(), "hotdump-test-go");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `depcrash-${process.pid}`);
  execFileSync("go", ["build", "-gcflags=all=-N -l", "-o", out, "."], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false -mod=mod", GOPROXY: "off" },
  });
  return out;
}

/**
 * test/fixtures/recovered is its own module whose services use chi, gin, echo and grpc-go with
 * go-grpc-middleware (from the module proxy, pinned by its go.sum): one service per directory,
 * each recovering a handler's panic in its framework's own way. Cached like buildGoFixture.
 */
export function buildRecoveredFixture(name: string): string {
  const dir = resolve(FIXTURES, "recovered");
  const h = createHash("sha256");
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort())
    h.update(f).update(readFileSync(f));
  const outDir = join(tmpdir(), "hotdump-test-go");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `recovered-${name}-${h.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync("go", ["build", "-gcflags=all=-N -l", "-o", tmp, `./${name}`], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false" },
  });
  renameSync(tmp, out);
  return out;
}

/**
 * test/fixtures/hangsvc is its own module importing github.com/coreos/go-systemd/v22 from the
 * module proxy (`make test` downloads it: .tools/gomod.ok); its go.sum pins it. `version` is
 * what it answers ("v<version> pid N").
 */
export function buildHangsvc(version: string): string {
  const dir = resolve(FIXTURES, "hangsvc");
  const h = createHash("sha256").update(version);
  for (const f of ["main.go", "go.mod", "go.sum"]) h.update(readFileSync(join(dir, f)));
  const outDir = join(tmpdir(), "hotdump-test-go");
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `hangsvc-${h.digest("hex").slice(0, 16)}`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync("go", ["build", "-gcflags=all=-N -l", `-ldflags=-X main.version=${version}`, "-o", tmp, "."], {
    cwd: dir,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false -mod=readonly" },
  });
  renameSync(tmp, out);
  return out;
}
