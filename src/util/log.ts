/**
 * The small logger: levels, a per-source prefix with colour (hotdump / build / app), NO_COLOR and
 * non-TTY aware. Library code logs through this, never console.log. With `--json` the CLI keeps
 * stdout for JSON and this writes to stderr only.
 */
type Level = "debug" | "info" | "warn" | "error";
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

type Source = "hotdump" | "build" | "app" | "dlv" | "gdb";

const colours: Record<Source, string> = {
  hotdump: "\x1b[36m",
  build: "\x1b[33m",
  app: "\x1b[32m",
  dlv: "\x1b[35m",
  gdb: "\x1b[35m",
};

export interface Logger {
  level: Level;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** One line from a child, prefixed with its source. */
  line(source: Source, text: string, stream?: "stdout" | "stderr"): void;
}

export function useColour(stream: NodeJS.WriteStream): boolean {
  if ("NO_COLOR" in process.env && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR && process.env.FORCE_COLOR !== "0") return true;
  return Boolean(stream.isTTY);
}

/**
 * Text a program wrote (a panic message), safe for a terminal: C0 controls, DEL and C1 controls are
 * shown as \xNN (an ESC sequence in a panic message could rewrite the screen, a NUL cut a line).
 * `keepNewlines` keeps \n and \t for multi-line log messages.
 */
export function printable(s: string, keepNewlines = false): string {
  const re = keepNewlines ? /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g : /[\x00-\x1f\x7f-\x9f]/g;
  return s.replace(re, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function createLogger(opts: { level?: Level; stream?: NodeJS.WriteStream } = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const colour = useColour(stream);
  const paint = (code: string, s: string) => (colour ? `${code}${s}\x1b[0m` : s);
  const prefix = (source: Source) => paint(colours[source], `[${source}]`.padEnd(9));
  const logger: Logger = {
    level: opts.level ?? "info",
    debug: (m) => emit("debug", printable(m, true)),
    info: (m) => emit("info", printable(m, true)),
    warn: (m) => emit("warn", paint("\x1b[33m", "warning: ") + printable(m, true)),
    error: (m) => emit("error", paint("\x1b[31m", "error: ") + printable(m, true)),
    line(source, text, s = "stdout") {
      const out = s === "stderr" && source === "app" ? process.stderr : stream;
      out.write(`${prefix(source)} ${text}\n`);
    },
  };
  function emit(level: Level, m: string) {
    if (order[level] < order[logger.level]) return;
    stream.write(`${prefix("hotdump")} ${m}\n`);
  }
  return logger;
}
