import { existsSync } from "node:fs";
import type { Command } from "commander";
import { DELVE_VERSION, DLV_INSTALL_REMEDY, installDelve, resolveDlvPath } from "../analyze/delve/index.js";
import { applyCoreFix, type DoctorCheck, doctorCoreChecks } from "../capture/index.js";
import { readBinaryIdentity } from "../elf/index.js";
import { isHotdumpError } from "../errors.js";
import { defaultBudget, freeBytes, journalEngineProblem } from "../store/index.js";
import { runCapture } from "../util/child.js";
import { useColour } from "../util/log.js";
import { nativeProblem } from "../util/native.js";
import { type CommonOptions, formatBytes, printJson, storeDirFrom, storeOption } from "./common.js";

interface DoctorOptions extends CommonOptions {
  fix?: boolean;
  binary?: string;
}

async function versionCheck(
  id: string,
  cmd: string,
  args: string[],
  remedy: string,
  pick: RegExp,
): Promise<DoctorCheck> {
  try {
    const r = await runCapture(cmd, args, { timeoutMs: 10_000 });
    if (r.end.error || r.end.exitCode !== 0) throw r.end.error ?? new Error(r.stderr.trim());
    const v = (r.stdout + r.stderr).match(pick)?.[1] ?? "unknown version";
    return { id, status: "ok", message: `${cmd} ${v}` };
  } catch {
    return { id, status: id === "gdb" ? "warn" : "fail", message: `${cmd} not found or not working`, remedy };
  }
}

const delveCheck = () =>
  versionCheck("delve", resolveDlvPath(), ["version"], DLV_INSTALL_REMEDY, /Version: (\S+)/);

/** doctor --fix: Delve is installed only when asked, with the Go toolchain the user already has. */
async function fixDelve(): Promise<string> {
  if ((await delveCheck()).status === "ok") return "nothing to fix: Delve is installed";
  const path = await installDelve();
  return `fixed: installed Delve ${DELVE_VERSION} at ${path}`;
}

async function toolChecks(): Promise<DoctorCheck[]> {
  return Promise.all([
    versionCheck("go", "go", ["version"], "install Go: https://go.dev/doc/install", /go version (go\S+)/),
    delveCheck(),
    versionCheck(
      "gdb",
      "gdb",
      ["--version"],
      "apt-get install gdb (the fallback when Delve fails)",
      /GNU gdb \(.*?\) (\S+)/,
    ),
    versionCheck(
      "zstd",
      "zstd",
      ["--version"],
      "apt-get install zstd (cores are then stored 3x smaller, 7x faster than gzip)",
      /v(\d+\.\d+\.\d+)/,
    ),
  ]);
}

function journalCheck(): DoctorCheck {
  const problem = journalEngineProblem();
  if (!problem) return { id: "journal", status: "ok", message: "journal: better-sqlite3 loads" };
  return { id: "journal", status: "warn", message: problem.shortMessage };
}

/** koffi ships prebuilt binaries (an optional dependency per platform): without one, say what is lost. */
function nativeCheck(): DoctorCheck {
  const problem = nativeProblem();
  if (!problem)
    return {
      id: "native",
      status: "ok",
      message: "koffi loads: descendant tracking and socket steering available",
    };
  return {
    id: "native",
    status: "warn",
    message: `koffi could not load (${problem}): orphaned descendants' exit statuses are lost and --listen falls back to a shared socket`,
    remedy: "reinstall without --omit=optional (koffi's prebuilt binary is an optional dependency)",
  };
}

function storeCheck(dir: string): DoctorCheck {
  const probe = existsSync(dir) ? dir : process.cwd();
  try {
    const b = defaultBudget(probe);
    const free = freeBytes(probe);
    const status = free < b.keepFree ? "warn" : "ok";
    return {
      id: "store",
      status,
      message: `store ${dir}: ${formatBytes(free)} free; budget uses at most ${formatBytes(b.maxUse)} and keeps ${formatBytes(b.keepFree)} free`,
      ...(status === "warn"
        ? { remedy: "free disk space or use --store on a larger disk: old crashes will be evicted" }
        : {}),
    };
  } catch (e) {
    return {
      id: "store",
      status: "fail",
      message: `cannot check ${dir}: ${(e as Error).message}`,
      remedy: "use --store DIR",
    };
  }
}

async function binaryCheck(path: string): Promise<DoctorCheck> {
  let id: Awaited<ReturnType<typeof readBinaryIdentity>>;
  try {
    id = await readBinaryIdentity(path);
  } catch (e) {
    // A missing, unreadable or damaged file is a failed check (and a non-zero exit), not a crash of
    // doctor itself: the other checks are still printed.
    if (!isHotdumpError(e)) throw e;
    return { id: "binary", status: "fail", message: `${e.shortMessage} [${e.code}]` };
  }
  if (!id.isElf) return { id: "binary", status: "fail", message: `${path} is not an ELF program` };
  // --binary asks whether this program's crashes can be debugged: a non-Go program's cannot.
  if (!id.goVersion)
    return {
      id: "binary",
      status: "fail",
      message: `${path} is not a Go program (no Go build info)`,
      remedy: "pass the Go service's binary (hotdump analyses Go programs)",
    };
  if (!id.hasDwarf)
    return {
      id: "binary",
      status: "fail",
      message: `${path} (${id.goVersion}) has no DWARF: built with -ldflags='-s -w', its cores cannot be debugged`,
      remedy: "build without -s -w (hotdump dev never strips)",
    };
  return {
    id: "binary",
    status: "ok",
    message: `${path}: ${id.goVersion}, DWARF present, build ID ${id.goBuildId ?? "?"}`,
  };
}

export function registerDoctor(program: Command): void {
  storeOption(
    program
      .command("doctor")
      .description(
        "check everything crash capture depends on: core_pattern, core limits, Delve, gdb, Go, disk",
      )
      .option("--json", "print the checks as JSON")
      .option("--fix", "apply what hotdump can fix: core_pattern (root), install Delve (go install)")
      .option("--binary <path>", "also check that this binary can be debugged (DWARF, Go build info)"),
  ).action(async (opts: DoctorOptions) => {
    const out: string[] = [];
    if (opts.fix) {
      try {
        const r = applyCoreFix();
        out.push(
          r.changed
            ? `fixed: core_pattern ${r.previous} → ${r.current} (${r.why}); undo: ${r.undo}`
            : `nothing to fix: ${r.why}`,
        );
      } catch (e) {
        if (!isHotdumpError(e)) throw e;
        out.push(`could not fix: ${e.shortMessage}`);
      }
      try {
        out.push(await fixDelve());
      } catch (e) {
        if (!isHotdumpError(e)) throw e;
        out.push(`could not fix: ${e.shortMessage}`);
      }
    }
    const checks: DoctorCheck[] = [
      ...doctorCoreChecks({ cwd: process.cwd() }),
      ...(await toolChecks()),
      journalCheck(),
      nativeCheck(),
      storeCheck(storeDirFrom(opts)),
      ...(opts.binary ? [await binaryCheck(opts.binary)] : []),
    ];
    const ok = checks.every((c) => c.status !== "fail");
    if (opts.json) printJson({ ok, checks, ...(out.length ? { fix: out } : {}) });
    else {
      const colour = useColour(process.stdout);
      const mark = {
        ok: colour ? "\x1b[32m ok \x1b[0m" : " ok ",
        warn: colour ? "\x1b[33mwarn\x1b[0m" : "warn",
        fail: colour ? "\x1b[31mfail\x1b[0m" : "fail",
      };
      for (const line of out) process.stdout.write(`${line}\n`);
      for (const c of checks) {
        process.stdout.write(`[${mark[c.status]}] ${c.message}\n`);
        if (c.remedy && c.status !== "ok") process.stdout.write(`       → ${c.remedy}\n`);
      }
    }
    process.exitCode = ok ? 0 : 1;
  });
}
