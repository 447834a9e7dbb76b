/**
 * `hotdump ui --fleet`: the same pages over every host's crashes. The fleet stage provides a
 * FleetView (src/fleet/dashboard.ts; cli/ui.ts wires it); this module maps it onto the
 * dashboard's API, behind the same Host and token checks as the local dashboard (server.ts runs
 * them before any route). A crash is named `HOST~ID` in URLs (`~` is in no host name nor id).
 * Cores are never proxied: with a token, the core route redirects to a presigned URL that expires
 * after CORE_URL_SECONDS; without one, cores are refused as on the local dashboard.
 */
import type { CrashMeta, Report } from "../contracts/index.js";
import { siteClassText } from "../report/index.js";
import type { CrashListing } from "../store/queries.js";
import type { CrashDetail, Overview } from "./data.js";

export const CORE_URL_SECONDS = 300;

export interface FleetViewIssue {
  fingerprint: string;
  count: number;
  hosts: string[];
  kind: string | null;
  message: string | null;
  culprit: string | null;
  firstSeen: { time: string; build: string | null; "vcs.revision": string | null };
  lastSeen: { time: string; build: string | null; "vcs.revision": string | null };
  status: string;
}

export interface FleetViewCrash {
  id: string;
  host: string;
  fingerprint: string;
  kind: string | null;
  message: string | null;
  culprit: string | null;
  time: string;
  coreKey: string | null;
}

export interface FleetView {
  /** s3://bucket/prefix, shown where the local dashboard shows the store. */
  label: string;
  crashes(): Promise<FleetViewCrash[]>;
  issues(): Promise<FleetViewIssue[]>;
  /** null when no such crash. */
  bundle(
    host: string,
    id: string,
  ): Promise<{
    meta: CrashMeta;
    report: Report | null;
    stdoutTail: string | null;
    stderrTail: string | null;
  } | null>;
  coreUrl(host: string, id: string, seconds: number): Promise<string | null>;
}

export type FleetOverview = Overview & {
  fleet: true;
  crashes: (CrashListing & { host: string; fingerprint: string })[];
  issues: FleetViewIssue[];
};

const fleetRef = (host: string, id: string) => `${host}~${id}`;

export function parseFleetRef(ref: string): { host: string; id: string } | null {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})~(\d{8}-\d{6}-[0-9a-f]{4})$/.exec(ref);
  return m ? { host: m[1]!, id: m[2]! } : null;
}

export async function fleetOverview(view: FleetView): Promise<FleetOverview> {
  const [crashes, issues] = await Promise.all([view.crashes(), view.issues()]);
  return {
    fleet: true,
    store: view.label,
    now: new Date().toISOString(),
    lastEventId: 0,
    generations: [],
    events: [],
    // The fleet's groups are its issues (below): the local signatures table stays empty.
    signatures: [],
    issues,
    crashes: crashes.map((c) => ({
      id: fleetRef(c.host, c.id),
      host: c.host,
      fingerprint: c.fingerprint,
      time: c.time,
      generation: null,
      outcome: "crash",
      signal: null,
      kind: c.kind,
      message: c.message,
      culprit: c.culprit,
      binarySha256: null,
      state: "complete",
      coreStored: c.coreKey !== null,
      buildIdMatch: null,
      evicted: false,
      dir: null,
      count: 1,
      lastSeen: null,
    })),
  };
}

export async function fleetCrashDetail(
  view: FleetView,
  ref: { host: string; id: string },
  coreDownload: boolean,
): Promise<CrashDetail | null> {
  const b = await view.bundle(ref.host, ref.id);
  if (!b) return null;
  return {
    id: fleetRef(ref.host, ref.id),
    meta: b.meta,
    report: b.report,
    ...(b.report ? {} : { reportError: "this crash was sent without a report" }),
    stdoutTail: b.stdoutTail,
    stderrTail: b.stderrTail,
    debugCommand: `hotdump fleet pull ${ref.host}/${ref.id} && hotdump debug ${ref.id}`,
    coreDownload: coreDownload && Boolean(b.meta.core.stored),
    siteIn: b.report?.site ? siteClassText(b.report.site.class) : null,
  };
}
