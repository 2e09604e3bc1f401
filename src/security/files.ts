import { chmodSync, mkdirSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { replaceFileAtomic, writeAll } from "../util/atomic-file.js";

/**
 * Creates expflow's home directory with mode 0700, or tightens an existing one that others can
 * read or write, since it holds the PIN hash, the lockout state and the audit log.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if ((mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

/**
 * Writes a file atomically with mode 0600 (temporary file, fsync, rename) in a private (0700)
 * directory. A reader sees the old content or the new, never a mix.
 */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  ensurePrivateDir(dirname(path));
  replaceFileAtomic(path, (fd) => writeAll(fd, data), { mode });
}

/** Removes a file; `false` when it did not exist. */
export function removeFile(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}
