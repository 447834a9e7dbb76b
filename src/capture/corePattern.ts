/**
 * core_pattern parsed the way the kernel reads it (fs/coredump.c, format_corename(), Linux 6.x,
 * Documentation/admin-guide/sysctl/kernel.rst "core_pattern"):
 * - the sysctl holds at most CORENAME_MAX_SIZE (128) bytes with the NUL, so a pattern is cut to
 *   127 characters when written;
 * - `|cmd args` runs a user-mode helper with the core on stdin; since Linux 5.3 the command is split
 *   on whitespace *before* the specifiers are expanded (so `%e` with a space stays one argument),
 *   runs of spaces collapse and leading spaces are skipped;
 * - `@/path` (6.16+) and `@@/path` (6.17+) send the core to a listening unix socket;
 * - `%` + an unknown character: both are dropped; a lone `%` at the end is dropped;
 * - core_uses_pid appends `.%p` (the namespace pid) to a file pattern with no `%p` (not `%P`).
 */
export const CORE_PATTERN_MAX = 127;

/** Every specifier the kernel expands. */
export type Specifier =
  | "p"
  | "P"
  | "i"
  | "I"
  | "u"
  | "g"
  | "d"
  | "s"
  | "t"
  | "h"
  | "e"
  | "E"
  | "f"
  | "c"
  | "C"
  | "F";

const SPECIFIERS: Readonly<Record<Specifier, string>> = {
  p: "pid of the dumping process, in its own pid namespace",
  P: "pid in the initial pid namespace",
  i: "tid of the dumping thread, in its namespace",
  I: "tid in the initial pid namespace",
  u: "real uid (initial user namespace)",
  g: "real gid (initial user namespace)",
  d: "dumpable mode (1 normal, 2 suid_dumpable)",
  s: "number of the signal that caused the dump",
  t: "time of the dump, seconds since the epoch",
  h: "hostname (nodename of the process's UTS namespace)",
  e: "comm: the thread's task name, at most 15 characters, can be changed with prctl(PR_SET_NAME)",
  E: "path of the executable with '/' replaced by '!'",
  f: "file name of the executable",
  c: "RLIMIT_CORE soft limit (18446744073709551615 when unlimited)",
  C: "CPU the task ran on",
  F: "pidfd of the dumping process, handed to a pipe helper",
};

export type Token = { kind: "literal"; text: string } | { kind: "spec"; spec: Specifier };

export type PipeHandler = "systemd-coredump" | "apport" | "abrt" | "other";

export type ParsedCorePattern =
  | {
      kind: "file";
      /** Literal text and specifiers; `/` stays inside literals (an expansion never yields `/`). */
      template: Token[];
      /** Relative to the crashing process's working directory (the default `core` is). */
      relative: boolean;
      /** `.%p` was appended because core_uses_pid=1 and the pattern has no %p. */
      pidAppended: boolean;
      /** The pattern after the 127-character cut. */
      pattern: string;
    }
  | {
      kind: "pipe";
      /** The command text after `|`, unexpanded. */
      command: string;
      /** Its arguments as the kernel splits them, unexpanded (argv[0] is the helper path). */
      argv: string[];
      handler: PipeHandler;
      pattern: string;
    }
  | { kind: "socket"; socket: string; protocol: boolean; handler: PipeHandler; pattern: string };

const isSpecifier = (c: string): c is Specifier => Object.hasOwn(SPECIFIERS, c);

/** Tokens of a file pattern (or of one pipe argument), following the kernel's expansion loop. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const lit = (s: string) => {
    const last = out[out.length - 1];
    if (last?.kind === "literal") last.text += s;
    else out.push({ kind: "literal", text: s });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== "%") {
      lit(c);
      continue;
    }
    const n = text[i + 1];
    if (n === undefined) break; // lone % at the end: dropped
    i++;
    if (n === "%") lit("%");
    else if (isSpecifier(n)) out.push({ kind: "spec", spec: n });
    // any other character: the kernel drops both
  }
  return out;
}

export function classifyHandler(command: string): PipeHandler {
  const exe = (command.trim().split(/\s+/)[0] ?? "").split("/").pop() ?? "";
  if (exe === "systemd-coredump" || /systemd/.test(command)) return "systemd-coredump";
  if (exe === "apport" || exe.startsWith("apport")) return "apport";
  if (exe.startsWith("abrt")) return "abrt";
  return "other";
}

/** core_pattern pipes to hotdump's own handler (`|/.../hotdump-tracer handle ...`, handler.ts). */
export function isHotdumpHandler(p: ParsedCorePattern): boolean {
  return p.kind === "pipe" && /(^|\/)hotdump-tracer$/.test(p.argv[0] ?? "") && p.argv[1] === "handle";
}

export function parseCorePattern(pattern: string, usesPid: boolean): ParsedCorePattern {
  const pat = pattern.replace(/\n$/, "").slice(0, CORE_PATTERN_MAX);
  if (pat.startsWith("|")) {
    const command = pat.slice(1);
    // isspace() in the kernel: space, \t, \n, \v, \f, \r.
    const argv = command.split(/[ \t\n\v\f\r]+/).filter((a) => a !== "");
    return { kind: "pipe", command, argv, handler: classifyHandler(command), pattern: pat };
  }
  if (pat.startsWith("@")) {
    const protocol = pat.startsWith("@@");
    const socket = pat.slice(protocol ? 2 : 1);
    return { kind: "socket", socket, protocol, handler: classifyHandler(socket), pattern: pat };
  }
  const template = tokenize(pat);
  const hasPid = template.some((t) => t.kind === "spec" && t.spec === "p");
  const pidAppended = usesPid && !hasPid;
  if (pidAppended) {
    const last = template[template.length - 1];
    if (last?.kind === "literal") last.text += ".";
    else template.push({ kind: "literal", text: "." });
    template.push({ kind: "spec", spec: "p" });
  }
  return { kind: "file", template, relative: !pat.startsWith("/"), pidAppended, pattern: pat };
}

/**
 * How the kernel escapes the text of %h, %e, %E and %f (cn_esc_printf): every '/' becomes '!', a
 * result of exactly "." or ".." gets its first character replaced by '!', and an empty result
 * becomes "!" so that no expansion can create "//", "." or ".." path components.
 */
export function escapeComponent(s: string): string {
  if (s === "") return "!";
  let r = s.replaceAll("/", "!");
  if (r === "." || r === "..") r = `!${r.slice(1)}`;
  return r;
}
