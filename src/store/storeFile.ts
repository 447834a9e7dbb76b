/**
 * Reading a file of the store without following a symlink. hotdump itself writes only regular
 * files and directories there, so a symlink is something planted: through `crashes/<id>/core.zst`
 * -> /etc/shadow the dashboard once served root's password hashes as a core. The file is opened
 * with O_NOFOLLOW (and O_NONBLOCK, so a FIFO cannot hang the open), checked to be a regular file
 * through its fd, and its bundle directory and crashes/ must not be symlinks either.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { HotdumpError } from "../errors.js";

const FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

const storeFileRefused = (path: string, why: string) =>
  new HotdumpError(
    "store",
    "E_STORE_LINK",
    `refusing ${path}: ${why} (hotdump writes none there; remove it)`,
  );

/** An fd of a regular store file; throws E_STORE_LINK for a symlink or anything not a file. */
export function openStoreFile(path: string): number {
  for (const d of [dirname(path), dirname(dirname(path))]) {
    let st: ReturnType<typeof lstatSync> | undefined;
    try {
      st = lstatSync(d);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) throw storeFileRefused(path, `${d} is a symbolic link`);
  }
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") throw storeFileRefused(path, "it is a symbolic link");
    throw e;
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw storeFileRefused(path, "it is not a regular file");
  }
  return fd;
}

export function readStoreFile(path: string): Buffer;
export function readStoreFile(path: string, encoding: BufferEncoding): string;
export function readStoreFile(path: string, encoding?: BufferEncoding): Buffer | string {
  const fd = openStoreFile(path);
  try {
    return encoding ? readFileSync(fd, encoding) : readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
