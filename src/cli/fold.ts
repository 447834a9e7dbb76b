/**
 * A crashing Go program prints every goroutine (GOTRACEBACK=crash adds the runtime's own): a
 * hundred lines that push the crash summary off the screen. In the terminal `dev` and `run` show
 * the panic and the crashing goroutine, then fold the rest into one line; the whole text is kept
 * in the bundle (stderr.txt) and `--verbose` shows it all.
 */
const START = /^(panic: |fatal error: |unexpected fault address |SIG[A-Z]+: )/;
/** Lines that belong to a Go traceback dump. */
const DUMP =
  /^(\t|goroutine \d+|created by |runtime stack:|\[signal |\S+\(.*\)$|\.\.\.|r[a-z0-9]+\s+0x|rip |rflags |[a-z]s\s+0x|\s*$)/;

interface Folder {
  /** Returns the line to print, or null when it is folded. */
  line(text: string): string | null;
  /** The fold summary, if anything was folded (call at a crash's end). */
  flush(): string | null;
}

export function createTracebackFolder(): Folder {
  let state: "normal" | "first" | "folding" = "normal";
  let folded = 0;
  let sawGoroutine = false;
  const summary = () => {
    const n = folded;
    folded = 0;
    state = "normal";
    return n > 0
      ? `… ${n} more traceback lines (other goroutines) folded: the bundle's stderr.txt has them all`
      : null;
  };
  return {
    line(text) {
      if (state === "normal") {
        if (START.test(text)) {
          state = "first";
          sawGoroutine = false;
        }
        return text;
      }
      if (state === "first") {
        // Show the crashing goroutine's block: up to the blank line that ends it.
        if (/^goroutine \d+/.test(text)) sawGoroutine = true;
        if (sawGoroutine && text.trim() === "") state = "folding";
        return text;
      }
      if (DUMP.test(text)) {
        folded++;
        return null;
      }
      // Output that is not part of the dump: the fold ends here.
      const s = summary();
      return s === null ? text : `${s}\n${text}`;
    },
    flush() {
      return state === "normal" ? null : summary();
    },
  };
}

/** One fold per generation, as `dev` and `run` print their services' stderr. */
interface GenerationFolds {
  /** The stderr line of generation `g` to print, or null when it is folded; --verbose folds nothing. */
  line(g: number, text: string): string | null;
  /** Ends generation `g`'s fold: its summary line, if anything was folded. */
  flush(g: number): string | null;
}

export function createGenerationFolds(verbose: boolean): GenerationFolds {
  const folders = new Map<number, Folder>();
  return {
    line(g, text) {
      if (verbose) return text;
      let f = folders.get(g);
      if (!f) {
        f = createTracebackFolder();
        folders.set(g, f);
      }
      return f.line(text);
    },
    flush: (g) => folders.get(g)?.flush() ?? null,
  };
}
