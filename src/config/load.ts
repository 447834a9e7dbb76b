/**
 * loadConfig: finds and reads hotdump.toml (or imports .air.toml, or runs on defaults), validates
 * it, and returns the ResolvedConfig. Every mistake is reported as `file:line:col: message`.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import type { z } from "zod";
import { importAirConfig } from "./air.js";
import type { ConfigWarning, ResolvedConfig } from "./configTypes.js";
import { type ConfigIssue, configInvalid, configNotFound, tomlSyntaxError } from "./errors.js";
import { indexKeys, locateKey } from "./keyPositions.js";
import { resolveConfig } from "./resolve.js";
import { suggest } from "./suggest.js";
import { configSchema, knownKeys, type RawConfig } from "./tomlSchema.js";

export const CONFIG_FILE = "hotdump.toml";
const AIR_CONFIG_FILE = ".air.toml";

export interface LoadConfigOptions {
  cwd: string;
  /** --config: an explicit file (must exist). */
  configPath?: string;
  /** Values from command-line flags, in the file's shape; they win over the file. */
  overrides?: RawConfig;
}

/**
 * Every file loadConfig may read for these options, present or not: what a config read once
 * depends on (dev's start plan, build/planCache.ts, is used only while they are unchanged).
 */
export function configFiles(opts: Pick<LoadConfigOptions, "cwd" | "configPath">): string[] {
  const cwd = resolve(opts.cwd);
  return opts.configPath
    ? [resolve(cwd, opts.configPath)]
    : [resolve(cwd, CONFIG_FILE), resolve(cwd, AIR_CONFIG_FILE)];
}

export function loadConfig(opts: LoadConfigOptions): ResolvedConfig {
  const cwd = resolve(opts.cwd);
  let file: string | null = null;
  let source: ResolvedConfig["source"] = "defaults";
  if (opts.configPath) {
    file = resolve(cwd, opts.configPath);
    source = basename(file) === AIR_CONFIG_FILE ? ".air.toml" : "hotdump.toml";
  } else if (existsSync(resolve(cwd, CONFIG_FILE))) {
    file = resolve(cwd, CONFIG_FILE);
    source = "hotdump.toml";
  } else if (existsSync(resolve(cwd, AIR_CONFIG_FILE))) {
    file = resolve(cwd, AIR_CONFIG_FILE);
    source = ".air.toml";
  }

  let text = "";
  let label = CONFIG_FILE;
  let doc: unknown = {};
  let warnings: ConfigWarning[] = [];
  let origins = new Map<string, string[]>();
  if (file) {
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw configNotFound(file, e);
    }
    label = basename(file);
    doc = parseToml(text, label);
    if (source === ".air.toml") {
      const imported = importAirConfig(text, label);
      doc = imported.config;
      warnings = imported.warnings;
      origins = imported.origins;
    }
  }
  if (opts.overrides) doc = merge(doc, opts.overrides);

  const index = indexKeys(text);
  /** An imported .air.toml's key for a hotdump key path: the air key the value came from. */
  const airPath = (path: readonly PropertyKey[]): string[] | null => {
    for (let n = path.length; n > 0; n--) {
      const hit = origins.get(path.slice(0, n).map(String).join("."));
      if (hit) return hit;
    }
    return null;
  };
  const where = (path: readonly PropertyKey[]) => {
    const p = source === ".air.toml" ? airPath(path) : path;
    const pos = p ? locateKey(text, p, source === ".air.toml" ? undefined : index) : null;
    return pos ? `${label}:${pos.line}:${pos.column}` : label;
  };
  // What the user wrote: air's key for a value imported from .air.toml, else the key itself.
  const keyName = (path: readonly PropertyKey[]) =>
    (source === ".air.toml" ? airPath(path)?.join(".") : undefined) ?? path.map(String).join(".");
  const parsed = configSchema.safeParse(doc);
  if (!parsed.success)
    throw configInvalid(parsed.error.issues.flatMap((i) => describeIssue(i, where, keyName)));
  return resolveConfig(parsed.data, {
    baseDir: file ? dirname(file) : cwd,
    configFile: file,
    source,
    warnings,
    where,
    keyName,
  });
}

/** Parse TOML text; a syntax error becomes `file:line:col: message` with the code block in details. */
function parseToml(text: string, label: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      // smol-toml's message is "Invalid TOML document: <what>\n\n<code block>".
      const what = (e.message.split("\n")[0] ?? "").replace(/^Invalid TOML document:\s*/, "");
      const issue: ConfigIssue = {
        where: `${label}:${e.line}:${e.column}`,
        key: "",
        message: `TOML syntax: ${what}`,
      };
      throw tomlSyntaxError(issue, e);
    }
    throw e;
  }
}

function describeIssue(
  i: z.core.$ZodIssue,
  where: (p: readonly PropertyKey[]) => string,
  keyName: (p: readonly PropertyKey[]) => string,
): ConfigIssue[] {
  const key = keyName(i.path);
  if (i.code === "unrecognized_keys") {
    const known = knownKeys(i.path);
    const table = i.path.length === 0 ? "at the top level" : `in [${key}]`;
    return i.keys.map((k) => {
      const hint = suggest(k, known);
      return {
        where: where([...i.path, k]),
        key: key ? `${key}.${k}` : k,
        message: `unknown key "${k}" ${table}${hint ? ` (did you mean "${hint}"?)` : `; known keys: ${known.join(", ")}`}`,
      };
    });
  }
  const plain = i.code === "invalid_type" && i.message.startsWith("Invalid input");
  const message = plain ? `${key}: expected ${i.expected}` : `${key}: ${i.message}`;
  return [{ where: where(i.path), key, message }];
}

function merge(base: unknown, over: unknown): unknown {
  if (typeof base !== "object" || base === null || Array.isArray(base)) return over;
  if (typeof over !== "object" || over === null || Array.isArray(over)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>))
    if (v !== undefined) out[k] = merge(out[k], v);
  return out;
}
