import type { Command } from "commander";
import { usageError } from "../errors.js";
import { connectFleet, createFleetView, fleetNotConfigured, loadFleetSettings } from "../fleet/index.js";
import { createUiServer, DEFAULT_PORT } from "../ui/index.js";
import { type CommonOptions, loggerFor, storeDirFrom, storeOption } from "./common.js";
import { uiTokenFrom, uiTokenOptions } from "./uiTokenFlags.js";

interface UiOptions extends CommonOptions {
  fleet?: boolean;
  port?: string;
  host?: string;
  token?: string;
  tokenFile?: string;
  redact?: boolean;
}

export function registerUi(program: Command): void {
  const cmd = storeOption(
    program
      .command("ui")
      .description("serve the crash dashboard (timeline, crashes, live events) on 127.0.0.1")
      .option(
        "--port <n>",
        `port to listen on (default ${DEFAULT_PORT}, or a free one if busy; 0: any free port)`,
      )
      .option("--host <h>", "address to bind (default 127.0.0.1)")
      .option("--redact", "serve no cores (they cannot be redacted); reports say so")
      .option("--fleet", "every host's crashes (the fleet settings): a host column, an issues view"),
  );
  uiTokenOptions(cmd).action(async (opts: UiOptions, cmd: Command) => {
    const logger = loggerFor(cmd);
    let port: number | undefined;
    if (opts.port !== undefined) {
      port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw usageError(`--port must be a number from 0 to 65535, not ${JSON.stringify(opts.port)}`);
    }
    const token = uiTokenFrom(opts);
    const fleet = opts.fleet ? await openFleetView() : null;
    const ui = await createUiServer({
      storeDir: storeDirFrom(opts),
      ...(fleet ? { fleet: fleet.view } : {}),
      ...(opts.host ? { host: opts.host } : {}),
      ...(port !== undefined ? { port, strictPort: true } : {}),
      ...(token !== undefined ? { token } : {}),
      redact: Boolean(opts.redact),
      logger,
    });
    logger.info(`dashboard for ${storeDirFrom(opts)}`);
    process.stdout.write(`${ui.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        void ui
          .close()
          .then(() => fleet?.conn.close())
          .then(resolve);
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
  });
}

async function openFleetView() {
  const settings = loadFleetSettings(process.cwd(), process.env);
  if (!settings) throw fleetNotConfigured();
  const conn = await connectFleet(settings);
  return { conn, view: createFleetView(conn, `s3://${settings.bucket}/${settings.prefix}`) };
}
