/** Finding the program to run the way a shell would, with errors a person can act on. */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { HotdumpError } from "../errors.js";

export function resolveCommand(command: string, cwd: string, path = process.env.PATH ?? ""): string {
  if (command.includes("/")) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    checkExecutable(p, command);
    return p;
  }
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      // keep looking
    }
  }
  throw commandNotFound(command);
}

function checkExecutable(p: string, shown: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(p);
  } catch {
    throw commandNotFound(shown);
  }
  if (!st.isFile())
    throw new HotdumpError(
      "exec",
      "E_EXEC_NOT_A_FILE",
      `${shown} is not a program file (build it with go build -o ${shown})`,
      {
        exitCode: 126,
      },
    );
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

export const commandNotFound = (command: string) =>
  new HotdumpError(
    "exec",
    "E_EXEC_NOT_FOUND",
    `command not found: ${command} (give a path, e.g. ./${command}, or build it first)`,
    {
      exitCode: 127,
    },
  );
