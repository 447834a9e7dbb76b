// The CLI as bin/hotdump loads it: dist/ (tsc's output, one file per module) bundled into
// dist/bundle/ with esbuild, split at every dynamic import() so each command still loads only its
// own part. `hotdump dev` opened 312 JavaScript files in its first seconds (171 of ours, 95 of
// zod's; strace), about 60 now, and answers about a sixth sooner (bench/dev-start-ab.mjs: 433 ->
// 363 ms).
// Native and heavy optional packages stay outside (better-sqlite3, koffi, pg, the AWS SDK,
// prom-client, playwright-core): they load from node_modules as before.
// dist/bundle/ sits two levels below the package root, as every dist/<folder>/ module does, so
// their paths relative to import.meta.url (../../package.json, ../../src/ui/static/,
// ../../tracer) hold in the bundle unchanged.
//   node scripts/bundle.mjs   (after `tsc -p tsconfig.json`; `npm run build` runs both)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
const outdir = join(root, "dist/bundle");
rmSync(outdir, { recursive: true, force: true });
/**
 * zod's `z` namespace re-exports all its 60-odd message locales, so nothing tree-shakes them: half of
 * zod's bundled code. hotdump's messages are English (zod configures `en` itself, from its own file).
 */
const onlyEnglishZodLocale = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: join(root, "node_modules/zod/v4/locales"),
    }));
  },
};

await build({
  entryPoints: [join(root, "dist/cli/main.js")],
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["better-sqlite3", "koffi", "pg", "@aws-sdk/*", "prom-client", "playwright-core"],
  // CommonJS packages bundled into ESM (commander, ignore) may call require() for Node built-ins.
  banner: {
    js: 'import { createRequire as __hotdumpRequire } from "node:module"; const require = __hotdumpRequire(import.meta.url);',
  },
  plugins: [onlyEnglishZodLocale],
  logLevel: "warning",
});
