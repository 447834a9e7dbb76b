/** Config error factories: each message is `file:line:col: what` with the remedy. */
import { HotdumpError } from "../errors.js";

export interface ConfigIssue {
  /** "hotdump.toml:12:5" (or just the file name when no line is known). */
  where: string;
  /** Dotted key path, "" for the whole file. */
  key: string;
  message: string;
}

/** The config domain's error: carries every issue found, not just the first. */
export class ConfigError extends HotdumpError {
  override readonly name = "ConfigError";
  readonly issues: ConfigIssue[];
  constructor(code: string, shortMessage: string, issues: ConfigIssue[], cause?: unknown) {
    super("config", code, shortMessage, {
      cause,
      details: issues.length > 1 ? issues.map((i) => `${i.where}: ${i.message}`).join("\n") : undefined,
    });
    this.issues = issues;
  }
}

const oneLine = (i: ConfigIssue) => `${i.where}: ${i.message}`;

export const tomlSyntaxError = (issue: ConfigIssue, cause: unknown) =>
  new ConfigError("E_CONFIG_SYNTAX", oneLine(issue), [issue], cause);

export const configInvalid = (issues: ConfigIssue[]) =>
  new ConfigError(
    "E_CONFIG_INVALID",
    issues.length > 1
      ? `${oneLine(issues[0] as ConfigIssue)} (and ${issues.length - 1} more)`
      : oneLine(issues[0] as ConfigIssue),
    issues,
  );

export const configNotFound = (path: string, cause: unknown) =>
  new ConfigError("E_CONFIG_NOT_FOUND", `cannot read config ${path}: check the --config path`, [], cause);
