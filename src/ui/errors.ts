import { HotdumpError } from "../errors.js";

export const uiListenFailed = (host: string, port: number, cause: unknown) =>
  new HotdumpError(
    "ui",
    "E_UI_LISTEN",
    `cannot serve the dashboard on ${host}:${port}: ${(cause as NodeJS.ErrnoException)?.code ?? (cause as Error)?.message} (choose another --port, or --port 0 for any free port)`,
    { cause },
  );

export const uiStaticMissing = (dir: string, cause: unknown) =>
  new HotdumpError(
    "ui",
    "E_UI_STATIC",
    `the dashboard's files are missing from ${dir} (the checkout is incomplete: run git status, then make build)`,
    { cause },
  );

export const uiBadToken = () =>
  new HotdumpError(
    "usage",
    "E_UI_BAD_TOKEN",
    "--token must be 16 to 256 characters of letters, digits, '-', '_' or '.' (or leave it out to get one generated)",
  );
