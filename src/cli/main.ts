import { closeEarlyDelve, startEarlyDelve } from "./earlyDelve.js";

const argv = process.argv.slice(2);
// Before the command tree loads: dev's first go build (earlyBuild.ts) and analyze's dlv
// (earlyDelve.ts) start while program.js and commander load.
const earlyBuild =
  argv.find((a) => !a.startsWith("-")) === "dev" ? await import("./earlyBuild.js") : undefined;
await earlyBuild?.startEarlyBuild(argv);
await startEarlyDelve(argv);
const { run } = await import("./program.js");
process.exitCode = await run(argv);
await closeEarlyDelve();
await earlyBuild?.closeEarlyBuild();
