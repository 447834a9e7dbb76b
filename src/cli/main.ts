import { closeEarlyDelve, startEarlyDelve } from "./earlyDelve.js";

// Before the command tree loads (see earlyDelve.ts); program.js and commander load meanwhile.
await startEarlyDelve(process.argv.slice(2));
const { run } = await import("./program.js");
process.exitCode = await run(process.argv.slice(2));
await closeEarlyDelve();
