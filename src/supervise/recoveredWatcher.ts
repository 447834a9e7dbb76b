/**
 * A service that recovers a panic logs it and keeps serving (net/http's conn.serve defers a
 * recover; chi, gin, echo and grpc-go's recovery interceptor do the same in their own words, see
 * src/analyze/traceback/recoveredPanics.ts): not a crash, but a record, since it is often the same bug one
 * reload away from a real crash. This collects each such block from one output stream, line by
 * line, and hands the parsed panic on with the block's text.
 */
import { findRecoveredPanics, type RecoveredPanic, recoveredStart } from "../analyze/traceback/index.js";

/** Lines that continue a block: stack lines, gin's and chi's frame lines, a request's headers. */
const CONTINUES =
  /^(\t|\s|goroutine \d+|created by |panic\(|\S+\(.*\)$|\[signal |$|.+:\d+ \(0x[0-9a-f]+\)$|[A-Z]+ \S+ HTTP\/|[\w-]+: |\x1b\[)/;
/** The value may take a few free lines right after the start (gin prints it on its own line). */
const FREE_LINES = 3;
const MAX_LINES = 400;

export function createRecoveredPanicWatcher(onPanic: (p: RecoveredPanic, text: string) => void): {
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
    for (const p of findRecoveredPanics(text)) onPanic(p, text);
  };
  return {
    line(text) {
      if (recoveredStart(text)) {
        flush();
        block = [text];
      } else if (block) {
        if (block.length >= MAX_LINES || (block.length > FREE_LINES && !CONTINUES.test(text))) flush();
        else block.push(text);
      } else return;
      // A stack ends without a marker: a quiet moment ends the block too.
      if (timer) clearTimeout(timer);
      if (block) timer = setTimeout(flush, 50);
    },
    flush,
  };
}
