/**
 * The dashboard's token flags, shared by `ui`, `dev --ui` and `run --ui`. Apart from cli/ui.ts so
 * that dev and run do not load the dashboard and the fleet's client to register two flags
 * (importing cli/ui.js cost ~0.6 s and ~30 MiB before dev's first build).
 */
import { type Command, Option } from "commander";
import { resolveUiToken, TOKEN_ENV } from "../ui/auth.js";
import { uiTokenInArgv } from "../ui/errors.js";

/** --token-file for ui, dev --ui and run --ui; a --token in argv is refused (ps shows it to all). */
export function uiTokenOptions(cmd: Command): Command {
  return cmd
    .option(
      "--token-file <file>",
      `the dashboard's token, read from a file only you can read (else $${TOKEN_ENV}, else a random one is printed in the URL)`,
    )
    .addOption(new Option("--token <t>").hideHelp());
}

export function uiTokenFrom(opts: { token?: string; tokenFile?: string }): string | undefined {
  if (opts.token !== undefined) throw uiTokenInArgv();
  return resolveUiToken(opts.tokenFile);
}
