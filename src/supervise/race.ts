/**
 * Watches a running program's stderr for the race detector's reports. With the default GORACE
 * (halt_on_error=0) a `-race` service keeps running after each report and only exits 66 at its
 * end, if ever: each report is an event of its generation as it is printed, like a recovered HTTP
 * panic. Every report is kept here, where the stderr ring buffer keeps only the last 256 KiB.
 */
import { parseRaceBlock, RACE_RULE, RACE_WARNING } from "../analyze/race/index.js";
import type { Race } from "../contracts/index.js";

/** A report is a few dozen lines; a block this long lost its closing rule. */
const MAX_LINES = 2000;
/** Races kept per run; TSan itself reports each pair of locations once. */
export const MAX_RACES = 200;

interface RaceWatcher {
  line(text: string): void;
  /** Every complete report so far, in order (at most MAX_RACES). */
  readonly races: Race[];
  /** How many were reported, kept or not. */
  readonly count: number;
}

export function createRaceWatcher(onRace?: (r: Race, n: number) => void): RaceWatcher {
  let block: string[] | null = null;
  const races: Race[] = [];
  let count = 0;
  return {
    line(raw) {
      const text = raw.replace(/\r$/, "");
      if (block === null) {
        if (text === RACE_WARNING) block = [];
        return;
      }
      if (text === RACE_RULE || block.length >= MAX_LINES) {
        const r = parseRaceBlock(block);
        block = text === RACE_WARNING ? [] : null;
        if (!r) return;
        count++;
        if (races.length < MAX_RACES) races.push(r);
        onRace?.(r, count);
      } else block.push(text);
    },
    races,
    get count() {
      return count;
    },
  };
}
