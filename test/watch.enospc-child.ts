/** Run by test/watch.test.ts inside a user namespace with a tiny inotify limit: prints the watcher's error as JSON. */
import { loadConfig } from "../src/config/index.js";
import { createWatcher } from "../src/watch/index.js";

const root = process.argv[2] as string;
const w = createWatcher({ root, config: loadConfig({ cwd: root }).watch, onBatch() {} });
w.ready
  .then(
    () => process.stdout.write(`${JSON.stringify({ code: "NO_ERROR" })}\n`),
    (e: { code: string; shortMessage: string }) =>
      process.stdout.write(`${JSON.stringify({ code: e.code, message: e.shortMessage })}\n`),
  )
  .finally(() => void w.close().then(() => process.exit(0)));
