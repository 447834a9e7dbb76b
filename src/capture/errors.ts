/**
 * Error factories of the capture stage: each message is written once, with its remedy.
 * Expected outcomes ("no core because RLIMIT_CORE was 0") are values (see noCore.ts), not errors;
 * these are for the machine refusing to tell us something.
 */
import { HotdumpError } from "../errors.js";

export const coreSettingsUnreadable = (path: string, cause: unknown) =>
  new HotdumpError(
    "capture",
    "E_CORE_SETTINGS_UNREADABLE",
    `cannot read ${path}: is /proc mounted? hotdump needs it to know where the kernel writes cores`,
    { cause },
  );

export const coreFixNeedsRoot = () =>
  new HotdumpError(
    "capture",
    "E_CORE_FIX_NOT_ROOT",
    "changing /proc/sys/kernel/core_pattern needs root: run `sudo hotdump doctor --fix`",
  );

export const coreFixFailed = (what: string, cause: unknown) =>
  new HotdumpError("capture", "E_CORE_FIX_FAILED", `could not ${what}; nothing else was changed`, { cause });

export const processGone = (pid: number, cause: unknown) =>
  new HotdumpError("capture", "E_PROCESS_GONE", `process ${pid} is gone: its /proc entry cannot be read`, {
    cause,
  });
