// `hotdump run` over a test fixture service, as the reload and soak benches drive it: builds of
// the service by mode and version, a deploy that overwrites the path (copy + rename, as cp, rsync
// and ansible do), and the supervisor started with --json-events, its events handed to `onEvent`.
// Default: test/fixtures/go/runsvc (drains cooperatively on SIGTERM) on a TCP port, probed on its
// health port; `pkg: "./plainsvc"` is the service that only calls srv.Shutdown(ctx); `unix: true`
// listens on a UNIX socket (the target is then { socketPath }); `probe` replaces the probe
// (`{listen}` stands for the TCP address); `env` is added to hotdump's environment
// (HOTDUMP_LISTEN_MODE=shared for the shared-socket mode).
import { copyFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import {
  freePort,
  goBuild,
  HOTDUMP,
  onJsonEvents,
  pollUntil,
  spawnTracked,
  TEST_FIXTURES,
} from "./common.mjs";

export async function startRunsvc({
  dir,
  args = [],
  onEvent = () => {},
  pkg = "./runsvc",
  unix = false,
  probe = "http://127.0.0.1:{port}/healthz",
  env = {},
}) {
  const svc = join(dir, "svc");
  const store = join(dir, "store");
  const variant = (mode, version) =>
    goBuild(
      pkg,
      join(dir, `${pkg.slice(2)}-${mode || "ok"}-${version}`),
      ["-gcflags=all=-N -l", `-ldflags=-X main.mode=${mode} -X main.version=${version}`],
      TEST_FIXTURES,
    );
  const deploy = (bin) => {
    copyFileSync(bin, `${svc}.new`);
    renameSync(`${svc}.new`, svc);
  };
  deploy(variant("", "1"));
  const port = await freePort();
  const socketPath = join(dir, "svc.sock");
  const listen = unix ? `unix://${socketPath}` : `127.0.0.1:${port}`;
  const target = unix ? { socketPath } : port;
  const sup = spawnTracked(
    process.execPath,
    [
      HOTDUMP,
      "run",
      "--json-events",
      "--store",
      store,
      "--listen",
      listen,
      "--probe",
      probe.replace("{listen}", `127.0.0.1:${port}`),
      "--env",
      "HEALTH_ADDR=127.0.0.1:{port}",
      ...args,
      "--",
      svc,
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", ...env } },
  );
  let errTail = "";
  onJsonEvents(sup, onEvent);
  sup.stderr.on("data", (c) => {
    errTail = (errTail + c).slice(-4000);
  });
  await pollUntil(target, (b) => b.startsWith("v1 "), { timeoutMs: 60_000, everyMs: 50 }).catch((e) => {
    throw new Error(`${e.message}\n${errTail}`);
  });
  return { svc, store, port, target, sup, variant, deploy, errTail: () => errTail };
}
