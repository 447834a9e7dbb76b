/**
 * One place every supervisor event goes through: the journal (SQLite), --json-events (NDJSON on
 * stdout, one object per line with an `event` field), and live listeners (the UI).
 */
import type { EventInput, Journal, JournalEvent } from "../store/index.js";
import type { Redactor } from "../util/redactor.js";

export type EventListener = (e: JournalEvent) => void;

export interface EventSink {
  emit(e: EventInput): JournalEvent;
  on(fn: EventListener): () => void;
}

export function createEventSink(o: {
  journal: Journal;
  ndjson?: NodeJS.WritableStream | null;
  /** --redact: every event's text (messages, argv) before it is written anywhere. */
  redactor?: Redactor;
}): EventSink {
  const listeners = new Set<EventListener>();
  return {
    emit(input) {
      const e = o.journal.append(o.redactor ? o.redactor.deep(input) : input);
      if (o.ndjson) o.ndjson.write(`${JSON.stringify(e)}\n`);
      for (const l of listeners) l(e);
      return e;
    },
    on(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
