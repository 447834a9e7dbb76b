/**
 * Finding a program on PATH the way execvp(3) and a shell do: the first directory holding a
 * regular file of that name this process may execute. Empty PATH entries are skipped (POSIX reads
 * them as the current directory, which a tool started in a project must not trust).
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";

export function findOnPath(name: string, path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutableFile(p)) return p;
  }
  return null;
}

function isExecutableFile(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
