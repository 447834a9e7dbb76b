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
    "the dashboard token is too weak: it needs at least 128 random bits in letters, digits, '-', '_' or '.' (openssl rand -hex 32; or leave it out to get one generated)",
  );

export const uiTokenFile = (path: string, why: string) =>
  new HotdumpError("usage", "E_UI_TOKEN_FILE", `cannot use the token file ${path}: ${why}`);

export const uiTokenInArgv = () =>
  new HotdumpError(
    "usage",
    "E_UI_TOKEN_ARGV",
    "--token puts the token in ps for every user to read: use --token-file FILE (mode 600) or HOTDUMP_UI_TOKEN",
  );
