import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { CONFIG_FILE, renderInitConfig } from "../config/index.js";
import { HotdumpError } from "../errors.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description(`write a commented ${CONFIG_FILE} with every setting and its default`)
    .option("--force", "overwrite an existing file")
    .action((opts: { force?: boolean }) => {
      const file = join(process.cwd(), CONFIG_FILE);
      if (existsSync(file) && !opts.force)
        throw new HotdumpError(
          "usage",
          "E_INIT_EXISTS",
          `${CONFIG_FILE} already exists (--force to overwrite it)`,
        );
      writeFileSync(file, renderInitConfig());
      process.stdout.write(`wrote ${file}: every key is optional; hotdump dev works without it\n`);
    });
}
