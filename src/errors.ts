/**
 * Typed errors. Every failure a person can meet has a stable `code` (scripts match on it),
 * a one-line `shortMessage` with the remedy, and the underlying `cause`.
 * The CLI prints `shortMessage`; `--verbose` prints the whole chain.
 */
export type ErrorDomain =
  | "usage"
  | "config"
  | "exec"
  | "capture"
  | "store"
  | "elf"
  | "traceback"
  | "analyze"
  | "build"
  | "supervise"
  | "ui"
  | "watch"
  | "forensics"
  | "fleet";

export interface HotdumpErrorOptions {
  cause?: unknown;
  /** Extra lines shown with --verbose (for example the tail of a child's stderr). */
  details?: string;
  /** Process exit status the CLI should use (default 1; 2 for usage mistakes). */
  exitCode?: number;
}

export class HotdumpError extends Error {
  override readonly name: string = "HotdumpError";
  readonly domain: ErrorDomain;
  readonly code: string;
  readonly shortMessage: string;
  readonly details: string | undefined;
  readonly exitCode: number;

  constructor(domain: ErrorDomain, code: string, shortMessage: string, options: HotdumpErrorOptions = {}) {
    super(`${code}: ${shortMessage}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.domain = domain;
    this.code = code;
    this.shortMessage = shortMessage;
    this.details = options.details;
    this.exitCode = options.exitCode ?? (domain === "usage" || domain === "config" ? 2 : 1);
  }

  toJSON(): { code: string; message: string; details?: string } {
    return {
      code: this.code,
      message: this.shortMessage,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export const isHotdumpError = (e: unknown): e is HotdumpError => e instanceof HotdumpError;

/** Render an error chain for --verbose: each cause on its own line, then details. */
export function describeChain(err: unknown): string {
  const lines: string[] = [];
  let cur: unknown = err;
  let depth = 0;
  while (cur !== undefined && cur !== null && depth < 10) {
    if (cur instanceof HotdumpError) {
      lines.push(`${"  ".repeat(depth)}${cur.code}: ${cur.shortMessage}`);
      if (cur.details) lines.push(...cur.details.split("\n").map((l) => `${"  ".repeat(depth + 1)}${l}`));
    } else if (cur instanceof Error) {
      lines.push(`${"  ".repeat(depth)}${cur.stack ?? cur.message}`);
    } else {
      lines.push(`${"  ".repeat(depth)}${String(cur)}`);
    }
    cur = cur instanceof Error ? cur.cause : undefined;
    depth++;
  }
  return lines.join("\n");
}

export const usageError = (message: string) => new HotdumpError("usage", "E_USAGE", message);
