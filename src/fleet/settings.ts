/**
 * Where this host's crashes go: `[fleet]` in hotdump.toml, overridden by the environment
 * (HOTDUMP_FLEET_S3=s3://bucket/prefix, HOTDUMP_FLEET_S3_ENDPOINT, HOTDUMP_FLEET_PG, HOTDUMP_HOST),
 * with the standard AWS_* credentials read by the SDK itself. No settings: no fleet (null).
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { CONFIG_FILE, loadConfig, type ResolvedConfig } from "../config/index.js";
import { fleetBadSetting } from "./errors.js";

export interface FleetSettings {
  bucket: string;
  /** "" or "team/service/" (always ending in "/"). */
  prefix: string;
  endpoint: string | null;
  region: string;
  pg: string;
  host: string;
}

type RawFleet = NonNullable<ResolvedConfig["fleet"]>;

const S3_URL = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/;
/** A host name is a key segment: letters, digits, dot, dash, underscore. */
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function resolveFleetSettings(
  env: NodeJS.ProcessEnv,
  file: RawFleet | null = null,
): FleetSettings | null {
  const s3 = env.HOTDUMP_FLEET_S3 || file?.s3;
  const pg = env.HOTDUMP_FLEET_PG || file?.pg;
  if (!s3 && !pg) return null;
  if (!s3) throw fleetBadSetting("HOTDUMP_FLEET_S3", "missing (HOTDUMP_FLEET_PG is set): s3://bucket/prefix");
  if (!pg) throw fleetBadSetting("HOTDUMP_FLEET_PG", "missing (HOTDUMP_FLEET_S3 is set): postgres://...");
  const m = S3_URL.exec(s3);
  if (!m)
    throw fleetBadSetting(
      "HOTDUMP_FLEET_S3",
      `${JSON.stringify(s3)} is not s3://bucket or s3://bucket/prefix`,
    );
  if (!/^postgres(ql)?:\/\//.test(pg)) throw fleetBadSetting("HOTDUMP_FLEET_PG", "not a postgres:// URL");
  const host = env.HOTDUMP_HOST || file?.host || hostname();
  if (!HOST_RE.test(host))
    throw fleetBadSetting("HOTDUMP_HOST", `${JSON.stringify(host)}: letters, digits, '.', '-', '_' only`);
  const rawPrefix = (m[2] ?? "").replace(/^\/+|\/+$/g, "");
  return {
    bucket: m[1]!,
    prefix: rawPrefix ? `${rawPrefix}/` : "",
    endpoint: env.HOTDUMP_FLEET_S3_ENDPOINT || file?.endpoint || null,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || file?.region || "us-east-1",
    pg,
    host,
  };
}

/** The environment `fleet up` prints, as `{"env": {...}}` with --json. */
export function fleetEnv(o: {
  bucket: string;
  prefix: string;
  endpoint: string;
  accessKey: string;
  secretKey: string;
  pg: string;
}): Record<string, string> {
  return {
    HOTDUMP_FLEET_S3: `s3://${o.bucket}${o.prefix ? `/${o.prefix.replace(/\/$/, "")}` : ""}`,
    HOTDUMP_FLEET_S3_ENDPOINT: o.endpoint,
    AWS_ACCESS_KEY_ID: o.accessKey,
    AWS_SECRET_ACCESS_KEY: o.secretKey,
    AWS_REGION: "us-east-1",
    HOTDUMP_FLEET_PG: o.pg,
  };
}

/** `[fleet]` of the hotdump.toml in `cwd`, null without one. */
export function loadFleetFile(cwd: string): RawFleet | null {
  return existsSync(join(cwd, CONFIG_FILE)) ? loadConfig({ cwd }).fleet : null;
}

/**
 * The settings a command in `cwd` uses: the environment, else `[fleet]` of the hotdump.toml there
 * (read only when it exists, so `exec` in a directory without one reads no config at all).
 */
export function loadFleetSettings(
  cwd: string,
  env: NodeJS.ProcessEnv,
  configPath?: string,
): FleetSettings | null {
  const fromEnv = resolveFleetSettings(env);
  if (fromEnv) return fromEnv;
  if (!configPath && !existsSync(join(cwd, CONFIG_FILE))) return null;
  const config = loadConfig({ cwd, ...(configPath ? { configPath } : {}) });
  return resolveFleetSettings(env, config.fleet);
}
