import { chmodSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "../core/errors.js";
import { replaceFileAtomic, writeAll } from "../util/atomic-file.js";
import { makeDirs, storageError } from "../util/fs-errors.js";

/**
 * Creates expflow's home directory (and missing parents) with mode 0700, since it holds the PIN
 * hash, the lockout state and the audit log; an existing one that others can only read is
 * tightened to 0700. An existing one that group or others can write to is refused, never
 * chmod'ed (as ssh refuses such a directory): it may be shared on purpose (a 1777 directory
 * keeps its sticky bit), and anyone could have replaced what is in it.
 *
 * @throws {UsageError} `E_HOME_UNSAFE` (exit 2) for a group- or world-writable directory;
 *   `E_NOT_DIRECTORY` / `E_IS_DIRECTORY` (exit 2) when a file is in the way;
 *   {@link BackendError} (exit 4) when it cannot be created (full, read-only, no permission).
 */
export function ensurePrivateDir(dir: string): void {
  let mode: number;
  try {
    if (makeDirs(dir, 0o700)) return;
    const st = statSync(dir);
    if (!st.isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    mode = st.mode & 0o7777;
  } catch (e) {
    throw storageError(e, dir, "creating");
  }
  if ((mode & 0o022) !== 0) {
    throw new UsageError(
      "E_HOME_UNSAFE",
      `${dir} is writable by ${(mode & 0o002) !== 0 ? "others" : "its group"} (mode ${mode.toString(8).padStart(4, "0")}): expflow keeps its PIN hash and audit log only in a private directory`,
      { hint: `run \`chmod go-w ${dir}\` if it is yours alone, or set EXPFLOW_HOME to a private directory` },
    );
  }
  if ((mode & 0o077) !== 0) {
    try {
      chmodSync(dir, mode & 0o7700);
    } catch (e) {
      throw storageError(e, dir, "securing");
    }
  }
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
