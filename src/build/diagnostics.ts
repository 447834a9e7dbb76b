/**
 * Parses `go build` output into positioned diagnostics. The compiler prints a `# import/path`
 * header per failing package, then `file:line:col: message` lines whose paths are relative to the
 * working directory ("./main.go" for the main package, "sub/x.go" for others in go 1.26) or
 * absolute outside it; tab-indented lines continue the previous message ("\thave (int)").
 */
import { isAbsolute, relative, resolve } from "node:path";

export interface BuildDiagnostic {
  /** Root-relative posix path when inside the root, else absolute. */
  file: string;
  line: number;
  /** 0 when the compiler gave no column. */
  col: number;
  message: string;
  /** The import path from the preceding `# pkg` header, when there was one. */
  package: string | null;
}

export interface ParsedBuildOutput {
  diagnostics: BuildDiagnostic[];
  /** Lines that are not positions or headers (go command errors such as "no Go files in ..."). */
  other: string[];
}

const POS_RE = /^(.+?\.(?:go|s|c|h|mod|sum|work)):(\d+)(?::(\d+))?: (.*)$/;

export function parseBuildOutput(output: string, opts: { cwd: string; root?: string }): ParsedBuildOutput {
  const root = opts.root ?? opts.cwd;
  const diagnostics: BuildDiagnostic[] = [];
  const other: string[] = [];
  let pkg: string | null = null;
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    if (line.startsWith("# ")) {
      pkg = line.slice(2).trim();
      continue;
    }
    const last = diagnostics[diagnostics.length - 1];
    if (line.startsWith("\t") && last) {
      last.message += `\n${line.slice(1)}`;
      continue;
    }
    const m = POS_RE.exec(line);
    if (m) {
      const abs = resolve(opts.cwd, m[1] as string);
      const rel = relative(root, abs);
      const file = rel.startsWith("..") || isAbsolute(rel) ? abs : rel.split("\\").join("/");
      diagnostics.push({
        file,
        line: Number(m[2]),
        col: Number(m[3] ?? 0),
        message: m[4] as string,
        package: pkg,
      });
    } else other.push(line);
  }
  return { diagnostics, other };
}

/** `main.go:12:2: undefined: x`: the compact form for terminals and events. */
export const formatDiagnostic = (d: BuildDiagnostic) =>
  `${d.file}:${d.line}${d.col ? `:${d.col}` : ""}: ${d.message.split("\n")[0]}`;
