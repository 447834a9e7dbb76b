/**
 * The crash bundle contract: meta.json's fields and the handle every stage passes around. Scripts
 * read meta.json, so fields are added, never renamed or removed (schemaVersion says which shape).
 */
import type { CrashKind, Location, RecoveredBy } from "./reportModel.js";

export const META_SCHEMA_VERSION = 1;

/** `recovered`: the process recovered a panic and kept running (no end, no core). */
export type Outcome = "crash" | "exit" | "killed" | "recovered";
export type BundleState = "capturing" | "complete" | "partial";

export interface CoreInfo {
  found: boolean;
  /** Why there is no core (found: false) — one line for people. */
  reason?: string;
  code?: string;
  /** Where the kernel (or a handler) put it. */
  originalPath?: string;
  /** File name inside the bundle (core.zst / core.gz). */
  stored?: string;
  compression?: string;
  bytes?: number;
  storedBytes?: number;
  truncated?: boolean;
  /** null when the core does not hold the executable's first page. */
  buildIdMatch?: boolean | null;
  buildIdReason?: string;
}

export interface BinaryInfo {
  /** The path the program was started from. */
  path: string;
  sha256?: string;
  goBuildId?: string | null;
  gnuBuildId?: string | null;
  goVersion?: string | null;
  hasDwarf?: boolean;
}

export interface CrashMeta {
  schemaVersion: number;
  id: string;
  type: "crash" | "snapshot";
  state: BundleState;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  outcome: Outcome;
  pid?: number;
  exitCode: number | null;
  signal: string | null;
  cmdline: string[];
  cwd: string;
  /** Names only: values may be secrets and are never written. */
  envNames: string[];
  goVersion?: string | null;
  binary: BinaryInfo | null;
  core: CoreInfo;
  generation: number | null;
  kind?: CrashKind;
  message?: string;
  culprit?: Location | null;
  /** What went wrong while capturing, so nothing is silently lost. */
  problems: { code: string; message: string }[];
  /** The crash signature (as in report.json); absent in bundles written before signatures. */
  fingerprint?: string;
  /** kind `recovered`: who recovered it. */
  recoveredBy?: RecoveredBy;
  /**
   * kind `recovered`: how many times this process recovered the same panic (same fingerprint)
   * since the bundle was made, and when last: a storm is one bundle and a count.
   */
  count?: number;
  lastSeen?: string;
  /**
   * When report.json was first written from the traceback alone, while the kernel was still
   * writing the core (capture/firstReport.ts); the full report replaced it once the core was in.
   */
  firstReportAt?: string;
}

export interface Bundle {
  id: string;
  dir: string;
  meta: CrashMeta;
}

export interface ListedBundle {
  id: string;
  dir: string;
  meta: CrashMeta | null;
  /** Set when meta.json could not be read: the bundle is listed, never hidden. */
  error?: string;
  /** The folder holds nothing: a capture that could not write even meta.json (a full disk). */
  empty?: true;
}
