/**
 * The ELF reader's errors, written once. Every failure on a file a person handed us is one of
 * these codes, never a RangeError from a Buffer read: garbage input must end in a HotdumpError.
 */
import { HotdumpError } from "../errors.js";

const hex = (n: bigint | number) => `0x${n.toString(16)}`;

export const elfNotElf = (name: string, why: string) =>
  new HotdumpError(
    "elf",
    "E_ELF_NOT_ELF",
    `${name} is not an ELF file (${why}); pass the Go binary or its core`,
  );

export const elfUnsupported = (name: string, what: string) =>
  new HotdumpError(
    "elf",
    "E_ELF_UNSUPPORTED",
    `${name}: ${what}; hotdump reads 64-bit little-endian x86-64 ELF files only`,
  );

export const elfTruncated = (name: string, what: string, needEnd: number, size: number) =>
  new HotdumpError(
    "elf",
    "E_ELF_TRUNCATED",
    `${name} is cut short: ${what} needs bytes up to ${needEnd} but the file has ${size}; the copy is incomplete (disk full, or still being written?)`,
  );

export const elfCorrupt = (name: string, what: string) =>
  new HotdumpError("elf", "E_ELF_CORRUPT", `${name} has a malformed ${what}; the file is damaged`);

export const elfIo = (name: string, cause: unknown) =>
  new HotdumpError(
    "elf",
    "E_ELF_IO",
    `cannot read ${name}: ${(cause as Error)?.message ?? String(cause)}; check the path and permissions`,
    { cause },
  );

export const elfNotCore = (name: string, type: string) =>
  new HotdumpError("elf", "E_ELF_NOT_CORE", `${name} is an ELF ${type} file, not a core dump`);

export const elfUnmapped = (name: string, addr: bigint, len: number) =>
  new HotdumpError(
    "elf",
    "E_ELF_UNMAPPED",
    `${name}: address ${hex(addr)} (+${len}) is not mapped in the crashed process`,
  );

/** The range was mapped, but the kernel chose not to dump it (memsz > filesz: file-backed text,
 * or pages excluded by /proc/PID/coredump_filter). */
export const elfNotDumped = (name: string, addr: bigint, len: number) =>
  new HotdumpError(
    "elf",
    "E_ELF_NOT_DUMPED",
    `${name}: address ${hex(addr)} (+${len}) was mapped but not written to the core (see coredump_filter)`,
  );

export const elfCoreTruncated = (name: string, addr: bigint, len: number, missing: number) =>
  new HotdumpError(
    "elf",
    "E_ELF_TRUNCATED",
    `${name}: address ${hex(addr)} (+${len}) lies in the part of the core that is missing (${missing} bytes short)`,
  );

export const elfBadRange = (what: string) =>
  new HotdumpError("elf", "E_ELF_RANGE", `invalid request: ${what}`);
