/** The fleet's typed errors: one factory per failure, so each message is written once. */
import { HotdumpError } from "../errors.js";

export const fleetNotConfigured = () =>
  new HotdumpError(
    "fleet",
    "E_FLEET_NOT_CONFIGURED",
    "no fleet configured: set HOTDUMP_FLEET_S3=s3://bucket/prefix and HOTDUMP_FLEET_PG=postgres://... (or [fleet] in hotdump.toml); `hotdump fleet up` starts a local one",
    { exitCode: 2 },
  );

export const fleetBadSetting = (name: string, why: string) =>
  new HotdumpError("fleet", "E_FLEET_SETTING", `${name}: ${why}`, { exitCode: 2 });

/** The object store or the database cannot be reached or refused a request. */
export const fleetUnreachable = (what: "S3" | "PostgreSQL", where: string, cause: unknown) =>
  new HotdumpError(
    "fleet",
    what === "S3" ? "E_FLEET_S3" : "E_FLEET_PG",
    `${what} at ${where}: ${describeCause(cause)}`,
    { cause },
  );

export const fleetCrashNotFound = (id: string) =>
  new HotdumpError(
    "fleet",
    "E_FLEET_CRASH_NOT_FOUND",
    `no crash ${id} in the fleet (see hotdump fleet crashes)`,
    {
      exitCode: 1,
    },
  );

export const fleetAmbiguous = (id: string, hosts: string[]) =>
  new HotdumpError(
    "fleet",
    "E_FLEET_AMBIGUOUS",
    `crash ${id} exists on several hosts (${hosts.join(", ")}): name one as HOST/${id}`,
    { exitCode: 2 },
  );

export const fleetManifestBad = (key: string, why: string) =>
  new HotdumpError("fleet", "E_FLEET_MANIFEST", `manifest ${key}: ${why}`);

export const fleetLocalFailed = (what: string, cause: unknown, details?: string) =>
  new HotdumpError("fleet", "E_FLEET_UP", `${what}: ${describeCause(cause)}`, {
    cause,
    ...(details ? { details } : {}),
  });

export const fleetBacklog = (left: number) =>
  new HotdumpError(
    "fleet",
    "E_FLEET_BACKLOG",
    `${left} bundle(s) not delivered yet (they stay queued and are retried; hotdump push --wait waits for them)`,
  );

export function describeCause(cause: unknown): string {
  const e = cause as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e?.$metadata?.httpStatusCode;
  const code = e?.code ?? (e?.name && e.name !== "Error" ? e.name : undefined);
  const msg = (e?.message ?? String(cause)).split("\n")[0];
  return [code, status ? `HTTP ${status}` : undefined, msg].filter(Boolean).join(": ");
}
