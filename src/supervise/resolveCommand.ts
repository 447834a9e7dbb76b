/** Finding the program to run the way a shell would, with errors a person can act on. */
import { accessSync, constants, statSync } from "node:fs";
import { basename, isAbsolute, resolve } from "node:path";
import { type ErrorDomain, HotdumpError } from "../errors.js";
import { findOnPath } from "../util/which.js";

export function resolveCommand(command: string, cwd: string, path = process.env.PATH ?? ""): string {
  if (command.includes("/")) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    checkExecutable(p, command);
    return p;
  }
  const found = findOnPath(command, path);
  if (found === null) throw commandNotFound(command);
  return found;
}

function checkExecutable(p: string, shown: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    throw commandNotFound(shown);
  }
  if (st.isDirectory())
    throw isPackageDirectory(shown, "E_EXEC_NOT_A_FILE", "exec", { exitCode: 126, suggestDev: true });
  if (!st.isFile())
    throw new HotdumpError("exec", "E_EXEC_NOT_A_FILE", `${shown} is not a regular file, not a program`, {
      exitCode: 126,
    });
  try {
    accessSync(p, constants.X_OK);
  } catch {
    throw new HotdumpError(
      "exec",
      "E_EXEC_NOT_EXECUTABLE",
      `${shown} is not executable (chmod +x ${shown})`,
      {
        exitCode: 126,
      },
    );
  }
}

/**
 * A directory where a program was expected: most often a Go package directory (`./cmd/api`),
 * given where its binary belongs. `go build -o DIR` writes into an existing directory, so the
 * hint names a file that is not that directory.
 */
export const isPackageDirectory = (
  shown: string,
  code: string,
  domain: ErrorDomain,
  o: { exitCode?: number; suggestDev?: boolean } = {},
) => {
  const dir = resolve(shown);
  const name = basename(dir) || "service";
  const out = resolve(name) === dir ? `./${name}.bin` : `./${name}`;
  const dev = o.suggestDev ? `, or let hotdump dev -p ${shown} build and run it` : "";
  return new HotdumpError(
    domain,
    code,
    `${shown} is a directory, not a program: build it (go build -o ${out} ${shown}) and give ${out}${dev}`,
    o.exitCode === undefined ? {} : { exitCode: o.exitCode },
  );
};

const commandNotFound = (command: string) =>
  new HotdumpError(
    "exec",
    "E_EXEC_NOT_FOUND",
    // A path that is not there was most often never built; a bare name was looked up on PATH.
    command.includes("/")
      ? `no such file: ${command} (build it first: go build -o ${command} .)`
      : `command not found: ${command} (not on PATH; give a path, e.g. ./${command}, or build it first)`,
    {
      exitCode: 127,
    },
  );
