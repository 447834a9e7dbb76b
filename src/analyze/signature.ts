/**
 * A crash signature: what makes two crashes "the same bug", on one host and across a fleet. Like
 * Sentry's grouping (a versioned fingerprint of the in-app frames) and Socorro's signatures, it is
 * built from what stays the same when the bug repeats: the kind, the message with its numbers and
 * addresses taken out, and the function names of the top user frames (no line numbers: an edit above
 * the bug must not make it a new one; closure and generic suffixes normalised: `func1` and `func2`
 * are renumbered by any edit of the enclosing function).
 *
 * Bump SIGNATURE_VERSION whenever the rules below change: fingerprints of different versions are
 * never compared, and stored crashes keep the version they were made with.
 */
import { createHash } from "node:crypto";
import type { Frame, Report } from "../contracts/index.js";

/**
 * 2: hex ids (`order 5f3a9c2e1b07 not found`, Mongo ObjectIDs, trace ids) are placeholders too; in
 * version 1 every request id made a new signature.
 */
export const SIGNATURE_VERSION = 2;

/** How many user frames name a signature (Sentry uses the in-app frames; three tell handlers apart). */
const TOP_FRAMES = 3;
const MAX_MESSAGE = 200;

export interface CrashSignature {
  version: number;
  /** `v1-` and 16 hex digits of a SHA-256 over version, kind, message and frames. */
  fingerprint: string;
  kind: string;
  /** The message as compared: numbers, addresses, ids and quoted values replaced by placeholders. */
  message: string;
  /** The normalised function names of the top user frames, innermost first. */
  frames: string[];
}

/**
 * The message without what changes from one occurrence to the next: hex addresses (`0xc000084000`),
 * UUIDs, numbers (`index out of range [5] with length 3`), host:port pairs, and the value of a Go
 * `%q`-quoted string (`unknown order "A-1234"`: the value varies, the sentence does not).
 */
export function normaliseMessage(message: string): string {
  const first = (message.split("\n")[0] ?? "").trim();
  return (
    first
      .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "<uuid>")
      .replace(/\b0x[0-9a-f]+\b/gi, "0x?")
      // A word of 8+ hex digits holding a digit and a letter is an id, not a word (`deadbeef`,
      // `accepted`, and plain numbers are left to the rules around it).
      .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, "<hex>")
      .replace(/"(?:[^"\\]|\\.)*"/g, '"…"')
      .replace(/\b\d+(\.\d+)*\b/g, "N")
      .replace(/\s+/g, " ")
      .slice(0, MAX_MESSAGE)
  );
}

/**
 * A function name without what an unrelated edit changes: closure numbers (`handler.func2.1` →
 * `handler.func`), generic instantiation shapes (`Map[go.shape.int]` → `Map[…]`), method-value
 * wrappers (`-fm`) and the `deferwrap` suffixes of Go 1.22+.
 */
export function normaliseFunction(fn: string): string {
  return fn
    .replace(/\[[^\]]*\]/g, "[…]")
    .replace(/-fm$/, "")
    .replace(/\.(func|gowrap|deferwrap)\d+(\.\d+)*/g, ".$1")
    .replace(/(\.func)+/g, ".func");
}

/** The frames a signature is made of: the crashing goroutine's, else the race's first access. */
function framesOf(r: Pick<Report, "goroutine" | "races">): readonly Frame[] {
  if (r.goroutine && r.goroutine.frames.length > 0) return r.goroutine.frames;
  return r.races[0]?.accesses[0]?.frames ?? [];
}

export function signatureOf(
  r: Pick<Report, "kind" | "message" | "goroutine" | "races" | "culprit">,
): CrashSignature {
  const user = framesOf(r)
    .filter((f) => f.class === "user")
    .slice(0, TOP_FRAMES)
    .map((f) => normaliseFunction(f.function));
  // A report without a readable stack still has its culprit's name (a traceback cut short).
  if (user.length === 0 && r.culprit) user.push(normaliseFunction(r.culprit.function));
  const message = normaliseMessage(r.message);
  const hash = createHash("sha256")
    .update(JSON.stringify([SIGNATURE_VERSION, r.kind, message, user]))
    .digest("hex")
    .slice(0, 16);
  return {
    version: SIGNATURE_VERSION,
    fingerprint: `v${SIGNATURE_VERSION}-${hash}`,
    kind: r.kind,
    message,
    frames: user,
  };
}
