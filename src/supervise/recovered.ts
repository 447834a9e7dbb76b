/**
 * net/http recovers a panic inside a handler, logs `http: panic serving ADDR: ...` with the
 * goroutine's stack, and keeps serving (net/http's conn.serve defers a recover; the tbhttp
 * fixture exits 0 after its handler panicked, test/traceback.test.ts): not a crash, but an event worth recording,
 * since it is often the same bug one reload away from a real crash. This collects such a block
 * from the service's output lines and hands the parsed panic on.
 */
import { findRecoveredHttpPanics, type RecoveredHttpPanic } from "../analyze/traceback/index.js";

const START = /\bhttp2?: panic serving /;
/** Lines that belong to a traceback block: a goroutine header, a frame, a file:line, created by. */
const CONTINUES = /^(\t|goroutine \d+|created by |panic\(|\S+\(.*\)$|\[signal |\s*$)/;
const MAX_LINES = 400;

export function createRecoveredPanicWatcher(onPanic: (p: RecoveredHttpPanic) => void): {
  line(text: string): void;
  flush(): void;
} {
  let block: string[] | null = null;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!block) return;
    const text = block.join("\n");
    block = null;
    for (const p of findRecoveredHttpPanics(text)) onPanic(p);
  };
  return {
    line(text) {
      if (START.test(text)) {
        flush();
        block = [text];
      } else if (block) {
        if (!CONTINUES.test(text) || block.length >= MAX_LINES) flush();
        else block.push(text);
      } else return;
      // A stack ends without a marker: a quiet moment ends the block too.
      if (timer) clearTimeout(timer);
      if (block) timer = setTimeout(flush, 50);
    },
    flush,
  };
}
